/* Where passwords come from (docs/cli.md, "Selecting the repository and
 * the password"), and the no-echo prompt.
 *
 * Passwords live in malloc'd buffers that are zeroed before they are
 * freed; they are never printed. The terminal state changed by the prompt
 * is kept in a static so the signal handler can put it back. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli_internal.h"
#include "crypto/crypto.h"

#define PASSWORD_MAX 4096

static struct termios g_saved_tty;
static volatile sig_atomic_t g_tty_saved;

int stow_cli_tty_restore_on_signal(void)
{
	if (!g_tty_saved)
		return 0;
	tcsetattr(STDIN_FILENO, TCSANOW, &g_saved_tty);
	g_tty_saved = 0;
	return 1;
}

void stow_cli_password_free(char *pw)
{
	if (pw == NULL)
		return;
	stow_secure_zero(pw, strlen(pw));
	free(pw);
}

static char *dup_secret(const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		fprintf(stderr, "stowage: out of memory\n");
	return d;
}

/* First line of `path`, trailing "\n" or "\r\n" removed. */
static int read_password_file(stow_cli *cli, const char *path, char **out)
{
	char buf[PASSWORD_MAX + 2];
	size_t n = 0;
	ssize_t r;
	char *nl;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "%s: cannot read password file %s: %s\n",
			cli->prog, path, strerror(errno));
		return STOW_EXIT_ERROR;
	}
	while (n < sizeof(buf) - 1) {
		r = read(fd, buf + n, sizeof(buf) - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "%s: reading password file %s: %s\n",
				cli->prog, path, strerror(errno));
			close(fd);
			stow_secure_zero(buf, sizeof(buf));
			return STOW_EXIT_ERROR;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (memchr(buf, '\n', n))
			break;
	}
	close(fd);
	buf[n] = 0;
	nl = memchr(buf, '\n', n);
	if (nl == NULL && n > PASSWORD_MAX) {
		stow_secure_zero(buf, sizeof(buf));
		fprintf(stderr,
			"%s: the first line of password file %s is longer than "
			"%d bytes\n",
			cli->prog, path, PASSWORD_MAX);
		return STOW_EXIT_ERROR;
	}
	if (nl) {
		*nl = 0;
		n = (size_t)(nl - buf);
	}
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = 0;
	if (n == 0 || memchr(buf, 0, n) != NULL) {
		stow_secure_zero(buf, sizeof(buf));
		fprintf(stderr, "%s: password file %s: %s\n", cli->prog, path,
			n ? "the first line holds a NUL byte"
			  : "the first line is empty");
		return STOW_EXIT_ERROR;
	}
	*out = dup_secret(buf);
	stow_secure_zero(buf, sizeof(buf));
	return *out ? 0 : STOW_EXIT_ERROR;
}

/* Read one line from the terminal on stdin with echo off. */
static int prompt_no_echo(stow_cli *cli, const char *prompt, char **out)
{
	char buf[PASSWORD_MAX + 1];
	struct termios raw;
	size_t n = 0;
	bool eof = false, too_long = false;
	char c;

	fputs(prompt, stderr);
	fflush(stderr);
	if (tcgetattr(STDIN_FILENO, &g_saved_tty) == 0) {
		raw = g_saved_tty;
		raw.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
		g_tty_saved = 1;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw);
	}
	for (;;) {
		ssize_t r = read(STDIN_FILENO, &c, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			eof = true;
			break;
		}
		if (c == '\n' || c == '\r')
			break;
		if (n < PASSWORD_MAX)
			buf[n++] = c;
		else
			too_long = true;
	}
	buf[n] = 0;
	if (g_tty_saved) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved_tty);
		g_tty_saved = 0;
	}
	/* Echo was off, so the user's Enter did not move the cursor. */
	fputc('\n', stderr);
	if (too_long || (eof && n == 0) || n == 0) {
		stow_secure_zero(buf, sizeof(buf));
		fprintf(stderr, "%s: %s\n", cli->prog,
			too_long ? "the password is too long"
				 : "no password entered");
		return STOW_EXIT_ERROR;
	}
	*out = dup_secret(buf);
	stow_secure_zero(buf, sizeof(buf));
	return *out ? 0 : STOW_EXIT_ERROR;
}

int stow_cli_password(stow_cli *cli, const char *location, char **out)
{
	const char *env;
	char prompt[512];

	*out = NULL;
	if (cli->password_file)
		return read_password_file(cli, cli->password_file, out);
	env = getenv("STOWAGE_PASSWORD");
	if (env && env[0]) {
		*out = dup_secret(env);
		return *out ? 0 : STOW_EXIT_ERROR;
	}
	if (!isatty(STDIN_FILENO)) {
		fprintf(stderr,
			"%s: no password given: use --password-file or "
			"STOWAGE_PASSWORD (or run on a terminal to be asked)\n",
			cli->prog);
		return STOW_EXIT_USAGE;
	}
	snprintf(prompt, sizeof(prompt),
		 "Password for the repository at %s: ", location);
	return prompt_no_echo(cli, prompt, out);
}

int stow_cli_new_password(stow_cli *cli, const char *file,
			  bool current_fallback, char **out)
{
	_cleanup_(stow_cli_password_freep) char *a = NULL;
	_cleanup_(stow_cli_password_freep) char *b = NULL;
	const char *env;
	int rc;

	*out = NULL;
	if (file)
		return read_password_file(cli, file, out);
	env = getenv("STOWAGE_NEW_PASSWORD");
	if (env && env[0]) {
		*out = dup_secret(env);
		return *out ? 0 : STOW_EXIT_ERROR;
	}
	if (current_fallback) {
		if (cli->password_file)
			return read_password_file(cli, cli->password_file, out);
		env = getenv("STOWAGE_PASSWORD");
		if (env && env[0]) {
			*out = dup_secret(env);
			return *out ? 0 : STOW_EXIT_ERROR;
		}
	}
	if (!isatty(STDIN_FILENO)) {
		fprintf(stderr,
			"%s: no new password given: use --new-password-file or "
			"STOWAGE_NEW_PASSWORD%s (or run on a terminal to be "
			"asked)\n",
			cli->prog,
			current_fallback
			    ? ", --password-file or STOWAGE_PASSWORD"
			    : "");
		return STOW_EXIT_USAGE;
	}
	rc = prompt_no_echo(cli, "New password: ", &a);
	if (rc)
		return rc;
	rc = prompt_no_echo(cli, "Repeat the new password: ", &b);
	if (rc)
		return rc;
	if (strcmp(a, b) != 0) {
		fprintf(stderr,
			"%s: the two passwords differ; nothing changed\n",
			cli->prog);
		return STOW_EXIT_ERROR;
	}
	*out = STOW_TAKE_PTR(a);
	return 0;
}
