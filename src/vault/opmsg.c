#include "vault/opmsg.h"

void stow_opmsg_escape(stow_buf *b, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\\')
			stow_buf_append(b, "\\\\", 2);
		else if (*p < 0x20 || *p == 0x7f)
			stow_buf_printf(b, "\\x%02x", *p);
		else
			stow_buf_append_u8(b, *p);
	}
}

int stow_opmsg_vappend(stow_buf *b, const char *path, const char *fmt,
		       va_list ap)
{
	if (path) {
		stow_opmsg_escape(b, *path ? path : "/");
		stow_buf_append(b, ": ", 2);
	}
	stow_buf_vprintf(b, fmt, ap);
	return stow_buf_append_str(b, "");
}
