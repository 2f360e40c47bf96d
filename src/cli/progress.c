/* Progress reporting for long operations.
 *
 * On a terminal: one line on stderr, redrawn in place with \r at most four
 * times a second and erased at the end, so the final output is only what
 * the command prints. With --json: a {"type":"progress",...} line on
 * stderr at most once a second. Warnings go through the same mutex so a
 * warning never lands in the middle of the progress line.
 *
 * The vault may call the callbacks from worker threads; everything that
 * touches the terminal holds p->mu. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli_internal.h"

#define TTY_INTERVAL 0.25
#define JSON_INTERVAL 1.0
/* Do not flash a line for operations that end almost at once. */
#define TTY_FIRST_DRAW 0.5

/* Set while a progress line is on the terminal, for the signal handler. */
static volatile sig_atomic_t g_line_drawn;

double stow_cli_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void stow_cli_progress_init(stow_cli_progress *p, const stow_cli *cli,
			    const char *op)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->mu, NULL);
	p->op = op;
	p->start = stow_cli_monotonic();
	if (cli->quiet)
		p->mode = STOW_CLI_PROGRESS_OFF;
	else if (cli->json)
		p->mode = STOW_CLI_PROGRESS_JSON;
	else if (isatty(STDERR_FILENO))
		p->mode = STOW_CLI_PROGRESS_TTY;
	else
		p->mode = STOW_CLI_PROGRESS_OFF;
}

static int terminal_width(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return 80;
}

/* Caller holds p->mu. */
static void clear_locked(stow_cli_progress *p)
{
	if (!p->drawn)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	p->drawn = false;
	g_line_drawn = 0;
}

static double rate_of(const stow_progress *pr)
{
	return pr->elapsed > 0.05 ? (double)pr->bytes_done / pr->elapsed : 0;
}

static void draw_tty(stow_cli_progress *p, const stow_progress *pr)
{
	char line[256], done[32], total[32], rate[32], el[32], eta[48];
	double r = rate_of(pr);
	int n, width = terminal_width();

	stow_cli_human_size(done, sizeof(done), pr->bytes_done);
	stow_cli_human_size(total, sizeof(total), pr->bytes_total);
	stow_cli_human_size(rate, sizeof(rate), (uint64_t)r);
	stow_cli_human_duration(el, sizeof(el), pr->elapsed);
	if (pr->bytes_total > 0) {
		double pct =
		    100.0 * (double)pr->bytes_done / (double)pr->bytes_total;

		if (pct > 100)
			pct = 100;
		eta[0] = 0;
		if (r > 0 && pr->bytes_total > pr->bytes_done) {
			char d[32];

			stow_cli_human_duration(
			    d, sizeof(d),
			    (double)(pr->bytes_total - pr->bytes_done) / r);
			snprintf(eta, sizeof(eta), "  ETA %s", d);
		}
		n = snprintf(line, sizeof(line),
			     "[%s] %5.1f%%  %s / %s  %" PRIu64 " / %" PRIu64
			     " files  %s/s%s",
			     el, pct, done, total, pr->files_done,
			     pr->files_total, rate, eta);
	} else {
		n = snprintf(line, sizeof(line),
			     "[%s] %s  %" PRIu64 " files  %s/s", el, done,
			     pr->files_done, rate);
	}
	if (n > 0 && pr->errors > 0 && (size_t)n < sizeof(line))
		snprintf(line + n, sizeof(line) - (size_t)n,
			 "  %" PRIu64 " errors", pr->errors);
	/* A line wider than the terminal wraps, and \r then only returns to
	 * the start of the last row: cut it to fit. */
	if (width - 1 < (int)sizeof(line))
		line[width - 1] = 0;
	fprintf(stderr, "\r%s\033[K", line);
	fflush(stderr);
	p->drawn = true;
	g_line_drawn = 1;
}

static void emit_json(stow_cli_progress *p, const stow_progress *pr)
{
	double r = rate_of(pr);
	json_t *o = json_pack(
	    "{s:s, s:s, s:f, s:I, s:I, s:I, s:I, s:I, s:I}", "type", "progress",
	    "op", p->op, "elapsed", pr->elapsed, "files_done",
	    (json_int_t)pr->files_done, "files_total",
	    (json_int_t)pr->files_total, "bytes_done",
	    (json_int_t)pr->bytes_done, "bytes_total",
	    (json_int_t)pr->bytes_total, "errors", (json_int_t)pr->errors,
	    "bytes_per_second", (json_int_t)r);

	if (o == NULL)
		return;
	if (pr->bytes_total > 0) {
		json_object_set_new(o, "percent",
				    json_real(100.0 * (double)pr->bytes_done /
					      (double)pr->bytes_total));
		if (r > 0 && pr->bytes_total > pr->bytes_done)
			json_object_set_new(o, "eta_seconds",
					    json_real((double)(pr->bytes_total -
							       pr->bytes_done) /
						      r));
	}
	json_dumpf(o, stderr, JSON_COMPACT | JSON_REAL_PRECISION(6));
	fputc('\n', stderr);
	fflush(stderr);
	json_decref(o);
}

void stow_cli_progress_update(void *ctx, const stow_progress *pr)
{
	stow_cli_progress *p = ctx;
	double now = stow_cli_monotonic();

	pthread_mutex_lock(&p->mu);
	p->last = *pr;
	switch (p->mode) {
	case STOW_CLI_PROGRESS_TTY:
		if (pr->done)
			clear_locked(p);
		else if (now - p->start >= TTY_FIRST_DRAW &&
			 now - p->last_draw >= TTY_INTERVAL) {
			draw_tty(p, pr);
			p->last_draw = now;
		}
		break;
	case STOW_CLI_PROGRESS_JSON:
		if (pr->done || now - p->last_draw >= JSON_INTERVAL) {
			emit_json(p, pr);
			p->last_draw = now;
		}
		break;
	default: break;
	}
	pthread_mutex_unlock(&p->mu);
}

void stow_cli_progress_line(stow_cli_progress *p, FILE *f, const char *prefix,
			    const char *msg)
{
	pthread_mutex_lock(&p->mu);
	clear_locked(p);
	if (prefix)
		fputs(prefix, f);
	stow_cli_print_escaped(f, msg, strlen(msg));
	fputc('\n', f);
	fflush(f);
	pthread_mutex_unlock(&p->mu);
}

void stow_cli_progress_warn(void *ctx, const char *msg)
{
	stow_cli_progress *p = ctx;

	if (p->mode == STOW_CLI_PROGRESS_JSON) {
		_cleanup_(stow_buf_freep) stow_buf b;
		json_t *o;

		/* Escaped first: JSON strings must be UTF-8, names need not. */
		stow_buf_init(&b, 0);
		if (stow_cli_escape(&b, msg, strlen(msg)) < 0)
			return;
		o = json_pack("{s:s, s:s, s:s}", "type", "warning", "op", p->op,
			      "message", (const char *)b.data);
		pthread_mutex_lock(&p->mu);
		if (o) {
			json_dumpf(o, stderr, JSON_COMPACT);
			fputc('\n', stderr);
			fflush(stderr);
		}
		pthread_mutex_unlock(&p->mu);
		json_decref(o);
		return;
	}
	stow_cli_progress_line(p, stderr, "warning: ", msg);
}

void stow_cli_progress_clear(stow_cli_progress *p)
{
	pthread_mutex_lock(&p->mu);
	clear_locked(p);
	pthread_mutex_unlock(&p->mu);
}

void stow_cli_progress_destroy(stow_cli_progress *p)
{
	stow_cli_progress_clear(p);
	pthread_mutex_destroy(&p->mu);
}

void stow_cli_progress_on_signal(void)
{
	static const char erase[] = "\r\033[K";

	if (g_line_drawn) {
		ssize_t w = write(STDERR_FILENO, erase, sizeof(erase) - 1);

		(void)w;
		g_line_drawn = 0;
	}
}
