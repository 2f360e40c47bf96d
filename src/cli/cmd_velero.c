/* Helpers shared by the Velero-compatible commands, and `version`
 * (cmd_velero.h). */
#include <assert.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "cli/cmd_velero.h"
#include "util/duration.h"
#include "util/err.h"

#ifndef STOW_VERSION
#define STOW_VERSION "unknown"
#endif

void stow_vcli_init(stow_vcli *v, stow_cli *cli)
{
	memset(v, 0, sizeof(*v));
	v->cli = cli;
}

void stow_vcli_done(stow_vcli *v)
{
	stow_kube_free(v->k);
	v->k = NULL;
	free(v->namespace);
	v->namespace = NULL;
}

int stow_vcli_common_opt(stow_vcli *v, int c, const char *arg)
{
	switch (c) {
	case 'n': v->ns_flag = arg; return 1;
	case STOW_VCLI_OPT_KUBECONFIG: v->kubeconfig = arg; return 1;
	case STOW_VCLI_OPT_KUBECONTEXT: v->kubecontext = arg; return 1;
	case STOW_VCLI_OPT_FEATURES:
	case STOW_VCLI_OPT_COLORIZED: return 1;
	default: return 0;
	}
}

/* Velero's client config: {"namespace": "...", "features": "..."}. */
static char *config_namespace(void)
{
	const char *home = getenv("HOME");
	char path[4096];
	json_t *cfg, *ns;
	char *r = NULL;

	if (home == NULL || *home == 0)
		return NULL;
	snprintf(path, sizeof(path), "%s/.config/velero/config.json", home);
	cfg = json_load_file(path, 0, NULL);
	ns = json_object_get(cfg, "namespace");
	if (json_is_string(ns) && json_string_length(ns) > 0)
		r = strdup(json_string_value(ns));
	json_decref(cfg);
	return r;
}

int stow_vcli_resolve_namespace(stow_vcli *v)
{
	const char *env = getenv("VELERO_NAMESPACE");

	if (v->namespace)
		return 0;
	if (v->ns_flag && *v->ns_flag)
		v->namespace = strdup(v->ns_flag);
	else if (env && *env)
		v->namespace = strdup(env);
	else
		v->namespace = config_namespace();
	if (v->namespace == NULL)
		v->namespace = strdup("velero");
	if (v->namespace == NULL)
		return stow_cli_fail(v->cli, STOW_ENOMEM);
	return 0;
}

int stow_vcli_open_for_create(stow_vcli *v, bool print_only, const char *plural,
			      const stow_kube_resource **r)
{
	int ex;

	if (print_only)
		return stow_vcli_resolve_namespace(v);
	if ((ex = stow_vcli_connect(v)))
		return ex;
	return stow_vcli_resource(v, plural, r);
}

int stow_vcli_connect(stow_vcli *v)
{
	stow_kube_load_opts lo = {.in_cluster_fallback = true};
	stow_kube_config *cfg = NULL;
	int ex, rc;

	if ((ex = stow_vcli_resolve_namespace(v)))
		return ex;
	lo.kubeconfig = v->kubeconfig;
	lo.context = v->kubecontext;
	rc = stow_kube_config_load(&cfg, &lo);
	if (rc == 0)
		rc = stow_kube_new(&v->k, cfg);
	stow_kube_config_free(cfg);
	if (rc < 0)
		return stow_vcli_fail(
		    v, rc, "check --kubeconfig / $KUBECONFIG / ~/.kube/config");
	return 0;
}

/* The velero.io/v1 kinds the CLI touches. Known statically, as Velero's
 * CLI knows its own types: no discovery round trips (a dozen requests)
 * before each command. All are namespaced. */
static const stow_kube_resource velero_kinds[] = {
#define VELERO_KIND(plural_, kind_)                                            \
	{                                                                      \
		.group = "velero.io", .version = "v1", .resource = plural_,    \
		.kind = kind_, .namespaced = true, .preferred = true           \
	}
    VELERO_KIND("backups", "Backup"),
    VELERO_KIND("restores", "Restore"),
    VELERO_KIND("schedules", "Schedule"),
    VELERO_KIND("backupstoragelocations", "BackupStorageLocation"),
    VELERO_KIND("volumesnapshotlocations", "VolumeSnapshotLocation"),
    VELERO_KIND("deletebackuprequests", "DeleteBackupRequest"),
    VELERO_KIND("downloadrequests", "DownloadRequest"),
    VELERO_KIND("serverstatusrequests", "ServerStatusRequest"),
    VELERO_KIND("backuprepositories", "BackupRepository"),
    VELERO_KIND("podvolumebackups", "PodVolumeBackup"),
    VELERO_KIND("podvolumerestores", "PodVolumeRestore"),
#undef VELERO_KIND
};

const stow_kube_resource *stow_vcli_kind(const char *plural)
{
	size_t i;

	for (i = 0; i < sizeof(velero_kinds) / sizeof(velero_kinds[0]); i++)
		if (strcmp(velero_kinds[i].resource, plural) == 0)
			return &velero_kinds[i];
	return NULL;
}

int stow_vcli_resource(stow_vcli *v, const char *plural,
		       const stow_kube_resource **out)
{
	(void)v;
	*out = stow_vcli_kind(plural);
	assert(*out != NULL);
	return 0;
}

int stow_vcli_fail(stow_vcli *v, int rc, const char *hint)
{
	const char *msg = stow_err_msg();

	fputs("An error occurred: ", stderr);
	if (msg == NULL || msg[0] == 0)
		msg = stow_err_name(rc);
	/* The kube client prefixes "GET /apis/...: "; Velero prints the
	 * API server's message alone. */
	if (strncmp(msg, "GET /", 5) == 0 || strncmp(msg, "POST /", 6) == 0 ||
	    strncmp(msg, "PUT /", 5) == 0 || strncmp(msg, "PATCH /", 7) == 0 ||
	    strncmp(msg, "DELETE /", 8) == 0) {
		const char *colon = strstr(msg, ": ");

		if (colon)
			msg = colon + 2;
	}
	stow_cli_print_escaped(stderr, msg, strlen(msg));
	fputc('\n', stderr);
	if (rc == STOW_ENOTFOUND && hint == NULL) {
		/* Say how to see what exists. */
		static const char *const nouns[][2] = {
		    {"backups.velero.io \"", "backup"},
		    {"restores.velero.io \"", "restore"},
		    {"schedules.velero.io \"", "schedule"},
		    {"backupstoragelocations.velero.io \"", "backup-location"},
		    {"backuprepositories.velero.io \"", "repo"},
		};
		size_t i;

		for (i = 0; i < sizeof(nouns) / sizeof(nouns[0]); i++)
			if (strncmp(msg, nouns[i][0], strlen(nouns[i][0])) ==
			    0) {
				fprintf(stderr,
					"(list them with `%s %s get`)\n",
					v->cli->prog, nouns[i][1]);
				break;
			}
	}
	if (rc == STOW_ENOTFOUND &&
	    strstr(msg, "could not find the requested resource"))
		hint = "(the velero.io CRDs are not installed in this cluster: "
		       "kubectl apply -k deploy/crds)";
	if (hint)
		fprintf(stderr, "%s\n", hint);
	return stow_cli_exit_code(rc);
}

/* --- flag syntaxes ----------------------------------------------------------
 */

int stow_vcli_add_list(json_t **arr, const char *s)
{
	const char *p = s;

	if (*arr == NULL)
		*arr = json_array();
	if (*arr == NULL)
		return STOW_ENOMEM;
	/* pflag's StringArray+CSV: "a,b" and repeated flags both append;
	 * empty pieces are dropped. */
	while (*p) {
		size_t l = strcspn(p, ",");
		char *item;

		if (l) {
			item = strndup(p, l);
			if (item == NULL ||
			    json_array_append_new(*arr, json_string(item)))
				return free(item), STOW_ENOMEM;
			free(item);
		}
		p += l;
		if (*p == ',')
			p++;
	}
	return 0;
}

int stow_vcli_add_map(stow_cli *cli, const char *opt, json_t **obj,
		      const char *s, char kv)
{
	const char *p = s;

	if (*obj == NULL)
		*obj = json_object();
	while (*p) {
		size_t l = strcspn(p, ",");
		const char *sep = memchr(p, kv, l);
		char *key, *val;

		if (sep == NULL || sep == p)
			return stow_cli_usage_error(
			    cli,
			    "%s: invalid value '%s': entries must be "
			    "key%cvalue, separated by commas",
			    opt, s, kv);
		key = strndup(p, (size_t)(sep - p));
		val = strndup(sep + 1, l - (size_t)(sep - p) - 1);
		if (key == NULL || val == NULL ||
		    json_object_set_new(*obj, key, json_string(val))) {
			free(key);
			free(val);
			return stow_cli_fail(cli, STOW_ENOMEM);
		}
		free(key);
		free(val);
		p += l;
		if (*p == ',')
			p++;
	}
	return 0;
}

int stow_vcli_parse_bool(stow_cli *cli, const char *opt, const char *arg,
			 int *out)
{
	/* Go's strconv.ParseBool spellings. */
	static const char *const yes[] = {"1",	  "t",	  "T",
					  "true", "TRUE", "True"};
	static const char *const no[] = {"0",	  "f",	   "F",
					 "false", "FALSE", "False"};
	size_t i;

	if (arg == NULL) {
		*out = 1;
		return 0;
	}
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(arg, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcmp(arg, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return stow_cli_usage_error(
	    cli, "%s: '%s' is not a boolean (use %s=true or %s=false)", opt,
	    arg, opt, opt);
}

int stow_vcli_parse_duration(stow_cli *cli, const char *opt, const char *arg,
			     char out[40])
{
	int64_t ns;

	if (stow_duration_parse(arg, &ns) < 0)
		return stow_cli_usage_error(
		    cli, "%s: '%s' is not a duration (like 720h, 90m, 1h30m)",
		    opt, arg);
	stow_duration_format(ns, out);
	return 0;
}

int stow_vcli_parse_timeout(stow_cli *cli, const char *opt, const char *arg,
			    long *secs)
{
	char d[40];
	int64_t ns = 0;
	int ex;

	if ((ex = stow_vcli_parse_duration(cli, opt, arg, d)))
		return ex;
	stow_duration_parse(d, &ns);
	*secs = (long)(ns / STOW_NSEC_PER_SEC);
	if (*secs < 1)
		*secs = 1;
	return 0;
}

static bool label_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.' ||
	       c == '/';
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* key, or key op value / key in (a,b): one requirement of a selector. */
static int parse_requirement(const char **pp, json_t *labels, json_t *exprs)
{
	const char *p = skip_ws(*pp), *ks;
	bool neg = false;
	char key[320];
	size_t kl;
	json_t *e, *vals;

	if (*p == '!') {
		neg = true;
		p = skip_ws(p + 1);
	}
	ks = p;
	while (label_char(*p))
		p++;
	kl = (size_t)(p - ks);
	if (kl == 0 || kl >= sizeof(key))
		return -1;
	memcpy(key, ks, kl);
	key[kl] = 0;
	p = skip_ws(p);
	if (neg || *p == ',' || *p == 0) {
		e = json_pack("{s:s,s:s}", "key", key, "operator",
			      neg ? "DoesNotExist" : "Exists");
		json_array_append_new(exprs, e);
		*pp = p;
		return 0;
	}
	if (*p == '=' || (p[0] == '!' && p[1] == '=')) {
		bool ne = *p == '!';
		const char *vs;
		char *val;

		p += ne ? 2 : (p[1] == '=' ? 2 : 1);
		p = skip_ws(p);
		vs = p;
		while (label_char(*p))
			p++;
		val = strndup(vs, (size_t)(p - vs));
		if (val == NULL)
			return -1;
		if (ne) {
			e = json_pack("{s:s,s:s,s:[s]}", "key", key, "operator",
				      "NotIn", "values", val);
			json_array_append_new(exprs, e);
		} else {
			json_object_set_new(labels, key, json_string(val));
		}
		free(val);
		*pp = skip_ws(p);
		return 0;
	}
	if (strncmp(p, "in", 2) == 0 || strncmp(p, "notin", 5) == 0) {
		bool in = p[0] == 'i';

		p = skip_ws(p + (in ? 2 : 5));
		if (*p != '(')
			return -1;
		p++;
		vals = json_array();
		for (;;) {
			const char *vs;
			char *val;

			p = skip_ws(p);
			vs = p;
			while (label_char(*p))
				p++;
			val = strndup(vs, (size_t)(p - vs));
			if (val == NULL)
				return json_decref(vals), -1;
			if (*val)
				json_array_append_new(vals, json_string(val));
			free(val);
			p = skip_ws(p);
			if (*p == ',') {
				p++;
				continue;
			}
			if (*p == ')')
				break;
			json_decref(vals);
			return -1;
		}
		e = json_pack("{s:s,s:s,s:o}", "key", key, "operator",
			      in ? "In" : "NotIn", "values", vals);
		json_array_append_new(exprs, e);
		*pp = skip_ws(p + 1);
		return 0;
	}
	return -1;
}

static int parse_selector_string(const char *s, json_t **out)
{
	json_t *labels = json_object(), *exprs = json_array(), *sel;
	const char *p = s;

	*out = NULL;
	while (*skip_ws(p)) {
		if (parse_requirement(&p, labels, exprs) < 0)
			goto bad;
		if (*p == ',')
			p++;
		else if (*p)
			goto bad;
	}
	sel = json_object();
	if (json_object_size(labels))
		json_object_set(sel, "matchLabels", labels);
	if (json_array_size(exprs))
		json_object_set(sel, "matchExpressions", exprs);
	json_decref(labels);
	json_decref(exprs);
	*out = sel;
	return 0;
bad:
	json_decref(labels);
	json_decref(exprs);
	return -1;
}

int stow_vcli_parse_selector(stow_cli *cli, const char *opt, const char *s,
			     json_t **out)
{
	json_decref(*out);
	*out = NULL;
	if (parse_selector_string(s, out) < 0)
		return stow_cli_usage_error(
		    cli,
		    "%s: '%s' is not a label selector (like app=web, "
		    "tier!=db, env in (prod,staging), !legacy)",
		    opt, s);
	return 0;
}

int stow_vcli_parse_or_selector(stow_cli *cli, const char *s, json_t **out)
{
	const char *p = s;

	json_decref(*out);
	*out = json_array();
	/* Velero splits on " or " and parses each part as a selector. */
	for (;;) {
		const char *end = strstr(p, " or ");
		size_t l = end ? (size_t)(end - p) : strlen(p);
		char *part = strndup(p, l);
		json_t *sel = NULL;

		if (part == NULL)
			return stow_cli_fail(cli, STOW_ENOMEM);
		if (parse_selector_string(part, &sel) < 0) {
			free(part);
			return stow_cli_usage_error(
			    cli,
			    "--or-selector: '%s' is not a list of label "
			    "selectors joined by \" or \" (like \"app=web or "
			    "app=db\")",
			    s);
		}
		free(part);
		json_array_append_new(*out, sel);
		if (end == NULL)
			break;
		p = end + 4;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void stow_vcli_format_selector(stow_buf *out, const json_t *sel)
{
	const json_t *labels = json_object_get(sel, "matchLabels");
	const json_t *exprs = json_object_get(sel, "matchExpressions");
	const char *keys[256];
	size_t nk = 0, i, start = out->len;
	const char *key;
	json_t *val;

	/* As labels.Selector.String(): requirements sorted by key. */
	json_object_foreach((json_t *)labels, key, val)
	{
		if (nk < 256)
			keys[nk++] = key;
	}
	qsort(keys, nk, sizeof(keys[0]), cmp_str);
	for (i = 0; i < nk; i++)
		stow_buf_printf(
		    out, "%s%s=%s", out->len > start ? "," : "", keys[i],
		    json_string_value(json_object_get(labels, keys[i])));
	for (i = 0; i < json_array_size(exprs); i++) {
		const json_t *e = json_array_get(exprs, i);
		const char *k = stow_vcli_str(e, "key");
		const char *op = stow_vcli_str(e, "operator");
		const json_t *vals = json_object_get(e, "values");
		size_t j;

		if (k == NULL || op == NULL)
			continue;
		if (out->len > start)
			stow_buf_append_str(out, ",");
		if (strcmp(op, "Exists") == 0) {
			stow_buf_append_str(out, k);
			continue;
		}
		if (strcmp(op, "DoesNotExist") == 0) {
			stow_buf_printf(out, "!%s", k);
			continue;
		}
		if (strcmp(op, "NotIn") == 0 && json_array_size(vals) == 1) {
			stow_buf_printf(
			    out, "%s!=%s", k,
			    json_string_value(json_array_get(vals, 0)));
			continue;
		}
		stow_buf_printf(out, "%s %s (", k,
				strcmp(op, "In") == 0 ? "in" : "notin");
		for (j = 0; j < json_array_size(vals); j++)
			stow_buf_printf(
			    out, "%s%s", j ? "," : "",
			    json_string_value(json_array_get(vals, j)));
		stow_buf_append_str(out, ")");
	}
	if (out->len == start)
		stow_buf_append_str(out, "<none>");
}

int stow_vcli_parse_output(stow_cli *cli, const char *o, int *fmt)
{
	if (o == NULL || strcmp(o, "table") == 0)
		*fmt =
		    cli->json && o == NULL ? STOW_VCLI_JSON : STOW_VCLI_TABLE;
	else if (strcmp(o, "json") == 0)
		*fmt = STOW_VCLI_JSON;
	else if (strcmp(o, "yaml") == 0)
		*fmt = STOW_VCLI_YAML;
	else
		return stow_cli_usage_error(
		    cli, "invalid output format '%s': use table, json or yaml",
		    o);
	return 0;
}

/* --- YAML -------------------------------------------------------------------
 */

/* A scalar string needs quotes when YAML would read it as something else
 * (a number, bool, null, a structure) or lose bytes (spaces, controls). */
static bool yaml_needs_quotes(const char *s)
{
	static const char *const words[] = {
	    "true", "false", "yes",  "no",   "on",   "off", "null", "~",
	    "True", "False", "Yes",  "No",   "On",   "Off", "Null", "NULL",
	    "TRUE", "FALSE", "YES",  "NO",   "ON",   "OFF", "y",    "n",
	    "Y",    "N",     ".inf", ".nan", "-.inf"};
	const unsigned char *p;
	char *end;
	size_t i;

	if (*s == 0)
		return true;
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(s, words[i]) == 0)
			return true;
	errno = 0;
	(void)strtod(s, &end);
	if (*end == 0)
		return true;
	if (strchr("-?:,[]{}#&*!|>'\"%@` \t", s[0]))
		return true;
	if (s[strlen(s) - 1] == ' ' || s[strlen(s) - 1] == ':')
		return true;
	if (strstr(s, ": ") || strstr(s, " #"))
		return true;
	for (p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return true;
	/* 0x.., 0o.., 1_000 and dates: leave them quoted too. */
	if (isdigit((unsigned char)s[0]))
		return true;
	return false;
}

static void yaml_scalar(FILE *f, const json_t *v)
{
	if (json_is_string(v)) {
		const char *s = json_string_value(v);

		if (yaml_needs_quotes(s)) {
			/* A JSON string is a valid YAML double-quoted one. */
			char *q = json_dumps(v, JSON_ENCODE_ANY);

			fputs(q ? q : "\"\"", f);
			free(q);
		} else {
			fputs(s, f);
		}
		return;
	}
	if (json_is_null(v)) {
		fputs("null", f);
		return;
	}
	{
		char *q =
		    json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));

		fputs(q ? q : "null", f);
		free(q);
	}
}

static bool yaml_empty_container(const json_t *v)
{
	return (json_is_object(v) && json_object_size(v) == 0) ||
	       (json_is_array(v) && json_array_size(v) == 0);
}

static void yaml_value(FILE *f, const json_t *v, int indent);

static void yaml_key(FILE *f, const char *key)
{
	json_t *k = json_string(key);

	yaml_scalar(f, k);
	json_decref(k);
}

/* Write the members of an object; the first line's indentation was
 * already written when `first_inline`. */
static void yaml_object(FILE *f, const json_t *o, int indent, bool first_inline)
{
	const char *key;
	json_t *val;
	bool first = true;

	json_object_foreach((json_t *)o, key, val)
	{
		if (!(first && first_inline))
			fprintf(f, "%*s", indent, "");
		first = false;
		yaml_key(f, key);
		fputc(':', f);
		if (yaml_empty_container(val)) {
			fputs(json_is_object(val) ? " {}\n" : " []\n", f);
		} else if (json_is_object(val)) {
			fputc('\n', f);
			yaml_object(f, val, indent + 2, false);
		} else if (json_is_array(val)) {
			fputc('\n', f);
			yaml_value(f, val, indent);
		} else {
			fputc(' ', f);
			yaml_scalar(f, val);
			fputc('\n', f);
		}
	}
}

static void yaml_value(FILE *f, const json_t *v, int indent)
{
	size_t i;

	if (json_is_object(v)) {
		if (json_object_size(v) == 0)
			fprintf(f, "%*s{}\n", indent, "");
		else
			yaml_object(f, v, indent, false);
		return;
	}
	if (json_is_array(v)) {
		/* Sequences in mappings sit at the key's indentation, as
		 * Kubernetes' YAML printer writes them. */
		for (i = 0; i < json_array_size(v); i++) {
			const json_t *e = json_array_get(v, i);

			fprintf(f, "%*s- ", indent, "");
			if (yaml_empty_container(e))
				fputs(json_is_object(e) ? "{}\n" : "[]\n", f);
			else if (json_is_object(e))
				yaml_object(f, e, indent + 2, true);
			else if (json_is_array(e)) {
				fputc('\n', f);
				yaml_value(f, e, indent + 2);
			} else {
				yaml_scalar(f, e);
				fputc('\n', f);
			}
		}
		if (json_array_size(v) == 0)
			fprintf(f, "%*s[]\n", indent, "");
		return;
	}
	fprintf(f, "%*s", indent, "");
	yaml_scalar(f, v);
	fputc('\n', f);
}

void stow_vcli_print_obj(const json_t *obj, int fmt)
{
	if (fmt == STOW_VCLI_YAML) {
		yaml_value(stdout, obj, 0);
		return;
	}
	json_dumpf(obj, stdout, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
}

void stow_vcli_print_list(const char *list_kind, json_t *items, int fmt)
{
	json_t *list;

	if (json_array_size(items) == 1) {
		stow_vcli_print_obj(json_array_get(items, 0), fmt);
		return;
	}
	list = json_pack("{s:s,s:s,s:{},s:O}", "kind", list_kind, "apiVersion",
			 "velero.io/v1", "metadata", "items", items);
	stow_vcli_print_obj(list, fmt);
	json_decref(list);
}

/* --- tables ------------------------------------------------------------------
 */

void stow_vcli_table_row(json_t *rows, size_t n, const char *const *cells)
{
	json_t *row = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(row,
				      json_string(cells[i] ? cells[i] : ""));
	json_array_append_new(rows, row);
}

/* Display width of UTF-8 text: code points, not bytes. */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

void stow_vcli_print_table(const json_t *rows)
{
	size_t ncols = json_array_size(json_array_get(rows, 0));
	size_t widths[32] = {0};
	size_t r, c;

	if (ncols > 32)
		ncols = 32;
	for (r = 0; r < json_array_size(rows); r++)
		for (c = 0; c < ncols; c++) {
			const char *s = json_string_value(
			    json_array_get(json_array_get(rows, r), c));
			size_t w = s ? text_width(s) : 0;

			if (w > widths[c])
				widths[c] = w;
		}
	/* kubectl's tabwriter: minimum cell width 6, padding 3. */
	for (r = 0; r < json_array_size(rows); r++) {
		stow_buf line;

		stow_buf_init(&line, 0);
		for (c = 0; c < ncols; c++) {
			const char *s = json_string_value(
			    json_array_get(json_array_get(rows, r), c));
			size_t w = widths[c] + 3, have;

			if (w < 6)
				w = 6;
			if (s == NULL)
				s = "";
			if (c + 1 == ncols) {
				stow_cli_escape(&line, s, strlen(s));
				break;
			}
			stow_cli_escape(&line, s, strlen(s));
			have = text_width(s);
			while (have++ < w)
				stow_buf_append_str(&line, " ");
		}
		while (line.len && line.data[line.len - 1] == ' ')
			line.len--;
		fwrite(line.data, 1, line.len, stdout);
		fputc('\n', stdout);
		stow_buf_free(&line);
	}
}

/* --- times
 * -------------------------------------------------------------------- */

int64_t stow_vcli_parse_time(const char *s)
{
	struct tm tm;
	const char *p;
	int off = 0;
	time_t t;

	if (s == NULL)
		return -1;
	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (p == NULL)
		return -1;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++)
			;
	if (*p == '+' || *p == '-') {
		int hh = 0, mm = 0;

		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
			return -1;
		off = (hh * 3600 + mm * 60) * (*p == '-' ? -1 : 1);
	} else if (*p != 'Z' && *p != 'z') {
		return -1;
	}
	t = timegm(&tm);
	return (int64_t)t - off;
}

void stow_vcli_format_time(char *out, size_t n, const char *s)
{
	int64_t t = stow_vcli_parse_time(s);
	time_t tt = (time_t)t;
	struct tm tm;

	if (t < 0 || localtime_r(&tt, &tm) == NULL) {
		snprintf(out, n, "<nil>");
		return;
	}
	/* Go's time.Time.String() without fractional seconds. */
	if (strftime(out, n, "%Y-%m-%d %H:%M:%S %z %Z", &tm) == 0)
		snprintf(out, n, "<nil>");
}

/* k8s.io/apimachinery duration.ShortHumanDuration. */
static void short_human(char *out, size_t n, int64_t secs)
{
	if (secs < -1)
		snprintf(out, n, "<invalid>");
	else if (secs < 0)
		snprintf(out, n, "0s");
	else if (secs < 60)
		snprintf(out, n, "%llds", (long long)secs);
	else if (secs < 3600)
		snprintf(out, n, "%lldm", (long long)(secs / 60));
	else if (secs < 86400)
		snprintf(out, n, "%lldh", (long long)(secs / 3600));
	else if (secs < 86400LL * 365)
		snprintf(out, n, "%lldd", (long long)(secs / 86400));
	else
		snprintf(out, n, "%lldy", (long long)(secs / (86400LL * 365)));
}

void stow_vcli_from_now(char *out, size_t n, int64_t when)
{
	int64_t now = (int64_t)time(NULL);
	char h[32];

	if (when < 0) {
		snprintf(out, n, "n/a");
		return;
	}
	if (when == now) {
		snprintf(out, n, "now");
		return;
	}
	short_human(h, sizeof(h), when < now ? now - when : when - now);
	snprintf(out, n, "%s%s", h, when < now ? " ago" : "");
}

/* --- JSON access --------------------------------------------------------- */

json_t *stow_vcli_get(const json_t *obj, const char *path)
{
	const char *p = path;
	json_t *cur = (json_t *)obj;

	while (cur && *p) {
		size_t l = strcspn(p, ".");
		char key[128];

		if (l >= sizeof(key))
			return NULL;
		memcpy(key, p, l);
		key[l] = 0;
		cur = json_object_get(cur, key);
		p += l;
		if (*p == '.')
			p++;
	}
	return cur;
}

const char *stow_vcli_str(const json_t *obj, const char *path)
{
	return json_string_value(stow_vcli_get(obj, path));
}

long long stow_vcli_int(const json_t *obj, const char *path)
{
	json_t *v = stow_vcli_get(obj, path);

	return json_is_integer(v) ? (long long)json_integer_value(v) : 0;
}

void stow_vcli_format_map(stow_buf *out, const json_t *map, const char *sep)
{
	const char *keys[256];
	size_t nk = 0, i;
	const char *key;
	json_t *val;

	json_object_foreach((json_t *)map, key, val)
	{
		if (nk < 256)
			keys[nk++] = key;
	}
	if (nk == 0) {
		stow_buf_append_str(out, "<none>");
		return;
	}
	qsort(keys, nk, sizeof(keys[0]), cmp_str);
	for (i = 0; i < nk; i++) {
		const char *s =
		    json_string_value(json_object_get(map, keys[i]));

		stow_buf_printf(out, "%s%s=%s", i ? sep : "", keys[i],
				s ? s : "");
	}
}

void stow_vcli_print_map_block(const char *title, int width, const json_t *map)
{
	stow_buf b;
	char sep[80];

	snprintf(sep, sizeof(sep), "\n%*s", width, "");
	stow_buf_init(&b, 0);
	stow_vcli_format_map(&b, map, sep);
	printf("%-*s%.*s\n", width, title, (int)b.len, (const char *)b.data);
	stow_buf_free(&b);
}

void stow_vcli_format_strings(stow_buf *out, const json_t *arr,
			      const char *empty)
{
	size_t i;

	if (json_array_size(arr) == 0) {
		stow_buf_append_str(out, empty);
		return;
	}
	for (i = 0; i < json_array_size(arr); i++) {
		const char *s = json_string_value(json_array_get(arr, i));

		stow_buf_printf(out, "%s%s", i ? ", " : "", s ? s : "");
	}
}

/* --- objects -------------------------------------------------------------- */

/* Objects named on the command line (each must exist) or all, filtered
 * by a label selector. *items is a new array. Exit code. */
int stow_vcli_get_objects(stow_vcli *v, const stow_kube_resource *r, int argc,
			  char **argv, const char *selector, json_t **items)
{
	int i, rc;

	*items = json_array();
	if (optind < argc) {
		for (i = optind; i < argc; i++) {
			json_t *o = NULL;

			rc = stow_kube_get(v->k, r, v->namespace, argv[i], &o);
			if (rc < 0)
				return stow_vcli_fail(v, rc, NULL);
			json_array_append_new(*items, o);
		}
		return 0;
	}
	{
		stow_kube_list_opts lo = {.label_selector = selector};
		json_t *list = NULL, *all;
		size_t k;

		rc = stow_kube_list(v->k, r, v->namespace, &lo, &list);
		if (rc < 0)
			return stow_vcli_fail(v, rc, NULL);
		all = json_object_get(list, "items");

		/* Every later step names objects by metadata.name (a
		 * nameless DELETE would address the whole collection): an
		 * item without one is not taken. */
		for (k = 0; k < json_array_size(all); k++) {
			json_t *it = json_array_get(all, k);

			if (stow_vcli_str(it, "metadata.name"))
				json_array_append(*items, it);
		}
		json_decref(list);
	}
	return 0;
}

void stow_vcli_set_list(json_t *spec, const char *key, json_t *arr)
{
	if (json_array_size(arr))
		json_object_set(spec, key, arr);
}

void stow_vcli_set_bool(json_t *spec, const char *key, int v)
{
	if (v >= 0)
		json_object_set_new(spec, key, json_boolean(v));
}

void stow_vcli_print_strings(int in, const char *title, int w,
			     const json_t *arr, const char *empty)
{
	stow_buf b;

	stow_buf_init(&b, 0);
	stow_vcli_format_strings(&b, arr, empty);
	printf("%*s%-*s%.*s\n", in, "", w, title, (int)b.len,
	       (const char *)b.data);
	stow_buf_free(&b);
}

const char *stow_vcli_bool_word(const json_t *v, const char *unset)
{
	if (v == NULL)
		return unset;
	return json_is_true(v) ? "true" : "false";
}

void stow_vcli_describe_times(const json_t *st)
{
	char t1[64], t2[64];

	stow_vcli_format_time(t1, sizeof(t1),
			      stow_vcli_str(st, "startTimestamp"));
	stow_vcli_format_time(t2, sizeof(t2),
			      stow_vcli_str(st, "completionTimestamp"));
	printf("\n%-12s%s\n%-12s%s\n",
	       "Started:", strcmp(t1, "<nil>") ? t1 : "<n/a>",
	       "Completed:", strcmp(t2, "<nil>") ? t2 : "<n/a>");
}

void stow_vcli_describe_progress(const json_t *st, const char *phase, int w,
				 const char *done, const char *progress_key)
{
	bool running = strcmp(phase, "InProgress") == 0;
	char title[80];

	if (json_object_get(st, "progress") == NULL)
		return;
	if (running)
		snprintf(title, sizeof(title),
			 "Estimated total items to be %s:", done);
	else
		snprintf(title, sizeof(title), "Total items to be %s:", done);
	printf("\n%-*s%lld\n", w, title,
	       stow_vcli_int(st, "progress.totalItems"));
	snprintf(title, sizeof(title), "Items %s%s:", done,
		 running ? " so far" : "");
	printf("%-*s%lld\n", w, title, stow_vcli_int(st, progress_key));
}

int stow_vcli_describe_cmd(stow_cli *cli, int argc, char **argv,
			   const char *plural,
			   void (*describe)(stow_vcli *v, const json_t *o,
					    bool details))
{
	enum { OPT_DETAILS = 0x100, OPT_INSECURE, OPT_CACERT };
	static const struct option lo[] = {
	    STOW_VCLI_COMMON_LONGOPTS,
	    {"selector", required_argument, NULL, 'l'},
	    {"details", optional_argument, NULL, OPT_DETAILS},
	    {"output", required_argument, NULL, 'o'},
	    {"insecure-skip-tls-verify", optional_argument, NULL, OPT_INSECURE},
	    {"cacert", required_argument, NULL, OPT_CACERT},
	    {NULL, 0, NULL, 0},
	};
	const char *selector = NULL, *out_fmt = NULL;
	const stow_kube_resource *r;
	int details = 0, ignored = 0, c, ex = 0, fmt = STOW_VCLI_TABLE;
	json_t *items = NULL;
	stow_vcli v;
	size_t i;

	stow_vcli_init(&v, cli);
	stow_cli_opts_begin(cli, "n:l:o:", lo);
	PARSE_OPTIONS(cli, argc, argv, c, ex)
	{
		if (stow_vcli_common_opt(&v, c, optarg))
			continue;
		switch (c) {
		case 'l': selector = optarg; break;
		case 'o': out_fmt = optarg; break;
		case OPT_DETAILS:
			if ((ex = stow_vcli_parse_bool(cli, "--details", optarg,
						       &details)))
				return ex;
			break;
		case OPT_INSECURE:
			if ((ex = stow_vcli_parse_bool(
				 cli, "--insecure-skip-tls-verify", optarg,
				 &ignored)))
				return ex;
			break;
		}
	}
	if ((ex = stow_vcli_parse_output(cli, out_fmt, &fmt)))
		return ex;
	if ((ex = stow_vcli_connect(&v)) ||
	    (ex = stow_vcli_resource(&v, plural, &r)) ||
	    (ex = stow_vcli_get_objects(&v, r, argc, argv, selector, &items)))
		goto out;
	for (i = 0; i < json_array_size(items); i++) {
		if (i)
			printf("\n\n");
		if (fmt != STOW_VCLI_TABLE)
			stow_vcli_print_obj(json_array_get(items, i), fmt);
		else
			describe(&v, json_array_get(items, i), details);
	}
out:
	json_decref(items);
	stow_vcli_done(&v);
	return ex;
}

int stow_vcli_get_cmd(stow_cli *cli, int argc, char **argv,
		      const stow_vcli_list_kind *kd)
{
	enum { OPT_SHOW_LABELS = 0x100 };
	static const struct option lo[] = {
	    STOW_VCLI_COMMON_LONGOPTS,
	    {"selector", required_argument, NULL, 'l'},
	    {"output", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	static const struct option lo_labels[] = {
	    STOW_VCLI_COMMON_LONGOPTS,
	    {"selector", required_argument, NULL, 'l'},
	    {"output", required_argument, NULL, 'o'},
	    {"show-labels", no_argument, NULL, OPT_SHOW_LABELS},
	    {NULL, 0, NULL, 0},
	};
	const char *selector = NULL, *out_fmt = NULL;
	const stow_kube_resource *r;
	json_t *items = NULL, *rows;
	int c, ex = 0, fmt = STOW_VCLI_TABLE;
	stow_vcli v;
	size_t i;

	stow_vcli_init(&v, cli);
	stow_cli_opts_begin(cli, "n:l:o:", kd->show_labels ? lo_labels : lo);
	PARSE_OPTIONS(cli, argc, argv, c, ex)
	{
		if (stow_vcli_common_opt(&v, c, optarg))
			continue;
		if (c == 'l')
			selector = optarg;
		else if (c == 'o')
			out_fmt = optarg;
	}
	if ((ex = stow_vcli_parse_output(cli, out_fmt, &fmt)))
		return ex;
	if ((ex = stow_vcli_connect(&v)) ||
	    (ex = stow_vcli_resource(&v, kd->plural, &r)) ||
	    (ex = stow_vcli_get_objects(&v, r, argc, argv, selector, &items)))
		goto out;
	if (fmt != STOW_VCLI_TABLE) {
		stow_vcli_print_list(kd->list_kind, items, fmt);
		goto out;
	}
	rows = json_array();
	stow_vcli_table_row(rows, kd->ncols, kd->headers);
	for (i = 0; i < json_array_size(items); i++)
		kd->row(rows, json_array_get(items, i));
	stow_vcli_print_table(rows);
	json_decref(rows);
out:
	json_decref(items);
	stow_vcli_done(&v);
	return ex;
}

void stow_vcli_describe_metadata(const json_t *o)
{
	const char *name = stow_vcli_str(o, "metadata.name");
	const char *ns = stow_vcli_str(o, "metadata.namespace");

	printf("%-14s%s\n", "Name:", name ? name : "");
	printf("%-14s%s\n", "Namespace:", ns ? ns : "");
	stow_vcli_print_map_block("Labels:", 14,
				  stow_vcli_get(o, "metadata.labels"));
	stow_vcli_print_map_block("Annotations:", 14,
				  stow_vcli_get(o, "metadata.annotations"));
}

/* --- names, prompts, waits -------------------------------------------------
 */

void stow_vcli_timestamped_name(char *out, size_t n, const char *base)
{
	time_t now = time(NULL);
	struct tm tm;
	char ts[32] = "";

	if (localtime_r(&now, &tm))
		strftime(ts, sizeof(ts), "%Y%m%d%H%M%S", &tm);
	snprintf(out, n, "%s-%s", base, ts);
}

bool stow_vcli_confirm(void)
{
	char line[64];

	fputs("Are you sure you want to continue (Y/N)? ", stdout);
	fflush(stdout);
	if (fgets(line, sizeof(line), stdin) == NULL) {
		fputc('\n', stdout);
		return false;
	}
	return line[0] == 'y' || line[0] == 'Y';
}

void stow_vcli_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

bool stow_vcli_phase_final(const char *phase)
{
	static const char *const done[] = {"Completed", "PartiallyFailed",
					   "Failed", "FailedValidation"};
	size_t i;

	for (i = 0; phase && i < sizeof(done) / sizeof(done[0]); i++)
		if (strcmp(phase, done[i]) == 0)
			return true;
	return false;
}

int stow_vcli_wait_phase(stow_vcli *v, const stow_kube_resource *r,
			 const char *name, const char *noun, const char *done,
			 const char *progress_key)
{
	bool tty = isatty(STDOUT_FILENO);
	char last[160] = "", line[160];
	const char *phase = "New";
	json_t *o = NULL;
	int rc, ex;

	printf("Waiting for %s to complete. You may safely press ctrl-c "
	       "to stop waiting - your %s will continue in the "
	       "background.\n",
	       noun, noun);
	fflush(stdout);
	for (;;) {
		json_decref(o);
		o = NULL;
		rc = stow_kube_get(v->k, r, v->namespace, name, &o);
		if (rc < 0) {
			if (tty)
				fputc('\n', stdout);
			return stow_vcli_fail(v, rc, NULL);
		}
		phase = stow_vcli_str(o, "status.phase");
		if (phase == NULL || *phase == 0)
			phase = "New";
		if (stow_vcli_get(o, "status.progress"))
			snprintf(line, sizeof(line),
				 "%s: %lld of %lld items %s", phase,
				 stow_vcli_int(o, progress_key),
				 stow_vcli_int(o, "status.progress.totalItems"),
				 done);
		else
			snprintf(line, sizeof(line), "%s", phase);
		if (strcmp(line, last) != 0) {
			if (tty)
				printf("\r\033[K%s", line);
			else
				printf("%s\n", line);
			fflush(stdout);
			snprintf(last, sizeof(last), "%s", line);
		}
		if (stow_vcli_phase_final(phase))
			break;
		stow_vcli_sleep_ms(500);
	}
	if (tty)
		fputc('\n', stdout);
	printf("%c%s completed with status: %s. You may check for more "
	       "information using the commands `%s %s describe %s` and "
	       "`%s %s logs %s`.\n",
	       toupper((unsigned char)noun[0]), noun + 1, phase, v->cli->prog,
	       noun, name, v->cli->prog, noun, name);
	if (strcmp(phase, "Completed") == 0)
		ex = STOW_EXIT_OK;
	else if (strcmp(phase, "PartiallyFailed") == 0)
		ex = STOW_EXIT_PARTIAL;
	else
		ex = STOW_EXIT_ERROR;
	json_decref(o);
	return ex;
}

/* --- delete ----------------------------------------------------------------
 */

int stow_vcli_delete_opts(stow_vcli *v, int argc, char **argv, bool *confirm,
			  bool *all, const char **selector)
{
	enum { OPT_CONFIRM = 0x100, OPT_ALL };
	static const struct option lo[] = {
	    STOW_VCLI_COMMON_LONGOPTS,
	    {"confirm", no_argument, NULL, OPT_CONFIRM},
	    {"all", no_argument, NULL, OPT_ALL},
	    {"selector", required_argument, NULL, 'l'},
	    {NULL, 0, NULL, 0},
	};
	int c, ex = 0;

	stow_cli_opts_begin(v->cli, "n:l:", lo);
	while ((c = stow_cli_opts_next(v->cli, argc, argv, &ex)) != -1) {
		if (c == STOW_CLI_OPTS_STOP)
			return ex ? ex : -1;
		if (stow_vcli_common_opt(v, c, optarg))
			continue;
		switch (c) {
		case OPT_CONFIRM: *confirm = true; break;
		case OPT_ALL: *all = true; break;
		case 'l': *selector = optarg; break;
		}
	}
	return 0;
}

int stow_vcli_targets_usage(stow_cli *cli, int argc, bool all,
			    const char *selector)
{
	if ((optind < argc) + all + (selector != NULL) != 1)
		return stow_cli_usage_error(
		    cli, "give names, or --all, or --selector (exactly one of "
			 "them)");
	return 0;
}

int stow_vcli_select_targets(stow_vcli *v, const stow_kube_resource *r,
			     int argc, char **argv, bool all,
			     const char *selector, json_t **items)
{
	int ex;

	if ((ex = stow_vcli_targets_usage(v->cli, argc, all, selector)))
		return ex;
	return stow_vcli_get_objects(v, r, argc, argv, selector, items);
}

int stow_vcli_delete_cmd(stow_cli *cli, int argc, char **argv,
			 const stow_vcli_delete_kind *kd)
{
	const stow_kube_resource *r;
	const char *selector = NULL;
	bool confirm = false, all = false;
	json_t *items = NULL;
	stow_vcli v;
	int ex, rc, errors = 0;
	size_t i;

	stow_vcli_init(&v, cli);
	if ((ex = stow_vcli_delete_opts(&v, argc, argv, &confirm, &all,
					&selector)))
		return ex < 0 ? 0 : ex;
	if (kd->check_first &&
	    (ex = stow_vcli_targets_usage(cli, argc, all, selector)))
		return ex;
	if (!confirm && !stow_vcli_confirm()) {
		printf("Cancelled.\n");
		return 0;
	}
	if ((ex = stow_vcli_connect(&v)) ||
	    (ex = stow_vcli_resource(&v, kd->plural, &r)) ||
	    (ex = stow_vcli_select_targets(&v, r, argc, argv, all, selector,
					   &items)))
		goto out;
	if (json_array_size(items) == 0)
		printf("%s\n", kd->none);
	for (i = 0; i < json_array_size(items); i++) {
		const char *name =
		    stow_vcli_str(json_array_get(items, i), "metadata.name");

		rc = stow_kube_delete(v.k, r, v.namespace, name, NULL, NULL);
		if (rc < 0) {
			stow_vcli_fail(&v, rc, NULL);
			errors++;
			continue;
		}
		kd->deleted(&v, name);
	}
	ex = errors ? STOW_EXIT_ERROR : 0;
out:
	json_decref(items);
	stow_vcli_done(&v);
	return ex;
}

/* --- downloads -------------------------------------------------------------
 */

static int b64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

static int b64_decode(const char *s, stow_buf *out)
{
	uint32_t acc = 0;
	int bits = 0, v;

	for (; *s && *s != '='; s++) {
		if (*s == '\n' || *s == '\r' || *s == ' ')
			continue;
		v = b64_value((unsigned char)*s);
		if (v < 0)
			return stow_err_set(STOW_ECORRUPT,
					    "the download URL's inline data is "
					    "not valid base64");
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (stow_buf_append_u8(out,
					       (uint8_t)(acc >> bits) & 0xff))
				return STOW_ENOMEM;
		}
	}
	return 0;
}

/* RFC 2397: data:[<mediatype>][;base64],<data> */
static int fetch_data_url(const char *url, stow_buf *out)
{
	const char *comma = strchr(url, ',');
	bool b64;

	if (comma == NULL)
		return stow_err_set(STOW_ECORRUPT, "malformed data: URL");
	b64 = comma - url >= 7 && memcmp(comma - 7, ";base64", 7) == 0;
	if (b64)
		return b64_decode(comma + 1, out);
	return stow_buf_append(out, comma + 1, strlen(comma + 1));
}

static size_t curl_sink(char *p, size_t sz, size_t nm, void *ctx)
{
	stow_buf *out = ctx;

	if (stow_buf_append(out, p, sz * nm))
		return 0;
	return sz * nm;
}

static int fetch_http(const char *url, bool insecure, const char *cacert,
		      long timeout_s, stow_buf *out)
{
	CURL *c = curl_easy_init();
	char err[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURLcode cc;

	if (c == NULL)
		return STOW_ENOMEM;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curl_sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	if (timeout_s > 0)
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, timeout_s);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	if (insecure) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (cacert)
		curl_easy_setopt(c, CURLOPT_CAINFO, cacert);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (cc != CURLE_OK)
		return stow_err_set(STOW_EIO, "fetching the download URL: %s",
				    err[0] ? err : curl_easy_strerror(cc));
	if (status == 404)
		return stow_err_set(STOW_ENOTFOUND,
				    "the object is not in the backup "
				    "location (HTTP 404)");
	if (status / 100 != 2)
		return stow_err_set(
		    STOW_EIO, "fetching the download URL: HTTP %ld", status);
	return 0;
}

/* stowage-fs://<bsl>/<key>: the object lives in a filesystem location too
 * large (or absent) to come inline. It can be read here only if the
 * location's directory is mounted at the same path on this machine
 * (docs/server-locations.md); $STOWAGE_FS_ROOT is the server's --fs-root
 * as seen from here. */
static int fetch_fs_url(stow_vcli *v, const char *url, stow_buf *out)
{
	const char *rest = url + strlen("stowage-fs://");
	const char *slash = strchr(rest, '/');
	const stow_kube_resource *r;
	const char *root = getenv("STOWAGE_FS_ROOT"), *dir;
	json_t *bsl = NULL;
	char *name, path[4096];
	FILE *f;
	int rc;

	if (slash == NULL)
		return stow_err_set(STOW_ECORRUPT, "malformed URL %s", url);
	name = strndup(rest, (size_t)(slash - rest));
	if (name == NULL)
		return STOW_ENOMEM;
	r = stow_vcli_kind("backupstoragelocations");
	rc = stow_kube_get(v->k, r, v->namespace, name, &bsl);
	free(name);
	if (rc < 0)
		return rc;
	dir = stow_vcli_str(bsl, "spec.config.path");
	if (dir == NULL)
		dir = stow_vcli_str(bsl, "spec.objectStorage.bucket");
	if (dir == NULL || strstr(slash + 1, "..")) {
		json_decref(bsl);
		return stow_err_set(STOW_EINVAL, "cannot resolve %s", url);
	}
	snprintf(path, sizeof(path), "%s%s%s/%s", root ? root : "",
		 root && dir[0] != '/' ? "/" : "", dir, slash + 1);
	json_decref(bsl);
	f = fopen(path, "rb");
	if (f == NULL)
		return stow_err_set(
		    STOW_ENOTFOUND,
		    "the object is in a filesystem location and too large to "
		    "pass through the Kubernetes API (or missing); it can "
		    "only be read where the location's directory is mounted "
		    "(%s: %s; set STOWAGE_FS_ROOT to the server's --fs-root "
		    "as mounted here)",
		    path, strerror(errno));
	for (;;) {
		char chunk[65536];
		size_t n = fread(chunk, 1, sizeof(chunk), f);

		if (n == 0)
			break;
		if (stow_buf_append(out, chunk, n)) {
			fclose(f);
			return STOW_ENOMEM;
		}
	}
	rc = ferror(f) ? stow_err_set(STOW_EIO, "reading %s", path) : 0;
	fclose(f);
	return rc;
}

static void random_suffix(char *out, size_t n)
{
	unsigned char b[16];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	size_t i;

	if (fd < 0 || read(fd, b, sizeof(b)) != (ssize_t)sizeof(b))
		for (i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)(rand() ^ (int)time(NULL));
	if (fd >= 0)
		close(fd);
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, n,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%"
		 "02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
		 b[10], b[11], b[12], b[13], b[14], b[15]);
}

int stow_vcli_download(stow_vcli *v, const char *kind, const char *name,
		       long timeout_s, bool insecure, const char *cacert,
		       stow_buf *out)
{
	const stow_kube_resource *r;
	char reqname[320], uuid[40];
	json_t *req, *got = NULL;
	const char *url = NULL;
	double deadline;
	int ex, rc;

	if ((ex = stow_vcli_resource(v, "downloadrequests", &r)))
		return ex;
	random_suffix(uuid, sizeof(uuid));
	snprintf(reqname, sizeof(reqname), "%.200s-%s", name, uuid);
	req = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:{s:s,s:s}}}", "kind",
			"DownloadRequest", "apiVersion", "velero.io/v1",
			"metadata", "name", reqname, "namespace", v->namespace,
			"spec", "target", "kind", kind, "name", name);
	rc = stow_kube_create(v->k, r, v->namespace, req, NULL);
	json_decref(req);
	if (rc < 0)
		return stow_vcli_fail(v, rc, NULL);
	deadline = stow_cli_monotonic() + (double)timeout_s;
	for (;;) {
		json_decref(got);
		got = NULL;
		rc = stow_kube_get(v->k, r, v->namespace, reqname, &got);
		if (rc < 0 && rc != STOW_ENOTFOUND)
			break;
		url = stow_vcli_str(got, "status.downloadURL");
		if (url && *url)
			break;
		if (stow_cli_monotonic() > deadline) {
			rc = stow_err_set(
			    STOW_ETIMEOUT,
			    "timed out waiting for download URL (is the "
			    "server running? check `kubectl -n %s get pods`)",
			    v->namespace);
			break;
		}
		stow_vcli_sleep_ms(250);
	}
	if (rc == 0) {
		if (strncmp(url, "data:", 5) == 0)
			rc = fetch_data_url(url, out);
		else if (strncmp(url, "http://", 7) == 0 ||
			 strncmp(url, "https://", 8) == 0)
			rc = fetch_http(url, insecure, cacert, timeout_s, out);
		else if (strncmp(url, "stowage-fs://", 13) == 0)
			rc = fetch_fs_url(v, url, out);
		else
			rc = stow_err_set(STOW_EUNSUPPORTED,
					  "unsupported download URL scheme");
	}
	json_decref(got);
	/* The server would expire it in 10 minutes; tidy up now. */
	stow_kube_delete(v->k, r, v->namespace, reqname, NULL, NULL);
	if (rc < 0)
		return stow_vcli_fail(v, rc, NULL);
	return 0;
}

int stow_vcli_gunzip(const stow_buf *in, stow_buf *out)
{
	z_stream z;
	size_t off = 0;
	int zr = Z_OK;

	while (off < in->len) {
		memset(&z, 0, sizeof(z));
		if (inflateInit2(&z, 15 + 16) != Z_OK)
			return STOW_ENOMEM;
		z.next_in = (Bytef *)in->data + off;
		z.avail_in = (uInt)(in->len - off);
		do {
			unsigned char chunk[65536];

			z.next_out = chunk;
			z.avail_out = sizeof(chunk);
			zr = inflate(&z, Z_NO_FLUSH);
			if (zr != Z_OK && zr != Z_STREAM_END) {
				inflateEnd(&z);
				return stow_err_set(
				    STOW_ECORRUPT,
				    "the downloaded object is not valid "
				    "gzip (%s)",
				    z.msg ? z.msg : "truncated");
			}
			if (stow_buf_append(out, chunk,
					    sizeof(chunk) - z.avail_out)) {
				inflateEnd(&z);
				return stow_err_set(STOW_ENOMEM,
						    "the downloaded object "
						    "is larger than 1 GiB");
			}
		} while (zr != Z_STREAM_END && z.avail_in > 0);
		off = in->len - z.avail_in;
		inflateEnd(&z);
		if (zr != Z_STREAM_END)
			return stow_err_set(STOW_ECORRUPT,
					    "the downloaded object is "
					    "truncated gzip");
	}
	return 0;
}

/* One side of a Result: {"velero": [..], "cluster": [..], "namespaces":
 * {"ns": [..]}}, as Velero's describers print it. Untrusted shapes are
 * skipped. */
static void print_result_side(const char *title, const json_t *r)
{
	static const char *const top[] = {"velero", "Velero:", "cluster",
					  "Cluster:"};
	const json_t *nss = json_object_get(r, "namespaces");
	const char *ns;
	json_t *msgs;
	size_t i, j;

	printf("%s:\n", title);
	for (i = 0; i < 4; i += 2) {
		const json_t *arr = json_object_get(r, top[i]);

		if (json_array_size(arr) == 0) {
			printf("  %-12s<none>\n", top[i + 1]);
			continue;
		}
		for (j = 0; j < json_array_size(arr); j++) {
			const char *m =
			    json_string_value(json_array_get(arr, j));

			printf("  %-12s", j ? "" : top[i + 1]);
			stow_cli_print_escaped(stdout, m ? m : "",
					       strlen(m ? m : ""));
			fputc('\n', stdout);
		}
	}
	if (json_object_size(nss) == 0) {
		printf("  %-12s<none>\n", "Namespaces:");
		return;
	}
	printf("  Namespaces:\n");
	json_object_foreach((json_t *)nss, ns, msgs)
	{
		for (j = 0; j < json_array_size(msgs); j++) {
			const char *m =
			    json_string_value(json_array_get(msgs, j));

			if (j == 0)
				printf("    %s:  ", ns);
			else
				printf("    %*s", (int)strlen(ns) + 3, "");
			stow_cli_print_escaped(stdout, m ? m : "",
					       strlen(m ? m : ""));
			fputc('\n', stdout);
		}
	}
}

void stow_vcli_describe_results(stow_vcli *v, const char *kind,
				const char *name)
{
	stow_buf raw, plain;
	json_t *res = NULL;

	stow_buf_init(&raw, 0);
	stow_buf_init(&plain, 1u << 26);
	fflush(stdout);
	/* json_is_object() evaluates its argument twice: load first. */
	if (stow_vcli_download(v, kind, name, 60, false, NULL, &raw) == 0 &&
	    stow_vcli_gunzip(&raw, &plain) == 0)
		res = json_loadb((const char *)plain.data, plain.len, 0, NULL);
	if (!json_is_object(res)) {
		printf("\n<error getting %s>\n",
		       strncmp(kind, "Restore", 7) == 0 ? "restore results"
							: "backup results");
		goto out;
	}
	printf("\n");
	print_result_side("Warnings", json_object_get(res, "warnings"));
	printf("\n");
	print_result_side("Errors", json_object_get(res, "errors"));
out:
	json_decref(res);
	stow_buf_free(&raw);
	stow_buf_free(&plain);
}

/* Velero's --details: the resources a backup or restore handled. */
void stow_vcli_describe_resource_list(stow_vcli *v, const char *kind,
				      const char *name)
{
	stow_buf raw, plain;
	json_t *list;
	const char *key;
	json_t *val;

	stow_buf_init(&raw, 0);
	stow_buf_init(&plain, 0);
	printf("\nResource List:\n");
	fflush(stdout);
	if (stow_vcli_download(v, kind, name, 60, false, NULL, &raw) != 0 ||
	    stow_vcli_gunzip(&raw, &plain) != 0) {
		printf("  <error getting resource list>\n");
		goto out;
	}
	list = json_loadb((const char *)plain.data, plain.len, 0, NULL);
	if (!json_is_object(list)) {
		printf("  <error: the resource list is not a JSON object>\n");
		json_decref(list);
		goto out;
	}
	json_object_foreach(list, key, val)
	{
		size_t i;

		printf("  %s:\n", key);
		for (i = 0; i < json_array_size(val); i++)
			printf("    - %s\n",
			       json_string_value(json_array_get(val, i)));
	}
	json_decref(list);
out:
	stow_buf_free(&raw);
	stow_buf_free(&plain);
}

/* --- version
 * ------------------------------------------------------------------ */

enum { OPT_CLIENT_ONLY = 0x100, OPT_TIMEOUT };

/* The server's version through a ServerStatusRequest, as Velero's CLI
 * asks it; *out is allocated. */
static int server_version(stow_vcli *v, long timeout_s, char **out)
{
	const stow_kube_resource *r;
	json_t *req, *made = NULL, *got = NULL;
	const char *name;
	double deadline;
	int rc;

	*out = NULL;
	r = stow_vcli_kind("serverstatusrequests");
	req = json_pack("{s:s,s:s,s:{s:s,s:s},s:{}}", "kind",
			"ServerStatusRequest", "apiVersion", "velero.io/v1",
			"metadata", "generateName", "velero-cli-", "namespace",
			v->namespace, "spec");
	rc = stow_kube_create(v->k, r, v->namespace, req, &made);
	json_decref(req);
	if (rc < 0)
		return rc;
	name = stow_vcli_str(made, "metadata.name");
	deadline = stow_cli_monotonic() + (double)timeout_s;
	for (;;) {
		const char *phase;

		json_decref(got);
		got = NULL;
		rc = stow_kube_get(v->k, r, v->namespace, name, &got);
		if (rc < 0)
			break;
		phase = stow_vcli_str(got, "status.phase");
		if (phase && strcmp(phase, "Processed") == 0) {
			const char *sv =
			    stow_vcli_str(got, "status.serverVersion");

			*out = strdup(sv ? sv : "");
			break;
		}
		if (stow_cli_monotonic() > deadline) {
			rc = stow_err_set(STOW_ETIMEOUT,
					  "timed out waiting for server "
					  "status request to be processed");
			break;
		}
		stow_vcli_sleep_ms(200);
	}
	json_decref(got);
	json_decref(made);
	return rc;
}

int stow_vcli_version_run(stow_cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {
	    STOW_VCLI_COMMON_LONGOPTS,
	    {"client-only", optional_argument, NULL, OPT_CLIENT_ONLY},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {NULL, 0, NULL, 0},
	};
	bool velero_style = strcmp(cli->prog, "velero") == 0;
	int client_only = 0, c, ex = 0, rc;
	long timeout_s = 5;
	stow_vcli v;
	char *sv = NULL;

	stow_vcli_init(&v, cli);
	stow_cli_opts_begin(cli, "n:", lo);
	PARSE_OPTIONS(cli, argc, argv, c, ex)
	{
		if (stow_vcli_common_opt(&v, c, optarg)) {
			velero_style = true;
			continue;
		}
		switch (c) {
		case OPT_CLIENT_ONLY:
			if ((ex = stow_vcli_parse_bool(cli, "--client-only",
						       optarg, &client_only)))
				return ex;
			velero_style = true;
			break;
		case OPT_TIMEOUT:
			if ((ex = stow_vcli_parse_timeout(cli, "--timeout",
							  optarg, &timeout_s)))
				return ex;
			velero_style = true;
			break;
		}
	}
	if ((ex = stow_cli_need_operands(cli, argc, argv, 0, 0)))
		return ex;
	if (!velero_style) {
		/* stowage's own form, as before the Velero commands. */
		if (cli->json)
			printf("{\"version\":\"%s\",\"vault_format\":%d}\n",
			       STOW_VERSION, STOW_FORMAT_VERSION);
		else
			printf("%s %s\nvault format: %d\n", cli->prog,
			       STOW_VERSION, STOW_FORMAT_VERSION);
		return 0;
	}
	printf("Client:\n\tVersion: %s\n\tGit commit: <unknown>\n",
	       STOW_VERSION);
	if (client_only)
		return 0;
	fflush(stdout);
	ex = stow_vcli_connect(&v);
	if (ex) {
		stow_vcli_done(&v);
		return ex;
	}
	rc = server_version(&v, timeout_s, &sv);
	if (rc < 0) {
		const char *m = stow_err_msg();

		printf("<error getting server version: %s>\n",
		       m && *m ? m : stow_err_name(rc));
	} else {
		printf("Server:\n\tVersion: %s\n", sv);
		if (strcmp(sv, STOW_VERSION) != 0)
			printf("# WARNING: the client version does not match "
			       "the server version. Please update client\n");
	}
	free(sv);
	stow_vcli_done(&v);
	return 0;
}
