/* Shared pieces of the Velero-compatible commands (`backup`, `restore`,
 * `schedule`, `backup-location`, `version`): cluster access through the
 * API in the Velero namespace, Velero's flag syntaxes (comma lists,
 * key=value maps, optional booleans, Go durations, label selectors), the
 * -o table|json|yaml printers, kubectl-style tables and times, and
 * DownloadRequest fetching.
 *
 *   cmd_velero.c         these helpers and `version`
 *   cmd_velero_backup.c  `backup ...` and `schedule ...`
 *   cmd_velero_restore.c `restore ...`
 *   cmd_velero_bsl.c     `backup-location ...`
 *
 * The CLI only creates, reads, patches and deletes velero.io objects; the
 * server (src/velero) does the work. Handlers return process exit codes
 * having printed their own messages. Not thread-safe (one command per
 * process). */
#ifndef STOW_CLI_CMD_VELERO_H
#define STOW_CLI_CMD_VELERO_H

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cli/cli_internal.h"
#include "kube/kube.h"
#include "util/buf.h"

/* Option values shared by every Velero command (command options use
 * values from 0x100 up to 0x17f). */
enum {
	STOW_VCLI_OPT_KUBECONFIG = 0x180,
	STOW_VCLI_OPT_KUBECONTEXT,
	STOW_VCLI_OPT_FEATURES,
	STOW_VCLI_OPT_COLORIZED,
};

/* Velero's global flags, accepted by every command (after the verb). */
#define STOW_VCLI_COMMON_LONGOPTS                                              \
	{"namespace", required_argument, NULL, 'n'},                           \
	    {"kubeconfig", required_argument, NULL, STOW_VCLI_OPT_KUBECONFIG}, \
	    {"kubecontext", required_argument, NULL,                           \
	     STOW_VCLI_OPT_KUBECONTEXT},                                       \
	    {"features", required_argument, NULL, STOW_VCLI_OPT_FEATURES},     \
	{                                                                      \
		"colorized", optional_argument, NULL, STOW_VCLI_OPT_COLORIZED  \
	}

/* Help lines for those flags. */
#define STOW_VCLI_COMMON_HELP                                                  \
	"  -n, --namespace NS        the Velero namespace (default "           \
	"$VELERO_NAMESPACE,\n"                                                 \
	"                            the client config's namespace, else "     \
	"velero)\n"                                                            \
	"      --kubeconfig FILE     kubeconfig (default $KUBECONFIG, "        \
	"~/.kube/config)\n"                                                    \
	"      --kubecontext NAME    its context to use\n"

/* Output formats of -o. */
enum { STOW_VCLI_TABLE, STOW_VCLI_JSON, STOW_VCLI_YAML };

typedef struct stow_vcli {
	stow_cli *cli;
	const char *ns_flag; /* -n */
	const char *kubeconfig, *kubecontext;
	char *namespace; /* resolved by stow_vcli_connect */
	stow_kube *k;
} stow_vcli;

void stow_vcli_init(stow_vcli *v, stow_cli *cli);
void stow_vcli_done(stow_vcli *v);
/* Take a common option; 1 if c was one. */
int stow_vcli_common_opt(stow_vcli *v, int c, const char *arg);
/* Resolve the namespace (-n, $VELERO_NAMESPACE, the "namespace" of
 * ~/.config/velero/config.json, "velero") and create the client. Returns
 * an exit code (message printed). */
int stow_vcli_connect(stow_vcli *v);
/* Only the namespace (for objects printed with -o, not created). */
int stow_vcli_resolve_namespace(stow_vcli *v);
/* For a create command: only the namespace when print_only (-o json|yaml
 * prints the object without the cluster), else connect and look up the
 * resource plural into *r. Exit code. */
int stow_vcli_open_for_create(stow_vcli *v, bool print_only, const char *plural,
			      const stow_kube_resource **r);
/* The velero.io/v1 resource `plural` ("backups"), or NULL if the CLI
 * does not know it. */
const stow_kube_resource *stow_vcli_kind(const char *plural);
/* The same as an exit-code-returning step (always 0 for known kinds). */
int stow_vcli_resource(stow_vcli *v, const char *plural,
		       const stow_kube_resource **out);
/* "An error occurred: <message>" (Velero's form), then the hint line if
 * any; returns the exit code for rc. */
int stow_vcli_fail(stow_vcli *v, int rc, const char *hint);

/* --- flag syntaxes ----------------------------------------------------------
 */

/* Append the comma-separated values of s to the array *arr (created on
 * first use), as Velero's repeatable StringArray flags. */
int stow_vcli_add_list(json_t **arr, const char *s);
/* Add "k1<kv>v1,k2<kv>v2" to the object *obj (created on first use).
 * Returns an exit code (usage error printed, naming opt). */
int stow_vcli_add_map(stow_cli *cli, const char *opt, json_t **obj,
		      const char *s, char kv);
/* An optional boolean flag (--flag, --flag=true, --flag=false): *out
 * becomes true/false. Exit code. */
int stow_vcli_parse_bool(stow_cli *cli, const char *opt, const char *arg,
			 int *out);
/* A Go duration for a flag, normalised as Go prints it ("24h" ->
 * "24h0m0s"). Exit code. */
int stow_vcli_parse_duration(stow_cli *cli, const char *opt, const char *arg,
			     char out[40]);
/* A --timeout duration as whole seconds (at least 1). Exit code. */
int stow_vcli_parse_timeout(stow_cli *cli, const char *opt, const char *arg,
			    long *secs);
/* A Kubernetes label selector ("app=web,tier in (a,b),!old") as a
 * LabelSelector object (matchLabels / matchExpressions), as Velero's
 * metav1.ParseToLabelSelector. Exit code. */
int stow_vcli_parse_selector(stow_cli *cli, const char *opt, const char *s,
			     json_t **out);
/* "a=b or c=d" as an array of LabelSelectors. Exit code. */
int stow_vcli_parse_or_selector(stow_cli *cli, const char *s, json_t **out);
/* A LabelSelector as its string ("app=web", "<none>" when empty). */
void stow_vcli_format_selector(stow_buf *out, const json_t *sel);
/* -o: "table" (or NULL), "json", "yaml". Exit code. */
int stow_vcli_parse_output(stow_cli *cli, const char *o, int *fmt);

/* --- printing ----------------------------------------------------------------
 */

/* obj as JSON (indented 4, as Velero) or YAML, on stdout. */
void stow_vcli_print_obj(const json_t *obj, int fmt);
/* Velero prints a one-item list as the item, else a <Kind>List. */
void stow_vcli_print_list(const char *list_kind, json_t *items, int fmt);
/* A table as kubectl prints it: upper-case headers, columns padded with
 * three spaces. rows: array of arrays of strings; row 0 the headers. */
void stow_vcli_print_table(const json_t *rows);
/* Add a row of n C strings to rows. */
void stow_vcli_table_row(json_t *rows, size_t n, const char *const *cells);

/* RFC 3339 time -> seconds since the epoch; -1 when absent or bad. */
int64_t stow_vcli_parse_time(const char *s);
/* A time as Go prints a time.Time in local time ("2026-11-25 17:21:09
 * +0000 UTC"); "<nil>" when s is NULL or bad. */
void stow_vcli_format_time(char *out, size_t n, const char *s);
/* Velero's humanReadableTimeFromNow: "29d", "3h ago", "n/a". */
void stow_vcli_from_now(char *out, size_t n, int64_t when);
/* A string field of obj by a dotted path ("status.phase"), or NULL. */
const char *stow_vcli_str(const json_t *obj, const char *path);
/* An integer field by path (0 when absent). */
long long stow_vcli_int(const json_t *obj, const char *path);
/* A field by path, borrowed, or NULL. */
json_t *stow_vcli_get(const json_t *obj, const char *path);
/* "k1=v1,k2=v2" of a string map ("<none>" when empty). */
void stow_vcli_format_map(stow_buf *out, const json_t *map, const char *sep);
/* kubectl describe's map block: "Labels:       a=b\n              c=d". */
void stow_vcli_print_map_block(const char *title, int width, const json_t *map);
/* Items of a list as "a, b" ("<none>" when empty; "*" as is). */
void stow_vcli_format_strings(stow_buf *out, const json_t *arr,
			      const char *empty);

/* Objects named by the operands argv[optind..] (each must exist) or,
 * without operands, all of them filtered by a label selector (may be
 * NULL); *items is a new array. Exit code, message printed. */
int stow_vcli_get_objects(stow_vcli *v, const stow_kube_resource *r, int argc,
			  char **argv, const char *selector, json_t **items);
/* A kind as `<noun> get` lists it: a table of ncols columns (one row per
 * object, added by row) or, with -o json|yaml, a list of list_kind. */
typedef struct stow_vcli_list_kind {
	const char *plural, *list_kind;
	const char *const *headers;
	size_t ncols;
	void (*row)(json_t *rows, const json_t *obj);
	bool show_labels; /* --show-labels is accepted (and ignored) */
} stow_vcli_list_kind;
/* `<noun> get [NAME...] [-l SELECTOR] [-o FORMAT]`. Exit code. */
int stow_vcli_get_cmd(stow_cli *cli, int argc, char **argv,
		      const stow_vcli_list_kind *kd);
/* `<noun> describe [NAME...] [-l SELECTOR] [--details] [-o FORMAT]`: each
 * object by describe (or as JSON/YAML), separated by blank lines;
 * --insecure-skip-tls-verify and --cacert are accepted. Exit code. */
int stow_vcli_describe_cmd(stow_cli *cli, int argc, char **argv,
			   const char *plural,
			   void (*describe)(stow_vcli *v, const json_t *o,
					    bool details));
/* Set spec[key] to arr when it is a non-empty array. */
void stow_vcli_set_list(json_t *spec, const char *key, json_t *arr);
/* Set spec[key] to true/false unless v is -1 (not given). */
void stow_vcli_set_bool(json_t *spec, const char *key, int v);
/* A describe line: in spaces, title padded to w, the strings of arr
 * joined by ", " (empty when there are none). */
void stow_vcli_print_strings(int in, const char *title, int w,
			     const json_t *arr, const char *empty);
/* "true"/"false" for a JSON boolean, unset when v is NULL. */
const char *stow_vcli_bool_word(const json_t *v, const char *unset);
/* describe's "Started:" and "Completed:" lines of a status. */
void stow_vcli_describe_times(const json_t *st);
/* describe's item counts when the status has a progress: "(Estimated)
 * total items to be <done>" and "Items <done> (so far)", the titles
 * padded to w, the second count from progress_key. */
void stow_vcli_describe_progress(const json_t *st, const char *phase, int w,
				 const char *done, const char *progress_key);
/* The Name/Namespace/Labels/Annotations block of describe. */
void stow_vcli_describe_metadata(const json_t *o);

/* --- delete ----------------------------------------------------------------
 */

/* The options of `<noun> delete`: --confirm, --all, -l SELECTOR and the
 * common ones. 0, an exit code, or -1 when --help was printed. */
int stow_vcli_delete_opts(stow_vcli *v, int argc, char **argv, bool *confirm,
			  bool *all, const char **selector);
/* The usage error unless exactly one of names (argv[optind..]), --all and
 * --selector is given. Exit code. */
int stow_vcli_targets_usage(stow_cli *cli, int argc, bool all,
			    const char *selector);
/* Names from the operands, or every object (--all) or those matching -l;
 * *items is a new array (the usage error first). Exit code. */
int stow_vcli_select_targets(stow_vcli *v, const stow_kube_resource *r,
			     int argc, char **argv, bool all,
			     const char *selector, json_t **items);
/* `<noun> delete NAME...|--all|-l SELECTOR [--confirm]`: asks unless
 * --confirm, deletes each object, says none when there were none. */
typedef struct stow_vcli_delete_kind {
	const char *plural;
	const char *none; /* "No restores found" */
	/* The usage error comes before the confirmation prompt. */
	bool check_first;
	/* Called after each object's delete: prints it, deletes what
	 * goes with it. */
	void (*deleted)(stow_vcli *v, const char *name);
} stow_vcli_delete_kind;
int stow_vcli_delete_cmd(stow_cli *cli, int argc, char **argv,
			 const stow_vcli_delete_kind *kd);

/* --- names, prompts, waits -------------------------------------------------
 */

/* "<base>-YYYYMMDDHHMMSS" (local time, as Velero's Go time.Now()). */
void stow_vcli_timestamped_name(char *out, size_t n, const char *base);
/* Velero's confirmation: "Are you sure you want to continue (Y/N)? ";
 * true on y/Y. */
bool stow_vcli_confirm(void);
/* Sleep ms milliseconds. */
void stow_vcli_sleep_ms(long ms);

/* A final phase of a Backup or Restore (Completed, PartiallyFailed,
 * Failed, FailedValidation). */
bool stow_vcli_phase_final(const char *phase);
/* Poll the Backup or Restore name until a final phase, showing its
 * progress ("<phase>: N of M items <done>", N from progress_key); noun
 * is "backup" or "restore". Exit code follows the phase: 0 Completed,
 * STOW_EXIT_PARTIAL PartiallyFailed, else STOW_EXIT_ERROR. */
int stow_vcli_wait_phase(stow_vcli *v, const stow_kube_resource *r,
			 const char *name, const char *noun, const char *done,
			 const char *progress_key);

/* --- downloads -------------------------------------------------------------
 */

/* Create a DownloadRequest for target kind/name, wait (timeout_s) for its
 * downloadURL, fetch it (http(s) via libcurl; data: URLs inline;
 * stowage-fs://<bsl>/<key> from the location's directory when it is
 * mounted here) into out (raw bytes, as stored: .gz stays gzip). Exit
 * code, message printed. */
int stow_vcli_download(stow_vcli *v, const char *kind, const char *name,
		       long timeout_s, bool insecure, const char *cacert,
		       stow_buf *out);
/* Fetch <kind> (BackupResults / RestoreResults) of name and print its
 * Warnings and Errors blocks as Velero's describe does (a note when it
 * cannot be fetched). */
void stow_vcli_describe_results(stow_vcli *v, const char *kind,
				const char *name);
/* Fetch <kind> (BackupResourceList / RestoreResourceList) of name and
 * print it as Velero's "Resource List:" block. */
void stow_vcli_describe_resource_list(stow_vcli *v, const char *kind,
				      const char *name);
/* Gunzip in (one or more members) into out (capped at 1 GiB). 0 or a
 * STOW_E* code. */
int stow_vcli_gunzip(const stow_buf *in, stow_buf *out);

/* --- the commands ------------------------------------------------------------
 */

/* `version` (declared in cli_internal.h): Velero's Client/Server form
 * when invoked as velero or with a Velero flag, else stowage's own. */
/* `restore logs` (shares the code of `backup logs`). */
int stow_vcli_restore_logs(stow_cli *cli, int argc, char **argv);

#endif
