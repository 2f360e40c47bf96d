/* The text of the messages that long operations hand to their warn and
 * problem callbacks (check, restore): "<path>: <text>", with the path
 * escaped so that a hostile name cannot break or forge a line. Internal
 * to the vault. */
#ifndef STOW_VAULT_OPMSG_H
#define STOW_VAULT_OPMSG_H

#include <stdarg.h>

#include "util/buf.h"

/* Append s with '\' as "\\" and the bytes below 0x20 and 0x7f as "\xNN";
 * every other byte (UTF-8 included) as it is. Errors are ignored: a
 * message that could not be built is dropped by stow_opmsg_vappend. */
void stow_opmsg_escape(stow_buf *b, const char *s);

/* Append "<escaped path>: " (the root "" as "/"; nothing for a NULL
 * path), then the formatted text, and NUL-terminate. Returns 0 when the
 * message is complete enough to hand on, else STOW_ENOMEM. */
int stow_opmsg_vappend(stow_buf *b, const char *path, const char *fmt,
		       va_list ap) __attribute__((format(printf, 3, 0)));

#endif
