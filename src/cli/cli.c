/* `stowage <command> ...`: the command tree, dispatch, global options,
 * help texts, error-to-exit-code mapping and signal handling.
 *
 * The tree is a table: every node (stow_cli_cmd) is a group with
 * subcommands or a leaf with a handler, and carries its own help. Groups
 * are walked word by word; global options may appear anywhere before the
 * verb (taken here) or after it (merged into the leaf's getopt_long table
 * by stow_cli_opts_begin). New top-level commands (backup, restore,
 * schedule, server, ...) slot into root_subs[]. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli_internal.h"
#include "util/err.h"
#include "vault/lease.h"
#include "vault/snapshot.h"

#ifndef STOW_VERSION
#define STOW_VERSION "unknown"
#endif

/* Values of the global long options; command options stay below. */
enum {
	OPT_REPO = 0x1000,
	OPT_PASSWORD_FILE,
	OPT_JSON,
	OPT_QUIET,
	OPT_PARALLEL,
	OPT_HELP,
};

static const struct option global_longopts[] = {
    {"repo", required_argument, NULL, OPT_REPO},
    {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
    {"json", no_argument, NULL, OPT_JSON},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"parallel", required_argument, NULL, OPT_PARALLEL},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* Help texts are laid out as they print. */
/* clang-format off */
static const char global_options_help[] =
	"      --repo LOCATION       the repository: a directory path, file:///abs/path,\n"
	"                            s3://BUCKET/PREFIX?s3Url=URL&region=R&... (see\n"
	"                            docs/s3.md) or mem: (tests); default $STOWAGE_REPO\n"
	"      --password-file FILE  read the password from the first line of FILE\n"
	"      --json                progress, warnings and summaries as JSON lines on\n"
	"                            stderr; lists as JSON on stdout\n"
	"  -q, --quiet               print only results and errors\n"
	"      --parallel N          worker threads (default: the number of CPUs)\n"
	"  -h, --help                show this help\n";

static const char repo_env_help[] =
	"  STOWAGE_REPO          the repository, when --repo is not given\n"
	"  STOWAGE_PASSWORD      the password, when --password-file is not given;\n"
	"                        without either, stowage asks on the terminal\n";

static const char newpw_env_help[] =
	"  STOWAGE_NEW_PASSWORD  the new password, when --new-password-file is not\n"
	"                        given; without either, stowage asks twice on the\n"
	"                        terminal\n";
/* clang-format on */

/* --- signals -------------------------------------------------------------- */

/* SIGINT/SIGTERM end the process promptly with exit code 130. The vault
 * needs no cancellation for safety: every object reaches storage by an
 * atomic put (temp file + rename on the filesystem backend, a single PUT
 * on object stores), and a snapshot only becomes visible when its manifest
 * is written last, so a process ending at any instant leaves at most
 * unreferenced packs for `vault gc`. What must be undone: the terminal
 * echo turned off by a password prompt and a half-drawn progress line
 * (done in the handler, async-signal-safe), and the repository leases the
 * process holds (a backup's writer lease would otherwise block gc until it
 * expires). Deleting an object is not async-signal-safe, so the handler
 * only wakes a watcher thread through a pipe; the watcher gives the
 * leases back and exits. */
static int signal_pipe[2] = {-1, -1};
/* A long-running command (the server) that stops cleanly on its own. */
static volatile int *graceful_stop;

void stow_cli_set_graceful_stop(volatile int *flag)
{
	graceful_stop = flag;
}

static void on_signal(int sig)
{
	static const char msg[] = "\ninterrupted\n";
	unsigned char c = (unsigned char)sig;
	int at_prompt;
	ssize_t w;

	at_prompt = stow_cli_tty_restore_on_signal();
	stow_cli_progress_on_signal();
	/* Skip the leading newline unless the cursor sits after a prompt. */
	w = write(STDERR_FILENO, msg + !at_prompt,
		  sizeof(msg) - 1 - !at_prompt);
	(void)w;
	if (signal_pipe[1] < 0 || write(signal_pipe[1], &c, 1) != 1)
		_exit(STOW_EXIT_INTERRUPTED);
}

static void *signal_watcher(void *arg)
{
	unsigned char c;

	(void)arg;
	while (read(signal_pipe[0], &c, 1) < 0 && errno == EINTR)
		;
	if (graceful_stop) {
		/* First signal: ask the command to stop; a second one ends
		 * the process at once. */
		*graceful_stop = 1;
		while (read(signal_pipe[0], &c, 1) < 0 && errno == EINTR)
			;
	}
	stow_lease_abandon_all();
	_exit(STOW_EXIT_INTERRUPTED);
	return NULL;
}

static void install_signal_handlers(void)
{
	struct sigaction sa;

	static const int sigs[] = {SIGINT, SIGTERM};
	struct sigaction old;
	pthread_t watcher;
	size_t i;

	if (pipe2(signal_pipe, O_CLOEXEC) == 0) {
		if (pthread_create(&watcher, NULL, signal_watcher, NULL) == 0) {
			pthread_detach(watcher);
		} else {
			close(signal_pipe[0]);
			close(signal_pipe[1]);
			signal_pipe[0] = signal_pipe[1] = -1;
		}
	}
	/* A peer that closes a connection must be an error return, not a
	 * dead process (libcurl runs with CURLOPT_NOSIGNAL; OpenSSL writes to
	 * sockets), nor must a closed stdout pipe kill us mid-write. */
	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		/* A signal ignored by whoever started us (a shell's background
		 * job, nohup) stays ignored. */
		if (sigaction(sigs[i], NULL, &old) == 0 &&
		    old.sa_handler == SIG_IGN)
			continue;
		sigaction(sigs[i], &sa, NULL);
	}
}

/* --- help ----------------------------------------------------------------- */

static void print_help(const stow_cli *cli, const stow_cli_cmd *cmd,
		       const char *path, FILE *f)
{
	(void)cli;
	if (cmd->subs) {
		const stow_cli_cmd *const *s;
		int w = 0;

		for (s = cmd->subs; *s; s++)
			if ((int)strlen((*s)->name) > w)
				w = (int)strlen((*s)->name);
		fprintf(f, "Usage: %s <command> [options]\n\n", path);
		if (cmd->about)
			fprintf(f, "%s\n", cmd->about);
		fputs("Commands:\n", f);
		for (s = cmd->subs; *s; s++)
			fprintf(f, "  %-*s  %s\n", w, (*s)->name,
				(*s)->summary);
		if (cmd->options)
			fprintf(f, "\nOptions:\n%s", cmd->options);
		if (cmd->help_flags & STOW_CLI_HELP_OUTPUT)
			fprintf(f,
				"\nGlobal options (before or after the "
				"command):\n%s",
				global_options_help);
		if (cmd->help_flags & STOW_CLI_HELP_REPO)
			fprintf(f, "\nEnvironment:\n%s", repo_env_help);
		if (cmd->example)
			fprintf(f, "\nExample:\n%s", cmd->example);
		fprintf(f,
			"\nRun '%s <command> --help' for what a command does "
			"and its options.\n",
			path);
		return;
	}
	fprintf(f, "Usage: %s%s%s\n\n", path, cmd->args ? " " : "",
		cmd->args ? cmd->args : "");
	if (cmd->about)
		fprintf(f, "%s", cmd->about);
	fputs("\nOptions:\n", f);
	if (cmd->options)
		fputs(cmd->options, f);
	if (cmd->help_flags & (STOW_CLI_HELP_REPO | STOW_CLI_HELP_OUTPUT))
		fprintf(f,
			"\nGlobal options (before or after the command):\n%s",
			global_options_help);
	else
		fputs("  -h, --help                show this help\n", f);
	if (cmd->help_flags & (STOW_CLI_HELP_REPO | STOW_CLI_HELP_NEWPW) ||
	    cmd->env) {
		fputs("\nEnvironment:\n", f);
		if (cmd->help_flags & STOW_CLI_HELP_REPO)
			fputs(repo_env_help, f);
		if (cmd->help_flags & STOW_CLI_HELP_NEWPW)
			fputs(newpw_env_help, f);
		if (cmd->env)
			fputs(cmd->env, f);
	}
	if (cmd->example)
		fprintf(f, "\nExample:\n%s", cmd->example);
}

/* --- errors --------------------------------------------------------------- */

int stow_cli_usage_error(stow_cli *cli, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cli->path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", cli->path);
	return STOW_EXIT_USAGE;
}

int stow_cli_need_operands(stow_cli *cli, int argc, char **argv, int min,
			   int max)
{
	int n = argc - optind;

	if (n < min)
		return stow_cli_usage_error(
		    cli, "missing argument (usage: %s %s)", cli->path,
		    cli->cmd && cli->cmd->args ? cli->cmd->args : "");
	if (max >= 0 && n > max)
		return stow_cli_usage_error(cli, "unexpected argument '%s'",
					    argv[optind + max]);
	return 0;
}

int stow_cli_exit_code(int rc)
{
	switch (rc) {
	case STOW_OK: return STOW_EXIT_OK;
	case STOW_EAUTH: return STOW_EXIT_AUTH;
	case STOW_ENOTFOUND: return STOW_EXIT_NOTFOUND;
	case STOW_ELOCKED: return STOW_EXIT_LOCKED;
	case STOW_EPARTIAL: return STOW_EXIT_PARTIAL;
	case STOW_EINTR: return STOW_EXIT_INTERRUPTED;
	default: return STOW_EXIT_ERROR;
	}
}

int stow_cli_fail(stow_cli *cli, int rc)
{
	const char *msg = stow_err_msg();

	fprintf(stderr, "%s: ", cli->prog);
	/* Messages may quote names from the repository or the disk. */
	stow_cli_print_escaped(stderr, msg[0] ? msg : stow_err_name(rc),
			       strlen(msg[0] ? msg : stow_err_name(rc)));
	if (rc == STOW_ELOCKED)
		fputs(" (another operation holds the repository lock; retry "
		      "when it ends)",
		      stderr);
	fputc('\n', stderr);
	return stow_cli_exit_code(rc);
}

/* --- numbers -------------------------------------------------------------- */

static int parse_u64(const char *s, uint64_t *out, char **end)
{
	unsigned long long v;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, end, 10);
	if (errno)
		return -1;
	*out = v;
	return 0;
}

int stow_cli_parse_uint(stow_cli *cli, const char *opt, const char *s,
			uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	uint64_t v = 0;

	if (parse_u64(s, &v, &end) < 0 || *end || v < min || v > max)
		return stow_cli_usage_error(
		    cli,
		    "%s wants a whole number from %" PRIu64 " to %" PRIu64
		    ", not '%s'",
		    opt, min, max, s);
	*out = v;
	return 0;
}

int stow_cli_parse_size(stow_cli *cli, const char *opt, const char *s,
			uint64_t *out)
{
	char *end;
	uint64_t v, mul = 1;

	if (parse_u64(s, &v, &end) < 0)
		goto bad;
	switch (*end) {
	case 'k':
	case 'K':
		mul = 1ull << 10;
		end++;
		break;
	case 'm':
	case 'M':
		mul = 1ull << 20;
		end++;
		break;
	case 'g':
	case 'G':
		mul = 1ull << 30;
		end++;
		break;
	default: break;
	}
	/* Also accept "KiB" and "KB" spellings of the same powers of 1024. */
	if (mul > 1 && *end == 'i')
		end++;
	if (mul > 1 && (*end == 'B' || *end == 'b'))
		end++;
	if (*end || __builtin_mul_overflow(v, mul, out))
		goto bad;
	return 0;
bad:
	return stow_cli_usage_error(
	    cli,
	    "%s wants a size like 512K, 1M or 8M (powers of 1024), not '%s'",
	    opt, s);
}

/* --- option parsing ------------------------------------------------------- */

void stow_cli_opts_begin(stow_cli *cli, const char *shortopts,
			 const struct option *longopts)
{
	size_t n = 0, i;

	/* ':' first: report a missing argument as ':' rather than '?'. */
	snprintf(cli->shortopts, sizeof(cli->shortopts), ":%sqh",
		 shortopts ? shortopts : "");
	for (i = 0; longopts && longopts[i].name; i++) {
		if (n + 1 >= STOW_CLI_MAX_LONGOPTS)
			break;
		cli->longopts[n++] = longopts[i];
	}
	for (i = 0; global_longopts[i].name; i++) {
		if (n + 1 >= STOW_CLI_MAX_LONGOPTS)
			break;
		cli->longopts[n++] = global_longopts[i];
	}
	memset(&cli->longopts[n], 0, sizeof(cli->longopts[n]));
	/* 0 makes glibc's getopt re-initialise (we parse once per process
	 * today, but helpers may parse again). */
	optind = 0;
	opterr = 0;
}

static int set_parallel(stow_cli *cli, const char *s)
{
	uint64_t v = 0;

	if (stow_cli_parse_uint(cli, "--parallel", s, 1, 4096, &v))
		return STOW_EXIT_USAGE;
	cli->parallel = (unsigned)v;
	return 0;
}

int stow_cli_opts_next(stow_cli *cli, int argc, char **argv, int *exit_code)
{
	for (;;) {
		int c = getopt_long(argc, argv, cli->shortopts, cli->longopts,
				    NULL);
		const char *arg =
		    optind > 0 && optind <= argc ? argv[optind - 1] : "";

		switch (c) {
		case OPT_REPO: cli->repo = optarg; continue;
		case OPT_PASSWORD_FILE: cli->password_file = optarg; continue;
		case OPT_JSON: cli->json = true; continue;
		case 'q':
		case OPT_QUIET: cli->quiet = true; continue;
		case OPT_PARALLEL:
			if (set_parallel(cli, optarg)) {
				*exit_code = STOW_EXIT_USAGE;
				return STOW_CLI_OPTS_STOP;
			}
			continue;
		case 'h':
		case OPT_HELP:
			print_help(cli, cli->cmd, cli->path, stdout);
			*exit_code = STOW_EXIT_OK;
			return STOW_CLI_OPTS_STOP;
		case '?':
			if (optopt > 0 && optopt < 0x100)
				*exit_code = stow_cli_usage_error(
				    cli, "unknown option '-%c'", optopt);
			else if (optopt >= 0x100)
				*exit_code = stow_cli_usage_error(
				    cli, "option '%.*s' takes no value",
				    (int)strcspn(arg, "="), arg);
			else
				*exit_code = stow_cli_usage_error(
				    cli, "unknown option '%s'", arg);
			return STOW_CLI_OPTS_STOP;
		case ':':
			if (optopt > 0 && optopt < 0x100)
				*exit_code = stow_cli_usage_error(
				    cli, "option '-%c' needs a value", optopt);
			else
				*exit_code = stow_cli_usage_error(
				    cli, "option '%s' needs a value", arg);
			return STOW_CLI_OPTS_STOP;
		default: return c;
		}
	}
}

/* A global option before the verb, at argv[*i]. Returns 1 if taken (and
 * advances *i past its value), 0 if it is not a global option, or
 * STOW_CLI_OPTS_STOP with *exit_code set. */
static int take_global(stow_cli *cli, int argc, char **argv, int *i,
		       int *exit_code)
{
	const char *a = argv[*i], *val = NULL, *eq;
	size_t len;
	int k;

	if (strcmp(a, "-q") == 0) {
		cli->quiet = true;
		return 1;
	}
	if (strncmp(a, "--", 2) != 0)
		return 0;
	a += 2;
	eq = strchr(a, '=');
	len = eq ? (size_t)(eq - a) : strlen(a);
	for (k = 0; global_longopts[k].name; k++) {
		const struct option *o = &global_longopts[k];

		if (strlen(o->name) != len || strncmp(o->name, a, len) != 0)
			continue;
		if (o->has_arg == required_argument) {
			if (eq)
				val = eq + 1;
			else if (*i + 1 < argc)
				val = argv[++*i];
			else {
				*exit_code = stow_cli_usage_error(
				    cli, "option '--%s' needs a value",
				    o->name);
				return STOW_CLI_OPTS_STOP;
			}
		} else if (eq) {
			*exit_code = stow_cli_usage_error(
			    cli, "option '--%s' takes no value", o->name);
			return STOW_CLI_OPTS_STOP;
		}
		switch (o->val) {
		case OPT_REPO: cli->repo = val; break;
		case OPT_PASSWORD_FILE: cli->password_file = val; break;
		case OPT_JSON: cli->json = true; break;
		case OPT_QUIET: cli->quiet = true; break;
		case OPT_PARALLEL:
			if (set_parallel(cli, val)) {
				*exit_code = STOW_EXIT_USAGE;
				return STOW_CLI_OPTS_STOP;
			}
			break;
		default: return 0; /* --help: the caller's business */
		}
		return 1;
	}
	return 0;
}

/* --- the repository ------------------------------------------------------- */

const char *stow_cli_repo_location(stow_cli *cli)
{
	const char *loc = cli->repo;

	if (loc == NULL || loc[0] == 0)
		loc = getenv("STOWAGE_REPO");
	if (loc == NULL || loc[0] == 0) {
		stow_cli_usage_error(
		    cli, "no repository given: use --repo or STOWAGE_REPO");
		return NULL;
	}
	return loc;
}

static int no_repository(stow_cli *cli, const char *loc)
{
	fprintf(stderr,
		"%s: no repository at %s (create one with `%s vault init`)\n",
		cli->prog, loc, cli->prog);
	return STOW_EXIT_NOTFOUND;
}

int stow_cli_open_repo(stow_cli *cli, stow_repo **out)
{
	_cleanup_(stow_cli_password_freep) char *pw = NULL;
	const char *loc;
	stow_store *st = NULL;
	stow_repo *r = NULL;
	int rc;

	*out = NULL;
	loc = stow_cli_repo_location(cli);
	if (loc == NULL)
		return STOW_EXIT_USAGE;
	/* Open the store first: a missing repository is reported before
	 * anyone is asked for a password. */
	rc = stow_store_open(&st, loc, 0);
	/* Not found at the store level is the backend's own, more precise
	 * message ("no repository directory at ...", "bucket B does not
	 * exist at ..."): print that one. */
	if (rc == STOW_ENOTFOUND) {
		bool s3 = strncmp(loc, "s3://", 5) == 0;

		fprintf(stderr, "%s: %s%s%s%s\n", cli->prog, stow_err_msg(),
			s3 ? "" : " (create one with `", s3 ? "" : cli->prog,
			s3 ? "" : " vault init`)");
		return STOW_EXIT_NOTFOUND;
	}
	if (rc < 0)
		return stow_cli_fail(cli, rc);
	rc = stow_cli_password(cli, loc, &pw);
	if (rc) {
		stow_store_close(st);
		return rc;
	}
	rc = stow_repo_open(&r, st, pw); /* takes st, also on failure */
	if (rc == STOW_ENOTFOUND)
		return no_repository(cli, loc);
	if (rc == STOW_EAUTH) {
		fprintf(stderr,
			"%s: wrong password: no key slot of the repository at "
			"%s opens with it\n",
			cli->prog, loc);
		return STOW_EXIT_AUTH;
	}
	if (rc < 0)
		return stow_cli_fail(cli, rc);
	if (cli->parallel)
		stow_repo_set_parallel(r, cli->parallel);
	*out = r;
	return 0;
}

int stow_cli_output_format(stow_cli *cli, const char *o, bool *json)
{
	if (o == NULL)
		*json = cli->json;
	else if (strcmp(o, "json") == 0)
		*json = true;
	else if (strcmp(o, "table") == 0)
		*json = false;
	else
		return stow_cli_usage_error(
		    cli, "-o wants 'table' or 'json', not '%s'", o);
	return 0;
}

/* --- root commands -------------------------------------------------------- */

static const stow_cli_cmd root_cmd;

static int cmd_version(stow_cli *cli, int argc, char **argv)
{
	int c, ex = 0;

	stow_cli_opts_begin(cli, "", NULL);
	while ((c = stow_cli_opts_next(cli, argc, argv, &ex)) != -1)
		if (c == STOW_CLI_OPTS_STOP)
			return ex;
	if ((ex = stow_cli_need_operands(cli, argc, argv, 0, 0)))
		return ex;
	if (cli->json)
		printf("{\"version\":\"%s\",\"vault_format\":%d}\n",
		       STOW_VERSION, STOW_FORMAT_VERSION);
	else
		printf("%s %s\nvault format: %d\n", cli->prog, STOW_VERSION,
		       STOW_FORMAT_VERSION);
	return 0;
}

static const stow_cli_cmd *find_sub(const stow_cli_cmd *g, const char *name)
{
	const stow_cli_cmd *const *s;

	for (s = g->subs; s && *s; s++)
		if (strcmp((*s)->name, name) == 0)
			return *s;
	return NULL;
}

static int cmd_help(stow_cli *cli, int argc, char **argv)
{
	const stow_cli_cmd *cmd = &root_cmd;
	char path[sizeof(cli->path)];
	int c, ex = 0, i;

	stow_cli_opts_begin(cli, "", NULL);
	while ((c = stow_cli_opts_next(cli, argc, argv, &ex)) != -1)
		if (c == STOW_CLI_OPTS_STOP)
			return ex;
	snprintf(path, sizeof(path), "%s", cli->prog);
	for (i = optind; i < argc; i++) {
		const stow_cli_cmd *sub = find_sub(cmd, argv[i]);
		size_t l = strlen(path);

		if (sub == NULL)
			return stow_cli_usage_error(cli, "no command '%s %s'",
						    path, argv[i]);
		cmd = sub;
		snprintf(path + l, sizeof(path) - l, " %s", sub->name);
	}
	print_help(cli, cmd, path, stdout);
	return 0;
}

/* clang-format off */
static const stow_cli_cmd version_cmd = {
	.name = "version",
	.summary = "print the version of stowage and of the vault format",
	.about = "Print the version of this binary and the repository format\n"
		 "version it writes. With --json, one JSON object.\n",
	.options = "      --json                print a JSON object\n",
	.example = "  stowage version\n",
	.run = stow_vcli_version_run, /* Velero's Client/Server form as velero */
};

static const stow_cli_cmd help_cmd = {
	.name = "help",
	.args = "[command...]",
	.summary = "show the help of a command (same as <command> --help)",
	.about = "Show what a command does, its options, the environment it\n"
		 "reads and an example. `stowage help vault snapshot create` is\n"
		 "the same as `stowage vault snapshot create --help`.\n",
	.example = "  stowage help vault init\n",
	.run = cmd_help,
};

static const stow_cli_cmd *const root_subs[] = {
	&stow_cli_vault_cmd,
	&stow_cli_server_cmd,
	&stow_cli_backup_cmd, &stow_cli_restore_cmd, &stow_cli_schedule_cmd, &stow_cli_backup_location_cmd, &stow_cli_repo_cmd, &stow_cli_snapshot_location_cmd, &stow_cli_client_cmd, &stow_cli_get_cmd, &stow_cli_create_cmd, &stow_cli_describe_cmd, &stow_cli_delete_cmd,
	&version_cmd,
	&help_cmd,
	NULL,
};

static const stow_cli_cmd root_cmd = {
	.name = "stowage",
	.summary = "Kubernetes backup and restore",
	.about = "stowage backs up Kubernetes resources and volume data. Its repository\n"
		 "engine, the vault, stores snapshots of directory trees deduplicated,\n"
		 "compressed and encrypted, and can be used on its own through\n"
		 "`stowage vault`. `stowage server` runs the Velero-compatible\n"
		 "controllers; backup, restore, schedule and the other Velero verbs\n"
		 "talk to them through the cluster (invoked as `velero`, the binary\n"
		 "is Velero's CLI).\n",
	.example = "  stowage vault init --repo /srv/backup\n"
		   "  stowage vault snapshot create /home --repo /srv/backup\n",
	.help_flags = STOW_CLI_HELP_OUTPUT,
	.subs = root_subs,
};
/* clang-format on */

/* --- dispatch ------------------------------------------------------------- */

/* The binary is multi-call: the basename of argv[0] picks the program
 * name used in messages, and later, for helpers such as
 * `velero-restore-helper`, the command to start at. `velero` behaves
 * exactly as `stowage`, so scripts written for Velero's CLI keep working;
 * any other name (a renamed or versioned binary) is stowage too. */
static const char *program_name(const char *argv0)
{
	const char *base;

	if (argv0 == NULL || argv0[0] == 0)
		return "stowage";
	base = strrchr(argv0, '/');
	base = base ? base + 1 : argv0;
	if (strcmp(base, "velero") == 0)
		return "velero";
	return "stowage";
}

static void append_path(stow_cli *cli, const char *word)
{
	size_t l = strlen(cli->path);

	snprintf(cli->path + l, sizeof(cli->path) - l, " %s", word);
}

int stow_cli_main(int argc, char **argv)
{
	stow_cli cli;
	const stow_cli_cmd *cmd = &root_cmd;
	int i = 1, ex = 0, r;

	memset(&cli, 0, sizeof(cli));
	install_signal_handlers();
	cli.prog = program_name(argc > 0 ? argv[0] : NULL);
	snprintf(cli.path, sizeof(cli.path), "%s", cli.prog);
	cli.cmd = cmd;

	while (cmd->run == NULL) {
		const stow_cli_cmd *sub;

		/* Global options may come before the next word. */
		for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
			if (strcmp(argv[i], "--") == 0) {
				i++;
				break;
			}
			if (strcmp(argv[i], "-h") == 0 ||
			    strcmp(argv[i], "--help") == 0) {
				print_help(&cli, cmd, cli.path, stdout);
				return STOW_EXIT_OK;
			}
			if (cmd == &root_cmd &&
			    strcmp(argv[i], "--version") == 0) {
				char *vargv[] = {(char *)"version", NULL};

				return cmd_version(&cli, 1, vargv);
			}
			r = take_global(&cli, argc, argv, &i, &ex);
			if (r == STOW_CLI_OPTS_STOP)
				return ex;
			if (r == 0)
				return stow_cli_usage_error(
				    &cli,
				    "unknown option '%s' (a command's own "
				    "options go after the command)",
				    argv[i]);
		}
		if (i >= argc) {
			fprintf(stderr, "%s: missing command\n\n", cli.path);
			print_help(&cli, cmd, cli.path, stderr);
			return STOW_EXIT_USAGE;
		}
		sub = find_sub(cmd, argv[i]);
		if (sub == NULL)
			return stow_cli_usage_error(
			    &cli, "unknown command '%s'", argv[i]);
		cmd = sub;
		cli.cmd = cmd;
		append_path(&cli, cmd->name);
		i++;
	}
	/* The leaf sees its own name as argv[0], then what follows it. */
	return cmd->run(&cli, argc - (i - 1), argv + (i - 1));
}
