/* The one error model of stowage.
 *
 * Every fallible function returns int: 0 (STOW_OK) on success or one of the
 * negative codes below. The code says *what kind* of failure happened, so a
 * caller can branch on it; the thread-local detail (a message, the errno or
 * HTTP status that caused it) says *what exactly*, so the CLI can print it.
 * Library code never prints: it records with stow_err_set() and returns.
 *
 * Thread safety: the detail is thread-local; codes are plain values. */
#ifndef STOW_UTIL_ERR_H
#define STOW_UTIL_ERR_H

#include <stddef.h>

enum {
	STOW_OK = 0,
	STOW_ENOMEM = -1,      /* allocation failed or a size cap was hit */
	STOW_EIO = -2,         /* the OS or the storage failed an operation */
	STOW_ENOTFOUND = -3,   /* object, file, snapshot or key absent */
	STOW_EEXIST = -4,      /* exclusive create found something there */
	STOW_ECORRUPT = -5,    /* stored bytes fail a MAC, a hash or a parse */
	STOW_EAUTH = -6,       /* no key slot opens with the given password */
	STOW_ELOCKED = -7,     /* someone else holds a lease */
	STOW_ETIMEOUT = -8,    /* a deadline passed */
	STOW_ENOSPC = -9,      /* the storage is full */
	STOW_EINVAL = -10,     /* the caller's input is invalid */
	STOW_EUNSUPPORTED = -11, /* a format version or algorithm we lack */
	STOW_EPARTIAL = -12,   /* the job finished but skipped some items */
	STOW_EINTR = -13,      /* interrupted by a signal */
	STOW_ECONFLICT = -14,  /* a concurrent writer changed it first (HTTP 409) */
	STOW_EDENIED = -15,    /* the server refused our credentials (401/403) */
};

/* Record the detail for `code` (printf-style) and return `code`, so that
 * `return stow_err_set(STOW_EINVAL, "bad tag %s", t);` reads naturally.
 * errno is captured as it is at the time of the call. */
int stow_err_set(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prefix the current detail with more context ("reading pack x: <old>"),
 * keeping the code. Returns `code`. */
int stow_err_wrap(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The detail of the last stow_err_set() on this thread ("" if none). */
const char *stow_err_msg(void);
/* errno captured by the last stow_err_set() on this thread (0 if none). */
int stow_err_errno(void);
/* Clear this thread's detail. */
void stow_err_clear(void);
/* A short fixed name for a code ("not found", "corrupt", ...). */
const char *stow_err_name(int code);

/* Propagate: evaluate, return the code if negative. */
#define STOW_TRY(expr)                                                         \
	do {                                                                   \
		int stow_try_rc_ = (expr);                                     \
		if (stow_try_rc_ < 0)                                          \
			return stow_try_rc_;                                   \
	} while (0)

#endif
