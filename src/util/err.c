#include "util/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MSG_CAP 1024

static _Thread_local char tl_msg[MSG_CAP];
static _Thread_local int tl_errno;

int stow_err_set(int code, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tl_msg, sizeof(tl_msg), fmt, ap);
	va_end(ap);
	tl_errno = saved;
	return code;
}

int stow_err_wrap(int code, const char *fmt, ...)
{
	char prefix[MSG_CAP];
	char old[MSG_CAP];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, tl_msg, sizeof(old));
	/* prefix + ": " + old, truncated to the buffer. */
	{
		size_t pl = strlen(prefix), ol = strlen(old), n = 0;

		memcpy(tl_msg, prefix, pl);
		n = pl;
		if (ol && n + 2 < MSG_CAP) {
			memcpy(tl_msg + n, ": ", 2);
			n += 2;
			if (ol > MSG_CAP - 1 - n)
				ol = MSG_CAP - 1 - n;
			memcpy(tl_msg + n, old, ol);
			n += ol;
		}
		tl_msg[n] = '\0';
	}
	return code;
}

const char *stow_err_msg(void)
{
	return tl_msg;
}

int stow_err_errno(void)
{
	return tl_errno;
}

void stow_err_clear(void)
{
	tl_msg[0] = '\0';
	tl_errno = 0;
}

const char *stow_err_name(int code)
{
	switch (code) {
	case STOW_OK: return "ok";
	case STOW_ENOMEM: return "out of memory";
	case STOW_EIO: return "I/O error";
	case STOW_ENOTFOUND: return "not found";
	case STOW_EEXIST: return "already exists";
	case STOW_ECORRUPT: return "corrupt";
	case STOW_EAUTH: return "wrong password";
	case STOW_ELOCKED: return "locked";
	case STOW_ETIMEOUT: return "timed out";
	case STOW_ENOSPC: return "no space";
	case STOW_EINVAL: return "invalid input";
	case STOW_EUNSUPPORTED: return "unsupported";
	case STOW_EPARTIAL: return "partial";
	case STOW_EINTR: return "interrupted";
	case STOW_ECONFLICT: return "conflict";
	case STOW_EDENIED: return "access denied";
	default: return "unknown error";
	}
}
