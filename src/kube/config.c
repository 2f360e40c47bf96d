/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Client configuration: kubeconfig files (read with libyaml, merged as
 * kubectl merges them), in-cluster service-account configuration, and exec
 * credential plugins. Design note: docs/kube-client.md.
 *
 * Every input here is untrusted: kubeconfig files are size-capped, the YAML
 * is turned into a jansson tree with a depth and node cap (aliases are
 * refused, so no "billion laughs"), every field is type-checked, and errors
 * name the file, the context and the field.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#include "crypto/crypto.h"
#include "kube/kube_internal.h"
#include "util/err.h"

extern char **environ;

#define KUBECONFIG_MAX ((size_t)16 << 20)
#define REF_FILE_MAX ((size_t)4 << 20)
#define YAML_DEPTH_MAX 64
#define YAML_NODES_MAX 200000
#define EXEC_OUT_MAX ((size_t)1 << 20)
#define EXEC_ERR_KEEP 512
#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define EXEC_V1 "client.authentication.k8s.io/v1"
#define EXEC_V1BETA1 "client.authentication.k8s.io/v1beta1"

#define _cleanup_json_ _cleanup_(json_decrefp)

static void config_freep(stow_kube_config **c)
{
	stow_kube_config_free(*c);
}

/* ---- small helpers ------------------------------------------------------ */

/* Read a whole file, at most `max` bytes (more is STOW_EINVAL). With
 * regular_only, devices and FIFOs are refused without blocking on them. */
static int read_capped(const char *path, size_t max, bool regular_only,
		       const char *what, char **out, size_t *out_len)
{
	_cleanup_(stow_buf_freep) stow_buf b = {0};
	struct stat st;
	int fd;

	stow_buf_init(&b, max + 1);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
			    (regular_only ? O_NONBLOCK : 0));
	if (fd < 0)
		return stow_err_set(errno == ENOENT ? STOW_ENOTFOUND : STOW_EIO,
				    "%s %s: %s", what, path, strerror(errno));
	if (fstat(fd, &st) != 0 || (regular_only && !S_ISREG(st.st_mode)) ||
	    S_ISDIR(st.st_mode)) {
		close(fd);
		return stow_err_set(STOW_EINVAL, "%s %s: not a regular file",
				    what, path);
	}
	for (;;) {
		ssize_t n;

		if (stow_buf_reserve(&b, 65536 < max + 1 - b.len
					     ? 65536
					     : max + 1 - b.len) < 0 ||
		    b.len > max) {
			close(fd);
			return stow_err_set(STOW_EINVAL,
					    "%s %s: larger than %zu bytes",
					    what, path, max);
		}
		n = read(fd, b.data + b.len, b.cap - b.len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			close(fd);
			errno = e;
			return stow_err_set(STOW_EIO, "%s %s: %s", what, path,
					    strerror(e));
		}
		if (n == 0)
			break;
		b.len += (size_t)n;
		if (b.len > max) {
			close(fd);
			return stow_err_set(STOW_EINVAL,
					    "%s %s: larger than %zu bytes",
					    what, path, max);
		}
	}
	close(fd);
	if (stow_buf_append_u8(&b, 0) < 0)
		return STOW_ENOMEM;
	b.len--;
	*out_len = b.len;
	*out = (char *)stow_buf_steal(&b, NULL);
	return 0;
}

int stow_kube_read_file(const char *path, size_t max, const char *what,
			char **out, size_t *len)
{
	return read_capped(path, max, true, what, out, len);
}

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int stow_kube_b64_decode(const char *in, size_t in_len, char **out, size_t *len)
{
	char *o = malloc(in_len / 4 * 3 + 4);
	size_t n = 0, pad = 0, nd = 0;
	uint32_t acc = 0;

	if (!o)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	for (size_t i = 0; i < in_len; i++) {
		unsigned char c = (unsigned char)in[i];
		int v;

		if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		v = b64val(c);
		if (v < 0 || pad) {
			free(o);
			return stow_err_set(STOW_EINVAL,
					    "invalid base64 at offset %zu", i);
		}
		acc = acc << 6 | (uint32_t)v;
		if (++nd % 4 == 0) {
			o[n++] = (char)(acc >> 16);
			o[n++] = (char)(acc >> 8);
			o[n++] = (char)acc;
			acc = 0;
		}
	}
	switch (nd % 4) {
	case 0: break;
	case 2: o[n++] = (char)(acc >> 4); break;
	case 3:
		o[n++] = (char)(acc >> 10);
		o[n++] = (char)(acc >> 2);
		break;
	default:
		free(o);
		return stow_err_set(STOW_EINVAL, "invalid base64 length");
	}
	if (pad > 2 || (pad && (nd + pad) % 4 != 0)) {
		free(o);
		return stow_err_set(STOW_EINVAL, "invalid base64 padding");
	}
	o[n] = '\0';
	*out = o;
	*len = n;
	return 0;
}

int stow_kube_b64_encode(const void *in, size_t len, char **out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = in;
	size_t olen;
	char *o;
	size_t j = 0;

	if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
		return stow_err_set(STOW_ENOMEM, "base64 input too long");
	olen = (len + 2) / 3 * 4;
	o = malloc(olen + 1);
	if (!o)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		o[j++] = tab[v >> 18 & 63];
		o[j++] = tab[v >> 12 & 63];
		o[j++] = i + 1 < len ? tab[v >> 6 & 63] : '=';
		o[j++] = i + 2 < len ? tab[v & 63] : '=';
	}
	o[j] = '\0';
	*out = o;
	return 0;
}

static int digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

int stow_kube_parse_time(const char *s, time_t *out)
{
	struct tm tm = {0};
	int y, mo, d, h, mi, sec, oh = 0, om = 0;
	const char *p;
	time_t t;

	if (strlen(s) < 20 || digits(s, 4, &y) || s[4] != '-' ||
	    digits(s + 5, 2, &mo) || s[7] != '-' || digits(s + 8, 2, &d) ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) ||
	    s[16] != ':' || digits(s + 17, 2, &sec))
		goto bad;
	p = s + 19;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			goto bad;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		if (digits(p + 1, 2, &oh) || p[3] != ':' ||
		    digits(p + 4, 2, &om))
			goto bad;
		if (*p == '-') {
			oh = -oh;
			om = -om;
		}
		p += 6;
	} else {
		goto bad;
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60)
		goto bad;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		goto bad;
	*out = t - (time_t)(oh * 3600 + om * 60);
	return 0;
bad:
	return stow_err_set(STOW_EINVAL, "invalid RFC 3339 time \"%.40s\"", s);
}

/* ---- YAML to a jansson tree -------------------------------------------- */

/* Scalars become strings (null for a plain "", "~", "null"); fields are
 * type-checked when they are read, as the kubeconfig schema says. */
typedef struct yframe {
	json_t *node;
	char *key; /* a mapping's pending key */
} yframe;

static bool plain_null(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") ||
	       !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static int yaml_error(const char *name, const yaml_parser_t *p)
{
	return stow_err_set(STOW_EINVAL, "%s: invalid YAML at line %zu: %s%s%s",
			    name, (size_t)p->problem_mark.line + 1,
			    p->problem ? p->problem : "parse error",
			    p->context ? " " : "",
			    p->context ? p->context : "");
}

static int yaml_to_json(const char *data, size_t len, const char *name,
			json_t **out)
{
	yaml_parser_t p;
	yframe st[YAML_DEPTH_MAX];
	int depth = 0, rc = 0;
	size_t nodes = 0;
	json_t *root = NULL;
	bool done = false;

	if (!yaml_parser_initialize(&p))
		return stow_err_set(STOW_ENOMEM, "out of memory");
	yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
	while (!done && rc == 0) {
		yaml_event_t ev;
		json_t *v = NULL;
		size_t line;

		if (!yaml_parser_parse(&p, &ev)) {
			rc = yaml_error(name, &p);
			break;
		}
		line = (size_t)ev.start_mark.line + 1;
		switch (ev.type) {
		case YAML_DOCUMENT_END_EVENT:
		case YAML_STREAM_END_EVENT:
			/* Only the first document counts, as for kubectl. */
			done = true;
			break;
		case YAML_ALIAS_EVENT:
			rc = stow_err_set(STOW_EINVAL,
					  "%s: line %zu: YAML aliases are not "
					  "supported in kubeconfig files",
					  name, line);
			break;
		case YAML_SCALAR_EVENT:
			v = plain_null(&ev)
				? json_null()
				: json_stringn(
				      (const char *)ev.data.scalar.value,
				      ev.data.scalar.length);
			if (!v)
				rc =
				    stow_err_set(STOW_EINVAL,
						 "%s: line %zu: a value is not "
						 "valid UTF-8",
						 name, line);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			v = ev.type == YAML_SEQUENCE_START_EVENT
				? json_array()
				: json_object();
			if (!v)
				rc = stow_err_set(STOW_ENOMEM, "out of memory");
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			assert(depth > 0);
			free(st[depth - 1].key);
			depth--;
			break;
		default: break;
		}
		if (v && rc == 0 && ++nodes > YAML_NODES_MAX)
			rc = stow_err_set(STOW_EINVAL,
					  "%s: more than %d YAML nodes", name,
					  YAML_NODES_MAX);
		if (v && rc == 0) {
			bool container = json_is_object(v) || json_is_array(v);
			yframe *top = depth ? &st[depth - 1] : NULL;

			if (!top) {
				root = json_incref(v);
			} else if (json_is_array(top->node)) {
				if (json_array_append(top->node, v) != 0)
					rc = stow_err_set(STOW_ENOMEM,
							  "out of memory");
			} else if (!top->key) {
				if (!json_is_string(v))
					rc = stow_err_set(
					    STOW_EINVAL,
					    "%s: line %zu: a mapping key must "
					    "be a string",
					    name, line);
				else if (!(top->key =
					       strdup(json_string_value(v))))
					rc = stow_err_set(STOW_ENOMEM,
							  "out of memory");
				else if (json_object_get(top->node, top->key))
					rc = stow_err_set(
					    STOW_EINVAL,
					    "%s: line %zu: duplicate key "
					    "\"%.64s\"",
					    name, line, top->key);
			} else {
				if (json_object_set(top->node, top->key, v) !=
				    0)
					rc = stow_err_set(STOW_ENOMEM,
							  "out of memory");
				free(top->key);
				top->key = NULL;
			}
			if (rc == 0 && container) {
				if (depth == YAML_DEPTH_MAX)
					rc = stow_err_set(
					    STOW_EINVAL,
					    "%s: line %zu: nested deeper than "
					    "%d levels",
					    name, line, YAML_DEPTH_MAX);
				else
					st[depth++] = (yframe){v, NULL};
			}
		}
		json_decref(v);
		yaml_event_delete(&ev);
	}
	while (depth > 0)
		free(st[--depth].key);
	yaml_parser_delete(&p);
	if (rc < 0) {
		json_decref(root);
		return rc;
	}
	if (!root || json_is_null(root)) {
		json_decref(root);
		root = json_object(); /* an empty file is an empty config */
		if (!root)
			return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	if (!json_is_object(root)) {
		json_decref(root);
		return stow_err_set(STOW_EINVAL,
				    "%s: a kubeconfig must be a YAML mapping",
				    name);
	}
	*out = root;
	return 0;
}

/* ---- merging ------------------------------------------------------------ */

/* The merged view of one or more files: named clusters, users and contexts
 * each as {"v": <the entry's body>, "file": <path>}, first file wins. */
typedef struct kc_set {
	json_t *clusters, *users, *contexts;
	char *current_context;
	stow_buf files; /* "a:b:c" for messages */
} kc_set;

static void kc_set_free(kc_set *s)
{
	json_decref(s->clusters);
	json_decref(s->users);
	json_decref(s->contexts);
	free(s->current_context);
	stow_buf_free(&s->files);
}

static int kc_set_init(kc_set *s)
{
	memset(s, 0, sizeof(*s));
	stow_buf_init(&s->files, 1 << 16);
	s->clusters = json_object();
	s->users = json_object();
	s->contexts = json_object();
	if (!s->clusters || !s->users || !s->contexts)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	return 0;
}

static int merge_list(json_t *into, json_t *doc, const char *list,
		      const char *inner, const char *file)
{
	json_t *arr = json_object_get(doc, list), *item;
	size_t i;

	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return stow_err_set(STOW_EINVAL, "%s: \"%s\" must be a list",
				    file, list);
	json_array_foreach(arr, i, item)
	{
		json_t *name, *body, *e;

		if (!json_is_object(item))
			return stow_err_set(STOW_EINVAL,
					    "%s: %s[%zu] must be a mapping",
					    file, list, i);
		name = json_object_get(item, "name");
		if (!json_is_string(name) || !*json_string_value(name))
			return stow_err_set(STOW_EINVAL,
					    "%s: %s[%zu] has no name", file,
					    list, i);
		body = json_object_get(item, inner);
		if (body && !json_is_null(body) && !json_is_object(body))
			return stow_err_set(STOW_EINVAL,
					    "%s: %s \"%.128s\": \"%s\" must be "
					    "a mapping",
					    file, list, json_string_value(name),
					    inner);
		if (json_object_get(into, json_string_value(name)))
			continue; /* the first file to set a name wins */
		e = json_pack("{s:O,s:s}", "v",
			      body && json_is_object(body) ? body : json_null(),
			      "file", file);
		if (!e ||
		    json_object_set_new(into, json_string_value(name), e) != 0)
			return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	return 0;
}

static int kc_set_add(kc_set *s, const char *data, size_t len, const char *file)
{
	_cleanup_json_ json_t *doc = NULL;
	json_t *cc;

	STOW_TRY(yaml_to_json(data, len, file, &doc));
	STOW_TRY(merge_list(s->clusters, doc, "clusters", "cluster", file));
	STOW_TRY(merge_list(s->users, doc, "users", "user", file));
	STOW_TRY(merge_list(s->contexts, doc, "contexts", "context", file));
	cc = json_object_get(doc, "current-context");
	if (cc && !json_is_null(cc) && !json_is_string(cc))
		return stow_err_set(
		    STOW_EINVAL, "%s: current-context must be a string", file);
	if (!s->current_context && json_is_string(cc) &&
	    *json_string_value(cc) &&
	    !(s->current_context = strdup(json_string_value(cc))))
		return stow_err_set(STOW_ENOMEM, "out of memory");
	if (stow_buf_printf(&s->files, "%s%s", s->files.len ? ":" : "", file) <
	    0)
		stow_err_clear(); /* only for messages; a long list is cut */
	return 0;
}

/* ---- resolving one context into a stow_kube_config ---------------------- */

typedef struct field_ctx {
	const char *file; /* where the entry came from */
	const char *kind; /* "cluster", "user", "context" */
	const char *name;
} field_ctx;

static int bad_field(const field_ctx *f, const char *field, const char *why)
{
	return stow_err_set(STOW_EINVAL, "%s: %s \"%.128s\": %s %s", f->file,
			    f->kind, f->name, field, why);
}

/* *out borrows the string, NULL when absent. */
static int get_str(const field_ctx *f, json_t *obj, const char *field,
		   const char **out)
{
	json_t *v = json_object_get(obj, field);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return bad_field(f, field, "must be a string");
	if (strlen(json_string_value(v)) != json_string_length(v))
		return bad_field(f, field, "contains a NUL byte");
	*out = *json_string_value(v) ? json_string_value(v) : NULL;
	return 0;
}

static int get_bool(const field_ctx *f, json_t *obj, const char *field,
		    bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "y"};
	static const char *const no[] = {"false", "no", "off", "n"};
	const char *v;

	STOW_TRY(get_str(f, obj, field, &v));
	*out = false;
	if (!v)
		return 0;
	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(v, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(v, no[i]))
			return 0;
	}
	return bad_field(f, field, "must be true or false");
}

/* A path relative to the directory of the file that named it. */
static int resolve_path(const char *file, const char *path, char **out)
{
	const char *slash = strrchr(file, '/');
	_cleanup_(stow_buf_freep) stow_buf b = {0};

	stow_buf_init(&b, PATH_MAX + 1);
	if (path[0] == '/' || !slash)
		STOW_TRY(stow_buf_append_str(&b, path));
	else if (slash == file)
		STOW_TRY(stow_buf_printf(&b, "/%s", path));
	else
		STOW_TRY(stow_buf_printf(&b, "%.*s/%s", (int)(slash - file),
					 file, path));
	*out = (char *)stow_buf_steal(&b, NULL);
	return *out ? 0 : stow_err_set(STOW_ENOMEM, "out of memory");
}

/* The PEM bytes from "<field>-data" (base64) or "<field>" (a file). */
static int get_pem(const field_ctx *f, json_t *obj, const char *field,
		   char **out)
{
	char data_field[64];
	const char *data, *path;
	size_t len;
	int rc;

	*out = NULL;
	snprintf(data_field, sizeof(data_field), "%s-data", field);
	STOW_TRY(get_str(f, obj, data_field, &data));
	STOW_TRY(get_str(f, obj, field, &path));
	if (data) {
		rc = stow_kube_b64_decode(data, strlen(data), out, &len);
		if (rc < 0)
			return stow_err_wrap(STOW_EINVAL,
					     "%s: %s \"%.128s\": %s", f->file,
					     f->kind, f->name, data_field);
		if (strlen(*out) != len) {
			free(*out);
			*out = NULL;
			return bad_field(f, data_field,
					 "decodes to bytes that are not PEM");
		}
		return 0;
	}
	if (path) {
		_cleanup_free_ char *full = NULL;

		STOW_TRY(resolve_path(f->file, path, &full));
		rc =
		    read_capped(full, REF_FILE_MAX, true, "reading", out, &len);
		if (rc < 0)
			return stow_err_wrap(rc, "%s: %s \"%.128s\": %s",
					     f->file, f->kind, f->name, field);
		if (strlen(*out) != len) {
			free(*out);
			*out = NULL;
			return bad_field(f, field,
					 "names a file that is not PEM");
		}
	}
	return 0;
}

static int resolve_cluster(stow_kube_config *c, const field_ctx *f, json_t *cl)
{
	const char *server, *sni;
	size_t n;

	STOW_TRY(get_str(f, cl, "server", &server));
	if (!server)
		return bad_field(f, "server", "is not set");
	if (strncmp(server, "https://", 8) != 0 &&
	    strncmp(server, "http://", 7) != 0)
		return bad_field(f, "server",
				 "must start with https:// or http://");
	for (const char *p = server; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return bad_field(f, "server",
					 "contains a space or control byte");
	if (!(c->server = strdup(server)))
		return stow_err_set(STOW_ENOMEM, "out of memory");
	n = strlen(c->server);
	while (n > 8 && c->server[n - 1] == '/')
		c->server[--n] = '\0';
	STOW_TRY(get_pem(f, cl, "certificate-authority", &c->ca_pem));
	STOW_TRY(get_bool(f, cl, "insecure-skip-tls-verify",
			  &c->insecure_skip_tls_verify));
	STOW_TRY(get_str(f, cl, "tls-server-name", &sni));
	if (sni && !(c->tls_server_name = strdup(sni)))
		return stow_err_set(STOW_ENOMEM, "out of memory");
	return 0;
}

static int str_list(const field_ctx *f, json_t *arr, const char *field,
		    char ***out)
{
	size_t i, n = json_array_size(arr);
	json_t *v;
	char **l;

	if (arr && !json_is_null(arr) && !json_is_array(arr))
		return bad_field(f, field, "must be a list");
	l = calloc(n + 1, sizeof(*l));
	if (!l)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	*out = l;
	json_array_foreach(arr, i, v)
	{
		if (!json_is_string(v) ||
		    strlen(json_string_value(v)) != json_string_length(v))
			return bad_field(f, field, "must hold only strings");
		if (!(l[i] = strdup(json_string_value(v))))
			return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	return 0;
}

static int resolve_exec(stow_kube_config *c, const field_ctx *f, json_t *ex)
{
	const char *cmd, *api;
	json_t *env, *e;
	size_t i;

	if (!json_is_object(ex))
		return bad_field(f, "exec", "must be a mapping");
	STOW_TRY(get_str(f, ex, "command", &cmd));
	if (!cmd)
		return bad_field(f, "exec.command", "is not set");
	STOW_TRY(get_str(f, ex, "apiVersion", &api));
	if (!api)
		return bad_field(f, "exec.apiVersion", "is not set");
	if (strcmp(api, EXEC_V1) != 0 && strcmp(api, EXEC_V1BETA1) != 0)
		return stow_err_set(STOW_EUNSUPPORTED,
				    "%s: user \"%.128s\": exec.apiVersion "
				    "%.80s is not supported (use " EXEC_V1
				    " or " EXEC_V1BETA1 ")",
				    f->file, f->name, api);
	/* client-go resolves a command against the kubeconfig's directory
	 * only when it names a path; a bare name is looked up in $PATH. */
	if (strchr(cmd, '/'))
		STOW_TRY(resolve_path(f->file, cmd, &c->exec.command));
	else if (!(c->exec.command = strdup(cmd)))
		return stow_err_set(STOW_ENOMEM, "out of memory");
	if (!(c->exec.api_version = strdup(api)))
		return stow_err_set(STOW_ENOMEM, "out of memory");
	STOW_TRY(str_list(f, json_object_get(ex, "args"), "exec.args",
			  &c->exec.args));
	STOW_TRY(get_bool(f, ex, "provideClusterInfo",
			  &c->exec.provide_cluster_info));
	env = json_object_get(ex, "env");
	if (env && !json_is_null(env) && !json_is_array(env))
		return bad_field(f, "exec.env", "must be a list");
	c->exec.env = calloc(json_array_size(env) + 1, sizeof(char *));
	if (!c->exec.env)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	json_array_foreach(env, i, e)
	{
		const char *name, *value;
		_cleanup_(stow_buf_freep) stow_buf b = {0};

		stow_buf_init(&b, 0);
		if (!json_is_object(e))
			return bad_field(f, "exec.env",
					 "must hold {name, value} mappings");
		STOW_TRY(get_str(f, e, "name", &name));
		STOW_TRY(get_str(f, e, "value", &value));
		if (!name || strchr(name, '='))
			return bad_field(f, "exec.env",
					 "has an entry without a valid name");
		STOW_TRY(
		    stow_buf_printf(&b, "%s=%s", name, value ? value : ""));
		c->exec.env[i] = (char *)stow_buf_steal(&b, NULL);
	}
	return 0;
}

static int resolve_user(stow_kube_config *c, const field_ctx *f, json_t *u)
{
	const char *token, *token_file, *user, *pass;
	json_t *ex;

	STOW_TRY(get_pem(f, u, "client-certificate", &c->client_cert_pem));
	STOW_TRY(get_pem(f, u, "client-key", &c->client_key_pem));
	if (!c->client_cert_pem != !c->client_key_pem)
		return bad_field(
		    f, c->client_cert_pem ? "client-key" : "client-certificate",
		    "is missing (a client certificate needs both)");
	STOW_TRY(get_str(f, u, "token", &token));
	STOW_TRY(get_str(f, u, "tokenFile", &token_file));
	STOW_TRY(get_str(f, u, "username", &user));
	STOW_TRY(get_str(f, u, "password", &pass));
	if (token && !(c->token = strdup(token)))
		return stow_err_set(STOW_ENOMEM, "out of memory");
	if (token_file)
		STOW_TRY(resolve_path(f->file, token_file, &c->token_file));
	if (user && (!(c->username = strdup(user)) ||
		     !(c->password = strdup(pass ? pass : ""))))
		return stow_err_set(STOW_ENOMEM, "out of memory");
	ex = json_object_get(u, "exec");
	if (ex && !json_is_null(ex))
		STOW_TRY(resolve_exec(c, f, ex));
	return 0;
}

static int config_new(stow_kube_config **out)
{
	stow_kube_config *c = calloc(1, sizeof(*c));

	if (!c)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	c->qps = 20;
	c->burst = 40;
	c->timeout_ms = 30000;
	*out = c;
	return 0;
}

static int set_namespace(stow_kube_config *c, const char *ns)
{
	free(c->namespace);
	c->namespace = strdup(ns && *ns ? ns : "default");
	return c->namespace ? 0 : stow_err_set(STOW_ENOMEM, "out of memory");
}

static int kc_set_resolve(const kc_set *s, const stow_kube_load_opts *opts,
			  stow_kube_config **out)
{
	_cleanup_(config_freep) stow_kube_config *c = NULL;
	const char *want =
	    opts && opts->context ? opts->context : s->current_context;
	const char *files = s->files.len ? (const char *)s->files.data : "";
	const char *cluster, *user, *ns;
	json_t *ctx, *e;
	field_ctx f;

	if (!want || !*want)
		return stow_err_set(STOW_EINVAL,
				    "kubeconfig %s: current-context is not set "
				    "(give a context)",
				    files);
	ctx = json_object_get(s->contexts, want);
	if (!ctx)
		return stow_err_set(STOW_ENOTFOUND,
				    "kubeconfig %s: context \"%.128s\" not "
				    "found",
				    files, want);
	f = (field_ctx){json_string_value(json_object_get(ctx, "file")),
			"context", want};
	ctx = json_object_get(ctx, "v");
	STOW_TRY(get_str(&f, ctx, "cluster", &cluster));
	STOW_TRY(get_str(&f, ctx, "user", &user));
	STOW_TRY(get_str(&f, ctx, "namespace", &ns));
	if (!cluster)
		return bad_field(&f, "cluster", "is not set");
	STOW_TRY(config_new(&c));
	if (!(c->context = strdup(want)))
		return stow_err_set(STOW_ENOMEM, "out of memory");
	STOW_TRY(
	    set_namespace(c, opts && opts->namespace ? opts->namespace : ns));

	e = json_object_get(s->clusters, cluster);
	if (!e)
		return stow_err_set(STOW_ENOTFOUND,
				    "kubeconfig %s: context \"%.128s\" names "
				    "cluster \"%.128s\", which is not defined",
				    files, want, cluster);
	f = (field_ctx){json_string_value(json_object_get(e, "file")),
			"cluster", cluster};
	STOW_TRY(resolve_cluster(c, &f, json_object_get(e, "v")));

	if (user) {
		e = json_object_get(s->users, user);
		if (!e)
			return stow_err_set(STOW_ENOTFOUND,
					    "kubeconfig %s: context \"%.128s\" "
					    "names user \"%.128s\", which is "
					    "not defined",
					    files, want, user);
		f = (field_ctx){json_string_value(json_object_get(e, "file")),
				"user", user};
		STOW_TRY(resolve_user(c, &f, json_object_get(e, "v")));
	}
	*out = STOW_TAKE_PTR(c);
	return 0;
}

int stow_kube_config_parse(stow_kube_config **out, const char *data, size_t len,
			   const char *name, const stow_kube_load_opts *opts)
{
	kc_set s;
	int rc;

	if (!out || (!data && len) || !name)
		return stow_err_set(STOW_EINVAL, "stow_kube_config_parse: "
						 "missing argument");
	*out = NULL;
	if (len > KUBECONFIG_MAX)
		return stow_err_set(STOW_EINVAL, "%s: larger than %zu bytes",
				    name, KUBECONFIG_MAX);
	rc = kc_set_init(&s);
	if (rc == 0)
		rc = kc_set_add(&s, data ? data : "", len, name);
	if (rc == 0)
		rc = kc_set_resolve(&s, opts, out);
	kc_set_free(&s);
	return rc;
}

/* Add one file; a missing file counts only when `required`. */
static int add_file(kc_set *s, const char *path, bool required, bool *found)
{
	_cleanup_free_ char *data = NULL;
	size_t len;
	int rc;

	rc =
	    read_capped(path, KUBECONFIG_MAX, false, "kubeconfig", &data, &len);
	if (rc == STOW_ENOTFOUND && !required)
		return 0;
	STOW_TRY(rc);
	*found = true;
	return kc_set_add(s, data, len, path);
}

static bool in_cluster_env(void)
{
	const char *h = getenv("KUBERNETES_SERVICE_HOST");
	const char *p = getenv("KUBERNETES_SERVICE_PORT");

	return h && *h && p && *p;
}

int stow_kube_config_load(stow_kube_config **out,
			  const stow_kube_load_opts *opts)
{
	const char *env = getenv("KUBECONFIG");
	bool found = false;
	kc_set s;
	int rc;

	if (!out)
		return stow_err_set(STOW_EINVAL, "stow_kube_config_load: "
						 "missing argument");
	*out = NULL;
	STOW_TRY(kc_set_init(&s));
	if (opts && opts->kubeconfig) {
		rc = add_file(&s, opts->kubeconfig, true, &found);
	} else if (env && *env) {
		_cleanup_free_ char *list = strdup(env);
		_cleanup_json_ json_t *seen = json_object();
		char *save = NULL, *tok;

		rc = list && seen ? 0
				  : stow_err_set(STOW_ENOMEM, "out of memory");
		for (tok = rc == 0 ? strtok_r(list, ":", &save) : NULL;
		     tok && rc == 0; tok = strtok_r(NULL, ":", &save)) {
			/* kubectl reads a file listed twice only once. */
			if (json_object_get(seen, tok))
				continue;
			json_object_set_new(seen, tok, json_true());
			rc = add_file(&s, tok, false, &found);
		}
	} else {
		const char *home = getenv("HOME");
		_cleanup_(stow_buf_freep) stow_buf p = {0};

		stow_buf_init(&p, PATH_MAX + 1);
		rc = 0;
		if (home && *home) {
			rc = stow_buf_printf(&p, "%s/.kube/config", home);
			if (rc == 0)
				rc =
				    add_file(&s, (char *)p.data, false, &found);
		}
	}
	if (rc == 0 && !found) {
		if (opts && opts->in_cluster_fallback && in_cluster_env()) {
			rc = stow_kube_config_in_cluster(out, NULL);
			if (rc == 0 && opts->namespace)
				rc = set_namespace(*out, opts->namespace);
			if (rc < 0) {
				stow_kube_config_free(*out);
				*out = NULL;
			}
			kc_set_free(&s);
			return rc;
		}
		rc =
		    stow_err_set(STOW_ENOTFOUND, "no kubeconfig found (%s%s)%s",
				 env && *env ? "none of the files in "
					       "$KUBECONFIG="
					     : "no $KUBECONFIG and no "
					       "~/.kube/config",
				 env && *env ? env : "",
				 opts && opts->in_cluster_fallback
				     ? " and not running in a cluster"
				     : "");
	}
	if (rc == 0)
		rc = kc_set_resolve(&s, opts, out);
	kc_set_free(&s);
	return rc;
}

/* ---- in-cluster --------------------------------------------------------- */

int stow_kube_config_in_cluster(stow_kube_config **out, const char *sa_dir)
{
	_cleanup_(config_freep) stow_kube_config *c = NULL;
	_cleanup_(stow_buf_freep) stow_buf p = {0};
	_cleanup_free_ char *ns = NULL;
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	struct stat st;
	size_t len;
	int rc;

	if (!out)
		return stow_err_set(STOW_EINVAL, "stow_kube_config_in_cluster: "
						 "missing argument");
	*out = NULL;
	if (!sa_dir)
		sa_dir = SA_DIR;
	if (!host || !*host || !port || !*port)
		return stow_err_set(STOW_ENOTFOUND,
				    "not running in a cluster: "
				    "KUBERNETES_SERVICE_HOST and "
				    "KUBERNETES_SERVICE_PORT are not both set");
	for (const char *q = host; *q; q++)
		if (!(*q == '.' || *q == ':' || *q == '-' ||
		      (*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'z') ||
		      (*q >= 'A' && *q <= 'Z')))
			return stow_err_set(STOW_EINVAL,
					    "KUBERNETES_SERVICE_HOST \"%.64s\" "
					    "is not a host name or address",
					    host);
	for (const char *q = port; *q; q++)
		if (*q < '0' || *q > '9' || q - port > 5)
			return stow_err_set(STOW_EINVAL,
					    "KUBERNETES_SERVICE_PORT \"%.16s\" "
					    "is not a port number",
					    port);
	STOW_TRY(config_new(&c));
	stow_buf_init(&p, PATH_MAX + 1);
	/* An IPv6 address needs brackets in a URL. */
	STOW_TRY(stow_buf_printf(
	    &p, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host,
	    port));
	c->server = (char *)stow_buf_steal(&p, NULL);
	STOW_TRY(stow_buf_printf(&p, "%s/token", sa_dir));
	if (stat((char *)p.data, &st) != 0)
		return stow_err_set(STOW_ENOTFOUND,
				    "in-cluster: service-account token %s: %s",
				    (char *)p.data, strerror(errno));
	c->token_file = (char *)stow_buf_steal(&p, NULL);
	STOW_TRY(stow_buf_printf(&p, "%s/ca.crt", sa_dir));
	rc = read_capped((char *)p.data, REF_FILE_MAX, true,
			 "in-cluster: CA bundle", &c->ca_pem, &len);
	if (rc < 0)
		return rc;
	stow_buf_reset(&p);
	STOW_TRY(stow_buf_printf(&p, "%s/namespace", sa_dir));
	rc = read_capped((char *)p.data, 4096, true, "in-cluster: namespace",
			 &ns, &len);
	if (rc == 0) {
		while (len && (ns[len - 1] == '\n' || ns[len - 1] == ' ' ||
			       ns[len - 1] == '\r'))
			ns[--len] = '\0';
	} else if (rc != STOW_ENOTFOUND) {
		return rc;
	}
	STOW_TRY(set_namespace(c, ns));
	*out = STOW_TAKE_PTR(c);
	return 0;
}

/* ---- copies and freeing ------------------------------------------------- */

static void free_list(char **l)
{
	for (size_t i = 0; l && l[i]; i++)
		free(l[i]);
	free(l);
}

static void free_secret(char *s)
{
	if (s) {
		volatile char *v = s;

		while (*v)
			*v++ = 0;
	}
	free(s);
}

void stow_kube_config_free(stow_kube_config *c)
{
	if (!c)
		return;
	free(c->server);
	free(c->context);
	free(c->namespace);
	free(c->ca_pem);
	free(c->tls_server_name);
	free(c->client_cert_pem);
	free_secret(c->client_key_pem);
	free_secret(c->token);
	free(c->token_file);
	free(c->username);
	free_secret(c->password);
	free(c->exec.command);
	free_list(c->exec.args);
	free_list(c->exec.env);
	free(c->exec.api_version);
	free(c->user_agent);
	free(c);
}

static int dup_list(char **in, char ***out)
{
	size_t n = 0;

	*out = NULL;
	if (!in)
		return 0;
	while (in[n])
		n++;
	if (!(*out = calloc(n + 1, sizeof(char *))))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!((*out)[i] = strdup(in[i])))
			return -1;
	return 0;
}

int stow_kube_config_dup(stow_kube_config **out, const stow_kube_config *in)
{
	_cleanup_(config_freep) stow_kube_config *c = NULL;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	*c = (stow_kube_config){0};
	c->insecure_skip_tls_verify = in->insecure_skip_tls_verify;
	c->exec.provide_cluster_info = in->exec.provide_cluster_info;
	c->qps = in->qps;
	c->burst = in->burst;
	c->timeout_ms = in->timeout_ms;
#define DUP(f)                                                                 \
	do {                                                                   \
		if (in->f && !(c->f = strdup(in->f)))                          \
			return stow_err_set(STOW_ENOMEM, "out of memory");     \
	} while (0)
	DUP(server);
	DUP(context);
	DUP(namespace);
	DUP(ca_pem);
	DUP(tls_server_name);
	DUP(client_cert_pem);
	DUP(client_key_pem);
	DUP(token);
	DUP(token_file);
	DUP(username);
	DUP(password);
	DUP(exec.command);
	DUP(exec.api_version);
	DUP(user_agent);
#undef DUP
	if (dup_list(in->exec.args, &c->exec.args) < 0 ||
	    dup_list(in->exec.env, &c->exec.env) < 0)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	*out = STOW_TAKE_PTR(c);
	return 0;
}

/* ---- exec credential plugins -------------------------------------------- */

void stow_kube_exec_cred_clear(stow_kube_exec_cred *c)
{
	if (!c)
		return;
	free_secret(c->token);
	free(c->cert_pem);
	free_secret(c->key_pem);
	memset(c, 0, sizeof(*c));
}

/* KUBERNETES_EXEC_INFO: the ExecCredential spec the plugin may read. */
static int exec_info(const stow_kube_config *cfg, char **out)
{
	_cleanup_json_ json_t *spec = json_pack("{s:b}", "interactive", 0);
	_cleanup_json_ json_t *root = NULL;

	if (!spec)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	if (cfg->exec.provide_cluster_info) {
		json_t *cl = json_pack("{s:s,s:b}", "server", cfg->server,
				       "insecure-skip-tls-verify",
				       cfg->insecure_skip_tls_verify);

		if (!cl || json_object_set_new(spec, "cluster", cl) != 0)
			return stow_err_set(STOW_ENOMEM, "out of memory");
		if (cfg->tls_server_name)
			json_object_set_new(cl, "tls-server-name",
					    json_string(cfg->tls_server_name));
		if (cfg->ca_pem) {
			_cleanup_free_ char *b64 = NULL;

			STOW_TRY(stow_kube_b64_encode(
			    cfg->ca_pem, strlen(cfg->ca_pem), &b64));
			json_object_set_new(cl, "certificate-authority-data",
					    json_string(b64));
		}
	}
	root = json_pack("{s:s,s:s,s:O}", "apiVersion", cfg->exec.api_version,
			 "kind", "ExecCredential", "spec", spec);
	if (!root)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	*out = json_dumps(root, JSON_COMPACT);
	return *out ? 0 : stow_err_set(STOW_ENOMEM, "out of memory");
}

/* environ, minus names the plugin's env overrides, plus those, plus
 * KUBERNETES_EXEC_INFO. Strings are borrowed except the last one. */
static int exec_env(const stow_kube_config *cfg, const char *info, char ***out,
		    char **info_var)
{
	size_t n = 0, m = 0, k = 0;
	char **e;

	for (char **p = environ; p && *p; p++)
		n++;
	for (char **p = cfg->exec.env; p && *p; p++)
		m++;
	e = calloc(n + m + 2, sizeof(*e));
	*info_var = malloc(strlen(info) + sizeof("KUBERNETES_EXEC_INFO="));
	if (!e || !*info_var) {
		free(e);
		return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	memcpy(*info_var, "KUBERNETES_EXEC_INFO=", 21);
	memcpy(*info_var + 21, info, strlen(info) + 1);
	for (char **p = environ; p && *p; p++) {
		size_t nl = strcspn(*p, "=");
		bool over = !strncmp(*p, "KUBERNETES_EXEC_INFO=", 21);

		for (char **q = cfg->exec.env; q && *q && !over; q++)
			over = !strncmp(*p, *q, nl) && (*q)[nl] == '=';
		if (!over)
			e[k++] = *p;
	}
	for (char **q = cfg->exec.env; q && *q; q++)
		e[k++] = *q;
	e[k++] = *info_var;
	*out = e;
	return 0;
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Collect the child's stdout (capped) and the tail of its stderr until
 * both close or the deadline passes. */
static int exec_collect(int out_fd, int err_fd, long timeout_ms, stow_buf *out,
			char *err_tail, size_t *err_len, bool *timed_out)
{
	long long deadline = mono_ms() + timeout_ms;
	struct pollfd pf[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
	char tmp[4096];

	*timed_out = false;
	while (pf[0].fd >= 0 || pf[1].fd >= 0) {
		long long left = deadline - mono_ms();
		int r;

		if (left <= 0) {
			*timed_out = true;
			return 0;
		}
		r = poll(pf, 2, (int)(left > 1000 ? 1000 : left));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return stow_err_set(STOW_EIO, "exec plugin: poll: %s",
					    strerror(errno));
		for (int i = 0; i < 2; i++) {
			ssize_t n;

			if (pf[i].fd < 0 || !pf[i].revents)
				continue;
			n = read(pf[i].fd, tmp, sizeof(tmp));
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0) {
				pf[i].fd = -1;
				continue;
			}
			if (i == 0) {
				if (stow_buf_append(out, tmp, (size_t)n) < 0)
					return stow_err_set(
					    STOW_EDENIED,
					    "exec plugin: output larger than "
					    "%zu bytes",
					    EXEC_OUT_MAX);
			} else {
				/* Keep the last EXEC_ERR_KEEP bytes. */
				size_t take = (size_t)n;

				if (take > EXEC_ERR_KEEP)
					take = EXEC_ERR_KEEP;
				if (*err_len + take > EXEC_ERR_KEEP) {
					size_t drop =
					    *err_len + take - EXEC_ERR_KEEP;

					memmove(err_tail, err_tail + drop,
						*err_len - drop);
					*err_len -= drop;
				}
				memcpy(err_tail + *err_len,
				       tmp + (size_t)n - take, take);
				*err_len += take;
			}
		}
	}
	return 0;
}

static void printable(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
			s[i] = ' ';
	while (n && s[n - 1] == ' ')
		n--;
	s[n] = '\0';
}

static int parse_exec_credential(const stow_kube_config *cfg,
				 const stow_buf *out, stow_kube_exec_cred *cr)
{
	_cleanup_json_ json_t *j = NULL;
	json_error_t jerr;
	json_t *st, *v;
	const char *cmd = cfg->exec.command;

	j = json_loadb((const char *)out->data, out->len,
		       JSON_REJECT_DUPLICATES, &jerr);
	if (!j)
		return stow_err_set(STOW_EDENIED,
				    "exec plugin %s: output is not JSON "
				    "(line %d: %s)",
				    cmd, jerr.line, jerr.text);
	v = json_object_get(j, "kind");
	if (!json_is_string(v) ||
	    strcmp(json_string_value(v), "ExecCredential") != 0)
		return stow_err_set(STOW_EDENIED,
				    "exec plugin %s: output is not an "
				    "ExecCredential",
				    cmd);
	v = json_object_get(j, "apiVersion");
	if (!json_is_string(v) ||
	    strcmp(json_string_value(v), cfg->exec.api_version) != 0)
		return stow_err_set(
		    STOW_EDENIED,
		    "exec plugin %s: ExecCredential apiVersion "
		    "%.80s, want %s",
		    cmd, json_is_string(v) ? json_string_value(v) : "(none)",
		    cfg->exec.api_version);
	st = json_object_get(j, "status");
	if (!json_is_object(st))
		return stow_err_set(STOW_EDENIED,
				    "exec plugin %s: ExecCredential has no "
				    "status",
				    cmd);
	v = json_object_get(st, "token");
	if (json_is_string(v) && *json_string_value(v) &&
	    !(cr->token = strdup(json_string_value(v))))
		return stow_err_set(STOW_ENOMEM, "out of memory");
	v = json_object_get(st, "clientCertificateData");
	if (json_is_string(v) && *json_string_value(v) &&
	    !(cr->cert_pem = strdup(json_string_value(v))))
		return stow_err_set(STOW_ENOMEM, "out of memory");
	v = json_object_get(st, "clientKeyData");
	if (json_is_string(v) && *json_string_value(v) &&
	    !(cr->key_pem = strdup(json_string_value(v))))
		return stow_err_set(STOW_ENOMEM, "out of memory");
	if (!cr->cert_pem != !cr->key_pem)
		return stow_err_set(STOW_EDENIED,
				    "exec plugin %s: status has only one of "
				    "clientCertificateData and clientKeyData",
				    cmd);
	if (!cr->token && !cr->cert_pem)
		return stow_err_set(STOW_EDENIED,
				    "exec plugin %s: status has neither a "
				    "token nor a client certificate",
				    cmd);
	v = json_object_get(st, "expirationTimestamp");
	if (v && !json_is_null(v)) {
		if (!json_is_string(v) ||
		    stow_kube_parse_time(json_string_value(v), &cr->expires) <
			0)
			return stow_err_wrap(STOW_EDENIED,
					     "exec plugin %s: "
					     "status.expirationTimestamp",
					     cmd);
	}
	return 0;
}

int stow_kube_exec_cred_run(const stow_kube_config *cfg, long timeout_ms,
			    stow_kube_exec_cred *cr)
{
	_cleanup_free_ char *info = NULL, *info_var = NULL;
	_cleanup_free_ char **env = NULL;
	_cleanup_(stow_buf_freep) stow_buf out = {0};
	posix_spawn_file_actions_t fa;
	char err_tail[EXEC_ERR_KEEP + 1];
	size_t err_len = 0;
	int po[2] = {-1, -1}, pe[2] = {-1, -1};
	const char *cmd = cfg->exec.command;
	char **argv;
	size_t nargs = 0;
	bool timed_out = false;
	pid_t pid;
	int rc, status = 0;

	memset(cr, 0, sizeof(*cr));
	if (!cmd)
		return stow_err_set(STOW_EINVAL, "no exec plugin configured");
	if (timeout_ms <= 0)
		timeout_ms = 30000;
	stow_buf_init(&out, EXEC_OUT_MAX);
	STOW_TRY(exec_info(cfg, &info));
	STOW_TRY(exec_env(cfg, info, &env, &info_var));
	for (char **a = cfg->exec.args; a && *a; a++)
		nargs++;
	argv = calloc(nargs + 2, sizeof(*argv));
	if (!argv)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	argv[0] = (char *)cmd;
	for (size_t i = 0; i < nargs; i++)
		argv[i + 1] = cfg->exec.args[i];
	if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0) {
		rc = stow_err_set(STOW_EIO, "exec plugin: pipe: %s",
				  strerror(errno));
		goto done;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	rc = posix_spawnp(&pid, cmd, &fa, NULL, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	close(po[1]);
	close(pe[1]);
	po[1] = pe[1] = -1;
	if (rc != 0) {
		errno = rc;
		rc = stow_err_set(rc == ENOENT ? STOW_ENOTFOUND : STOW_EIO,
				  "exec plugin %s: cannot run it: %s", cmd,
				  strerror(rc));
		goto done;
	}
	rc = exec_collect(po[0], pe[0], timeout_ms, &out, err_tail, &err_len,
			  &timed_out);
	if (rc < 0 || timed_out)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (rc < 0)
		goto done;
	printable(err_tail, err_len);
	if (timed_out) {
		rc = stow_err_set(STOW_ETIMEOUT,
				  "exec plugin %s: no credential after %ld ms",
				  cmd, timeout_ms);
		goto done;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		/* 127: posix_spawnp's child could not exec (missing). */
		rc = stow_err_set(
		    WIFEXITED(status) && WEXITSTATUS(status) == 127
			? STOW_ENOTFOUND
			: STOW_EDENIED,
		    "exec plugin %s failed (%s %d)%s%s", cmd,
		    WIFEXITED(status) ? "exit status" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
		    err_tail[0] ? ": " : "", err_tail);
		goto done;
	}
	rc = parse_exec_credential(cfg, &out, cr);
done:
	if (out.data)
		stow_secure_zero(out.data, out.cap);
	for (int i = 0; i < 2; i++) {
		if (po[i] >= 0)
			close(po[i]);
		if (pe[i] >= 0)
			close(pe[i]);
	}
	free(argv);
	if (rc < 0)
		stow_kube_exec_cred_clear(cr);
	return rc;
}
