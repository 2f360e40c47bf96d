/* Internals shared by the files of the command-line interface:
 *
 *   cli.c        the command tree, dispatch, global options, help, error
 *                mapping, opening the repository, signals
 *   cmd_vault.c  `stowage vault <verb>`
 *   cmd_server.c `stowage server`
 *   password.c   password sources and the no-echo prompt
 *   progress.c   the progress line / JSON progress, warnings
 *   output.c     human sizes, times, name escaping, tables
 *
 * Every command handler returns a process exit code (STOW_EXIT_*), having
 * printed its own messages. Not thread-safe except where noted (the
 * progress reporter is). */
#ifndef STOW_CLI_INTERNAL_H
#define STOW_CLI_INTERNAL_H

#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cli/cli.h"
#include "util/buf.h"
#include "util/err.h"
#include "vault/ops.h"
#include "vault/vault.h"

typedef struct stow_cli stow_cli;

/* A command handler: argv[0] is the command's own name, argv[1..] its
 * arguments with the global options that came before the verb removed. */
typedef int (*stow_cli_run_fn)(stow_cli *cli, int argc, char **argv);

/* Shared sections a command's --help adds after its own options. */
enum {
	STOW_CLI_HELP_REPO = 1u << 0,	/* --repo, --password-file, env */
	STOW_CLI_HELP_NEWPW = 1u << 1,	/* --new-password-file, env */
	STOW_CLI_HELP_OUTPUT = 1u << 2, /* --json, -q, --parallel */
};

/* One node of the command tree. A group has subs and no run; a leaf has
 * run and no subs. Help text is built from the fields (cli.c). */
typedef struct stow_cli_cmd {
	const char *name;
	const char *args; /* usage after the command path: "<dir> [options]" */
	const char *summary; /* one line, for the parent's command list */
	const char *about;   /* what it does and why; paragraphs */
	const char *options; /* the command's own options, pre-formatted */
	const char *example; /* one or more example lines */
	const char *env;     /* extra environment variables, pre-formatted */
	unsigned help_flags; /* STOW_CLI_HELP_* */
	stow_cli_run_fn run; /* NULL for a group */
	const struct stow_cli_cmd *const *subs; /* NULL-terminated */
} stow_cli_cmd;

#define STOW_CLI_MAX_LONGOPTS 48

struct stow_cli {
	const char *prog; /* "stowage" (or "velero" when invoked so) */
	char path[192];	  /* "stowage vault snapshot create", for messages */
	const stow_cli_cmd *cmd;

	/* global options (before or after the verb) */
	const char *repo;
	const char *password_file;
	bool json, quiet;
	unsigned parallel; /* 0: the vault's default (the number of CPUs) */

	/* getopt_long state: the command's options merged with the globals */
	struct option longopts[STOW_CLI_MAX_LONGOPTS];
	char shortopts[64];
};

extern const stow_cli_cmd stow_cli_vault_cmd;
extern const stow_cli_cmd stow_cli_server_cmd;
extern const stow_cli_cmd stow_cli_backup_cmd, stow_cli_restore_cmd, stow_cli_schedule_cmd, stow_cli_backup_location_cmd, stow_cli_repo_cmd, stow_cli_snapshot_location_cmd, stow_cli_client_cmd, stow_cli_get_cmd, stow_cli_create_cmd, stow_cli_describe_cmd, stow_cli_delete_cmd; /* cmd_velero*.c */
int stow_vcli_version_run(stow_cli *cli, int argc, char **argv);

/* SIGINT/SIGTERM set *flag instead of ending the process (a second
 * signal still ends it). For commands that stop cleanly by themselves. */
void stow_cli_set_graceful_stop(volatile int *flag);

/* --- option parsing (cli.c) ----------------------------------------------- */

/* Returned by stow_cli_opts_next() when the command must stop: *exit_code
 * is then 0 (--help was printed) or STOW_EXIT_USAGE (message printed). */
#define STOW_CLI_OPTS_STOP (-2)

/* Start parsing a command's options: shortopts in getopt syntax without
 * a leading ':' (may be ""), longopts terminated by a zero entry, whose
 * `val` must be a short option letter or a value in [0x100, 0x1000). */
void stow_cli_opts_begin(stow_cli *cli, const char *shortopts,
			 const struct option *longopts);
/* The next command option (its `val`, with optarg set), -1 when done
 * (optind is then the first operand; operands are permuted to the end),
 * or STOW_CLI_OPTS_STOP. Global options are handled inside. */
int stow_cli_opts_next(stow_cli *cli, int argc, char **argv, int *exit_code);

/* Loop over a command's options: the body sees each option in c; --help
 * and usage errors return from the enclosing function with ex. */
#define PARSE_OPTIONS(cli, argc, argv, c, ex)                                  \
	while (((c) = stow_cli_opts_next((cli), (argc), (argv), &(ex))) != -1) \
		if ((c) == STOW_CLI_OPTS_STOP)                                 \
			return (ex);                                           \
		else

/* "<path>: <message>" and a hint to --help on stderr; returns
 * STOW_EXIT_USAGE. */
int stow_cli_usage_error(stow_cli *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Check the operand count; prints a usage error when outside [min, max]. */
int stow_cli_need_operands(stow_cli *cli, int argc, char **argv, int min,
			   int max);

/* Strict number parsing for option values; print a usage error naming
 * `opt` and return STOW_EXIT_USAGE on bad input, else 0. */
int stow_cli_parse_uint(stow_cli *cli, const char *opt, const char *s,
			uint64_t min, uint64_t max, uint64_t *out);
/* A size with an optional K, M or G suffix (powers of 1024). */
int stow_cli_parse_size(stow_cli *cli, const char *opt, const char *s,
			uint64_t *out);

/* --- errors and the repository (cli.c) ------------------------------------ */

/* Print "<prog>: <detail of rc>" and return the exit code for rc. */
int stow_cli_fail(stow_cli *cli, int rc);
/* The exit code for an error code (without printing). */
int stow_cli_exit_code(int rc);
/* --repo or $STOWAGE_REPO; NULL after printing a usage error. */
const char *stow_cli_repo_location(stow_cli *cli);
/* Open the repository with the current password. Returns an exit code;
 * on 0, *out is open and the caller closes it. */
int stow_cli_open_repo(stow_cli *cli, stow_repo **out);
/* Wants JSON output: -o json, or --json without -o. Parses the -o value;
 * STOW_EXIT_USAGE (printed) on anything but table or json. */
int stow_cli_output_format(stow_cli *cli, const char *o, bool *json);

/* --- passwords (password.c) ----------------------------------------------- */

/* The current password: --password-file, $STOWAGE_PASSWORD, or a no-echo
 * prompt when stdin is a terminal. Returns an exit code; on 0 *out is
 * the password, freed with stow_cli_password_free(). */
int stow_cli_password(stow_cli *cli, const char *location, char **out);
/* A new password: `file` (--new-password-file), $STOWAGE_NEW_PASSWORD,
 * then (only when `current_fallback`) the current-password sources, else a
 * prompt asked twice. Empty passwords are refused. */
int stow_cli_new_password(stow_cli *cli, const char *file,
			  bool current_fallback, char **out);
/* Zero and free (NULL is fine). */
void stow_cli_password_free(char *pw);
static inline void stow_cli_password_freep(char **pw)
{
	stow_cli_password_free(*pw);
}
/* Async-signal-safe: put the terminal back if a prompt turned echo off;
 * 1 if it did (the cursor is then still on the prompt line). */
int stow_cli_tty_restore_on_signal(void);

/* --- progress (progress.c) ------------------------------------------------ */

enum {
	STOW_CLI_PROGRESS_OFF = 0,
	STOW_CLI_PROGRESS_TTY = 1,  /* one line on stderr, redrawn with \r */
	STOW_CLI_PROGRESS_JSON = 2, /* JSON lines on stderr */
};

typedef struct stow_cli_progress {
	pthread_mutex_t mu;
	int mode;
	const char *op;	  /* "backup", "restore", "check" */
	double start;	  /* monotonic seconds */
	double last_draw; /* monotonic seconds of the last line */
	bool drawn;	  /* a TTY line is on screen now */
	stow_progress last;
} stow_cli_progress;

void stow_cli_progress_init(stow_cli_progress *p, const stow_cli *cli,
			    const char *op);
/* A stow_progress_cb (ctx: the stow_cli_progress). Thread-safe. */
void stow_cli_progress_update(void *ctx, const stow_progress *pr);
/* A stow_warn_cb: "warning: <msg>" (or a JSON line) on stderr, without
 * tearing the progress line. Thread-safe. */
void stow_cli_progress_warn(void *ctx, const char *msg);
/* Print one line (escaped) on `f`, clearing the progress line first.
 * Thread-safe. */
void stow_cli_progress_line(stow_cli_progress *p, FILE *f, const char *prefix,
			    const char *msg);
/* Erase the line; keeps the reporter usable. */
void stow_cli_progress_clear(stow_cli_progress *p);
void stow_cli_progress_destroy(stow_cli_progress *p);
/* Async-signal-safe: erase a progress line if one is drawn. */
void stow_cli_progress_on_signal(void);
double stow_cli_monotonic(void);

/* --- output (output.c) ---------------------------------------------------- */

/* "0 B", "512 B", "1.5 KiB", "3.2 GiB" (powers of 1024). */
void stow_cli_human_size(char *out, size_t n, uint64_t bytes);
/* "1.2s", "3m04s", "2h03m". */
void stow_cli_human_duration(char *out, size_t n, double seconds);
/* Local time "YYYY-MM-DD HH:MM:SS". */
void stow_cli_local_time(char *out, size_t n, int64_t sec);
/* Append s[0..n) with every byte that could mislead a reader escaped:
 * control bytes, DEL, invalid UTF-8, C1 controls and bidi/line-separator
 * code points as \xNN per byte, backslash as \\. Printable ASCII and
 * valid UTF-8 pass through. The result never contains a newline. */
int stow_cli_escape(stow_buf *out, const void *s, size_t n);
/* Write s[0..n) escaped to f. */
void stow_cli_print_escaped(FILE *f, const void *s, size_t n);
/* "drwxr-xr-x" from a node type and permission bits (out: 11 bytes). */
void stow_cli_mode_string(char out[11], unsigned type, uint32_t mode);

/* A text table: columns sized to their widest cell, two spaces apart,
 * no trailing blanks. Cells are copied. */
typedef struct stow_cli_table {
	size_t ncols;
	unsigned right; /* bit i: right-align column i (numbers) */
	stow_buf cells; /* char * per cell, row-major; row 0: headers */
	size_t nrows;
} stow_cli_table;

int stow_cli_table_init(stow_cli_table *t, size_t ncols, unsigned right,
			const char *const *headers);
/* Add a row of ncols cells. */
int stow_cli_table_add(stow_cli_table *t, const char *const *cells);
void stow_cli_table_print(const stow_cli_table *t, FILE *f);
void stow_cli_table_free(stow_cli_table *t);

#endif
