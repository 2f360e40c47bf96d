/* `stowage vault <verb>`: the repository engine on its own (docs/cli.md).
 *
 * Each verb parses its options, opens the repository, calls one vault
 * operation and prints the result: results on stdout, progress, warnings
 * and summaries on stderr. Names that come from the repository or the disk
 * are escaped before printing (stow_cli_escape) so a file named
 * "a\n+ b" cannot forge an output line. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli_internal.h"
#include "crypto/crypto.h"
#include "vault/chunker.h"
#include "vault/compress.h"
#include "vault/ops.h"
#include "vault/snapshot.h"
#include "vault/tree.h"
#include "vault/vault.h"

#if defined(__has_include)
#if __has_include("vault/benchmark.h")
#include "vault/benchmark.h"
#define HAVE_VAULT_BENCHMARK 1
#endif
#endif

static void repo_closep(stow_repo **r)
{
	stow_repo_close(*r);
}
#define _cleanup_repo_ _cleanup_(repo_closep)

/* Options parsed the same way in every verb. */

static int print_json(json_t *j, FILE *f)
{
	int rc;

	if (j == NULL) {
		fprintf(stderr, "stowage: out of memory building JSON\n");
		return STOW_EXIT_ERROR;
	}
	rc = json_dumpf(
	    j, f, JSON_INDENT(2) | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(9));
	fputc('\n', f);
	json_decref(j);
	return rc == 0 ? 0 : STOW_EXIT_ERROR;
}

/* A JSON line on stderr (summaries under --json). */
static void print_json_line(json_t *j)
{
	if (j == NULL)
		return;
	json_dumpf(j, stderr, JSON_COMPACT | JSON_REAL_PRECISION(6));
	fputc('\n', stderr);
	fflush(stderr);
	json_decref(j);
}

static const char *plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* Resolve a snapshot reference to a full ID; prints and returns an exit
 * code on failure. */
static int resolve_snapshot(stow_cli *cli, stow_repo *r, const char *ref,
			    char id[65])
{
	int rc = stow_snapshot_resolve(r, ref, id);

	if (rc == STOW_ENOTFOUND) {
		fprintf(stderr, "%s: no snapshot '", cli->prog);
		stow_cli_print_escaped(stderr, ref, strlen(ref));
		fprintf(stderr,
			"' in the repository (see `%s vault snapshot list`)\n",
			cli->prog);
		return STOW_EXIT_NOTFOUND;
	}
	if (rc < 0)
		return stow_cli_fail(cli, rc);
	return 0;
}

/* --- init ----------------------------------------------------------------- */

enum {
	O_COMPRESSION = 0x100,
	O_HASH,
	O_CIPHER,
	O_CHUNK_MIN,
	O_CHUNK_AVG,
	O_CHUNK_MAX,
	O_KDF_LOG_N,
	O_KDF,
	O_KDF_MEMORY,
	O_KDF_PASSES,
	O_NEW_PASSWORD_FILE,
	O_TAG,
	O_HOST,
	O_NO_PARENT,
	O_PATH,
	O_READ_DATA,
	O_FORCE,
	O_DRY_RUN,
	O_NO_OWNER,
};

static int parse_chunk_size(stow_cli *cli, const char *opt, const char *s,
			    uint32_t *out)
{
	uint64_t v = 0;

	if (stow_cli_parse_size(cli, opt, s, &v))
		return STOW_EXIT_USAGE;
	if (v > UINT32_MAX)
		return stow_cli_usage_error(cli, "%s %s is too large", opt, s);
	*out = (uint32_t)v;
	return 0;
}

/* --kdf, --kdf-log-n, --kdf-memory and --kdf-passes, shared by init
 * and key add/change. */
typedef struct kdf_args {
	stow_kdf_opts o;
	bool alg_given, scrypt_given, argon2_given;
} kdf_args;

static void kdf_args_init(kdf_args *k)
{
	memset(k, 0, sizeof(*k));
	stow_kdf_opts_default(&k->o);
}

/* One of the KDF options (c): 0, or STOW_EXIT_USAGE for a bad value. */
static int kdf_args_take(stow_cli *cli, kdf_args *k, int c, const char *arg)
{
	uint64_t v = 0;

	switch (c) {
	case O_KDF:
		if (stow_kdf_alg_parse(arg, &k->o.alg) < 0)
			return stow_cli_usage_error(
			    cli, "--kdf wants argon2id or scrypt, not '%s'",
			    arg);
		k->alg_given = true;
		return 0;
	case O_KDF_LOG_N:
		if (stow_cli_parse_uint(cli, "--kdf-log-n", arg, 10, 24, &v))
			return STOW_EXIT_USAGE;
		k->o.log_n = (unsigned)v;
		k->scrypt_given = true;
		return 0;
	case O_KDF_MEMORY:
		if (stow_cli_parse_uint(cli, "--kdf-memory", arg, 1, 1024, &v))
			return STOW_EXIT_USAGE;
		if (v & (v - 1))
			return stow_cli_usage_error(
			    cli,
			    "--kdf-memory %s: the key slot stores a power of "
			    "two (MiB: 1, 2, 4 ... 1024)",
			    arg);
		k->o.memory_mib = (unsigned)v;
		k->argon2_given = true;
		return 0;
	case O_KDF_PASSES:
		if (stow_cli_parse_uint(cli, "--kdf-passes", arg, 1,
					STOW_ARGON2_MAX_PASSES, &v))
			return STOW_EXIT_USAGE;
		k->o.passes = (unsigned)v;
		k->argon2_given = true;
		return 0;
	}
	return stow_cli_usage_error(cli, "not a KDF option");
}

/* After all options: --kdf-log-n without --kdf means scrypt (scripts
 * written before Argon2id keep their meaning); another KDF's parameters
 * are refused rather than ignored. 0 or STOW_EXIT_USAGE. */
static int kdf_args_finish(stow_cli *cli, kdf_args *k)
{
	if (!k->alg_given && k->scrypt_given && !k->argon2_given)
		k->o.alg = STOW_KDF_SCRYPT;
	if (k->o.alg == STOW_KDF_SCRYPT && k->argon2_given)
		return stow_cli_usage_error(
		    cli, "--kdf-memory and --kdf-passes are Argon2id "
			 "parameters; scrypt takes --kdf-log-n");
	if (k->o.alg == STOW_KDF_ARGON2ID && k->scrypt_given)
		return stow_cli_usage_error(
		    cli, "--kdf-log-n is a scrypt parameter; Argon2id takes "
			 "--kdf-memory and --kdf-passes");
	return 0;
}

static int cmd_init(stow_cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"compression", required_argument, NULL, O_COMPRESSION},
	    {"hash", required_argument, NULL, O_HASH},
	    {"cipher", required_argument, NULL, O_CIPHER},
	    {"chunk-min", required_argument, NULL, O_CHUNK_MIN},
	    {"chunk-avg", required_argument, NULL, O_CHUNK_AVG},
	    {"chunk-max", required_argument, NULL, O_CHUNK_MAX},
	    {"kdf", required_argument, NULL, O_KDF},
	    {"kdf-log-n", required_argument, NULL, O_KDF_LOG_N},
	    {"kdf-memory", required_argument, NULL, O_KDF_MEMORY},
	    {"kdf-passes", required_argument, NULL, O_KDF_PASSES},
	    {"new-password-file", required_argument, NULL, O_NEW_PASSWORD_FILE},
	    {NULL, 0, NULL, 0},
	};
	_cleanup_(stow_cli_password_freep) char *pw = NULL;
	const char *newpw_file = NULL, *loc;
	stow_repo_init_opts o;
	stow_store *st = NULL;
	kdf_args kdf;
	char repo_id[65];
	int c, ex = 0, rc;

	stow_repo_init_opts_default(&o);
	kdf_args_init(&kdf);
	stow_cli_opts_begin(cli, "", lo);
	PARSE_OPTIONS(cli, argc, argv, c, ex)
	{
		switch (c) {
		case O_COMPRESSION:
			if (stow_comp_spec_parse(optarg, &o.comp) < 0)
				return stow_cli_usage_error(
				    cli, "--compression: %s", stow_err_msg());
			break;
		case O_HASH:
			if (stow_hash_alg_parse(optarg, &o.hash) < 0)
				return stow_cli_usage_error(
				    cli,
				    "--hash wants hmac-sha256 or blake2b-256, "
				    "not '%s'",
				    optarg);
			break;
		case O_CIPHER:
			if (stow_aead_alg_parse(optarg, &o.aead) < 0)
				return stow_cli_usage_error(
				    cli,
				    "--cipher wants aes-256-gcm or "
				    "chacha20-poly1305, not '%s'",
				    optarg);
			break;
		case O_CHUNK_MIN:
			if (parse_chunk_size(cli, "--chunk-min", optarg,
					     &o.chunk.min))
				return STOW_EXIT_USAGE;
			break;
		case O_CHUNK_AVG:
			if (parse_chunk_size(cli, "--chunk-avg", optarg,
					     &o.chunk.avg))
				return STOW_EXIT_USAGE;
			break;
		case O_CHUNK_MAX:
			if (parse_chunk_size(cli, "--chunk-max", optarg,
					     &o.chunk.max))
				return STOW_EXIT_USAGE;
			break;
		case O_KDF:
		case O_KDF_LOG_N:
		case O_KDF_MEMORY:
		case O_KDF_PASSES:
			if (kdf_args_take(cli, &kdf, c, optarg))
				return STOW_EXIT_USAGE;
			break;
		case O_NEW_PASSWORD_FILE: newpw_file = optarg; break;
		}
	}
	if ((ex = stow_cli_need_operands(cli, argc, argv, 0, 0)))
		return ex;
	if (kdf_args_finish(cli, &kdf))
		return STOW_EXIT_USAGE;
	o.kdf = kdf.o;
	if (stow_chunker_params_check(&o.chunk) < 0)
		return stow_cli_usage_error(cli, "chunk sizes: %s",
					    stow_err_msg());
	loc = stow_cli_repo_location(cli);
	if (loc == NULL)
		return STOW_EXIT_USAGE;
	/* Ask for the password before creating anything, so an abandoned
	 * prompt leaves no empty directory behind. */
	ex = stow_cli_new_password(cli, newpw_file, true, &pw);
	if (ex)
		return ex;
	rc = stow_store_open(&st, loc, 1);
	if (rc < 0)
		return stow_cli_fail(cli, rc);
	rc = stow_repo_init(st, pw, &o, repo_id);
	if (rc == STOW_EEXIST) {
		stow_store_close(st);
		fprintf(stderr, "%s: a repository already exists at %s\n",
			cli->prog, loc);
		return STOW_EXIT_ERROR;
	}
	if (rc < 0) {
		ex = stow_cli_fail(cli, rc);
		stow_store_close(st);
		return ex;
	}
	printf("created repository %s at %s\n", repo_id, st->location);
	stow_store_close(st);
	return 0;
}

/* --- snapshot create ------------------------------------------------------ */

static void free_tags(stow_buf *tags)
{
	stow_tag *t = (stow_tag *)tags->data;
	size_t i, n = tags->len / sizeof(stow_tag);

	for (i = 0; i < n; i++) {
		free(t[i].key);
		free(t[i].value);
	}
	stow_buf_free(tags);
}

/* Append a parsed --tag to a buffer of stow_tag. */
static int add_tag(stow_cli *cli, stow_buf *tags, const char *kv)
{
	stow_tag t = {NULL, NULL};

	if (tags->len / sizeof(stow_tag) >= STOW_SNAPSHOT_TAGS_MAX)
		return stow_cli_usage_error(cli, "at most %d tags",
					    STOW_SNAPSHOT_TAGS_MAX);
	if (stow_tag_parse(kv, &t) < 0)
		return stow_cli_usage_error(cli, "--tag: %s", stow_err_msg());
	if (stow_buf_append(tags, &t, sizeof(t)) < 0) {
		free(t.key);
		free(t.value);
		return stow_cli_fail(cli, STOW_ENOMEM);
	}
	return 0;
}

static void print_backup_summary(stow_cli *cli, const stow_snapshot *s)
{
	const stow_snapshot_stats *x = &s->stats;
	char bytes[32], raw[32], stored[32], dur[32];

	if (cli->quiet)
		return;
	if (cli->json) {
		json_t *o = json_pack(
		    "{s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
		    "s:I, s:I, s:I, s:I, s:f}",
		    "type", "summary", "op", "backup", "id", s->id, "partial",
		    s->partial, "files", (json_int_t)x->files, "dirs",
		    (json_int_t)x->dirs, "symlinks", (json_int_t)x->symlinks,
		    "others", (json_int_t)x->others, "bytes",
		    (json_int_t)x->bytes, "files_reused",
		    (json_int_t)x->files_reused, "bytes_read",
		    (json_int_t)x->bytes_read, "blobs_new",
		    (json_int_t)x->blobs_new, "bytes_new_raw",
		    (json_int_t)x->bytes_new_raw, "bytes_new_stored",
		    (json_int_t)x->bytes_new_stored, "errors",
		    (json_int_t)x->errors, "seconds", x->seconds);

		print_json_line(o);
		return;
	}
	stow_cli_human_size(bytes, sizeof(bytes), x->bytes);
	stow_cli_human_size(raw, sizeof(raw), x->bytes_new_raw);
	stow_cli_human_size(stored, sizeof(stored), x->bytes_new_stored);
	stow_cli_human_duration(dur, sizeof(dur), x->seconds);
	fprintf(stderr,
		"snapshot %.12s saved: %" PRIu64 " %s, %" PRIu64
		" %s, %s in %s; %s new (%s stored); %" PRIu64 " %s unchanged\n",
		s->id, x->files, plural(x->files, "file", "files"), x->dirs,
		plural(x->dirs, "dir", "dirs"), bytes, dur, raw, stored,
		x->files_reused, plural(x->files_reused, "file", "files"));
	if (s->partial)
		fprintf(stderr,
			"snapshot %.12s is partial: %" PRIu64
			" %s could not be read (see the warnings above)\n",
			s->id, x->errors,
			plural(x->errors, "entry", "entries"));
}

static int cmd_snapshot_create(stow_cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"tag", required_argument, NULL, O_TAG},
	    {"compression", required_argument, NULL, O_COMPRESSION},
	    {"host", required_argument, NULL, O_HOST},
	    {"no-parent", no_argument, NULL, O_NO_PARENT},
	    {NULL, 0, NULL, 0},
	};
	_cleanup_(free_tags) stow_buf tags;
	_cleanup_repo_ stow_repo *r = NULL;
	stow_backup_opts o;
	stow_comp_spec comp;
	stow_cli_progress prog;
	stow_snapshot snap;
	int c, ex = 0, rc;

	stow_buf_init(&tags, 0);
	memset(&o, 0, sizeof(o));
	stow_cli_opts_begin(cli, "", lo);
	PARSE_OPTIONS(cli, argc, argv, c, ex)
	{
		switch (c) {
		case O_TAG:
			if ((ex = add_tag(cli, &tags, optarg)))
				return ex;
			break;
		case O_COMPRESSION:
			if (stow_comp_spec_parse(optarg, &comp) < 0)
				return stow_cli_usage_error(
				    cli, "--compression: %s", stow_err_msg());
			o.comp = &comp;
			break;
		case O_HOST:
			if (optarg[0] == 0)
				return stow_cli_usage_error(cli,
							    "--host is empty");
			o.host = optarg;
			break;
		case O_NO_PARENT: o.no_parent = true; break;
		}
	}
	if ((ex = stow_cli_need_operands(cli, argc, argv, 1, 1)))
		return ex;
	o.path = argv[optind];
	o.tags = (stow_tag *)tags.data;
	o.ntags = tags.len / sizeof(stow_tag);
	if ((ex = stow_cli_open_repo(cli, &r)))
		return ex;

	stow_cli_progress_init(&prog, cli, "backup");
	o.progress = stow_cli_progress_update;
	o.warn = stow_cli_progress_warn;
	o.cb_ctx = &prog;
	memset(&snap, 0, sizeof(snap));
	rc = stow_vault_backup(r, &o, &snap);
	stow_cli_progress_destroy(&prog);
	if (rc < 0 && rc != STOW_EPARTIAL) {
		stow_snapshot_free(&snap);
		return stow_cli_fail(cli, rc);
	}
	printf("%s\n", snap.id);
	fflush(stdout);
	print_backup_summary(cli, &snap);
	stow_snapshot_free(&snap);
	return rc == STOW_EPARTIAL ? STOW_EXIT_PARTIAL : 0;
}

/* --- snapshot list -------------------------------------------------------- */

static bool snapshot_has_tags(const stow_snapshot *s, const stow_tag *want,
			      size_t nwant)
{
	size_t i, j;

	for (i = 0; i < nwant; i++) {
		bool found = false;

		for (j = 0; j < s->ntags && !found; j++)
			found = strcmp(s->tags[j].key, want[i].key) == 0 &&
				strcmp(s->tags[j].value, want[i].value) == 0;
		if (!found)
			return false;
	}
	return true;
}

static int tags_text(stow_buf *b, const stow_snapshot *s)
{
	size_t i;

	for (i = 0; i < s->ntags; i++) {
		if (i > 0)
			STOW_TRY(stow_buf_append(b, ",", 1));
		STOW_TRY(
		    stow_cli_escape(b, s->tags[i].key, strlen(s->tags[i].key)));
		STOW_TRY(stow_buf_append(b, "=", 1));
		STOW_TRY(stow_cli_escape(b, s->tags[i].value,
					 strlen(s->tags[i].value)));
	}
	STOW_TRY(stow_buf_reserve(b, 1));
	b->data[b->len] = 0;
	return 0;
}

static int list_table(const stow_snapshot *v, size_t n, const stow_tag *want,
		      size_t nwant)
{
	static const char *const headers[] = {"ID",    "TIME", "HOST", "PATH",
					      "FILES", "SIZE", "TAGS"};
	stow_cli_table t;
	size_t i;
	int rc;

	if ((rc = stow_cli_table_init(&t, 7, 1u << 4 | 1u << 5, headers)) < 0)
		return rc;
	for (i = 0; i < n && rc == 0; i++) {
		_cleanup_(stow_buf_freep) stow_buf host, path, tags;
		char id[13], tm[32], files[24], size[32];
		const char *cells[7];

		stow_buf_init(&host, 0);
		stow_buf_init(&path, 0);
		stow_buf_init(&tags, 0);
		if (!snapshot_has_tags(&v[i], want, nwant))
			continue;
		snprintf(id, sizeof(id), "%.12s", v[i].id);
		stow_cli_local_time(tm, sizeof(tm), v[i].time_sec);
		snprintf(files, sizeof(files), "%" PRIu64, v[i].stats.files);
		stow_cli_human_size(size, sizeof(size), v[i].stats.bytes);
		rc = stow_cli_escape(&host, v[i].host ? v[i].host : "",
				     v[i].host ? strlen(v[i].host) : 0);
		if (rc == 0)
			rc = stow_cli_escape(&path, v[i].path ? v[i].path : "",
					     v[i].path ? strlen(v[i].path) : 0);
		if (rc == 0)
			rc = tags_text(&tags, &v[i]);
		if (rc < 0)
			break;
		cells[0] = id;
		cells[1] = tm;
		cells[2] = (const char *)host.data;
		cells[3] = (const char *)path.data;
		cells[4] = files;
		cells[5] = size;
		cells[6] = (const char *)tags.data;
		rc = stow_cli_table_add(&t, cells);
	}
	if (rc == 0)
		stow_cli_table_print(&t, stdout);
	stow_cli_table_free(&t);
	return rc;
}

static int list_json(stow_cli *cli, const stow_snapshot *v, size_t n,
		     const stow_tag *want, size_t nwant)
{
	json_t *arr = json_array();
	size_t i;

	if (arr == NULL)
		return stow_cli_fail(
		    cli, stow_err_set(STOW_ENOMEM, "out of memory"));
	for (i = 0; i < n; i++) {
		_cleanup_(stow_buf_freep) stow_buf b;
		json_error_t jerr;
		json_t *o;
		int rc;

		stow_buf_init(&b, 0);
		if (!snapshot_has_tags(&v[i], want, nwant))
			continue;
		rc = stow_snapshot_to_json(&v[i], &b);
		if (rc < 0) {
			json_decref(arr);
			return stow_cli_fail(cli, rc);
		}
		o = json_loadb((const char *)b.data, b.len, 0, &jerr);
		if (o == NULL || !json_is_object(o)) {
			json_decref(o);
			json_decref(arr);
			fprintf(stderr, "%s: snapshot %s: %s\n", cli->prog,
				v[i].id, jerr.text);
			return STOW_EXIT_ERROR;
		}
		/* The manifest's name is its ID; make sure it is there. */
		json_object_set_new(o, "id", json_string(v[i].id));
		json_array_append_new(arr, o);
	}
	return print_json(arr, stdout);
}

static int cmd_snapshot_list(stow_cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"tag", required_argument, NULL, O_TAG},
	    {"output", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	_cleanup_(free_tags) stow_buf tags;
	_cleanup_repo_ stow_repo *r = NULL;
	const char *fmt = NULL;
	stow_snapshot *v = NULL;
	size_t n = 0, damaged = 0;
	bool json;
	int c, ex = 0, rc;

	stow_buf_init(&tags, 0);
	stow_cli_opts_begin(cli, "o:", lo);
	PARSE_OPTIONS(cli, argc, argv, c, ex)
	{
		switch (c) {
		case O_TAG:
			if ((ex = add_tag(cli, &tags, optarg)))
				return ex;
			break;
		case 'o': fmt = optarg; break;
		}
	}
	if ((ex = stow_cli_need_operands(cli, argc, argv, 0, 0)))
		return ex;
	if ((ex = stow_cli_output_format(cli, fmt, &json)))
		return ex;
	if ((ex = stow_cli_open_repo(cli, &r)))
		return ex;
	rc = stow_snapshot_load_all(r, &v, &n, &damaged);
	if (rc < 0)
		return stow_cli_fail(cli, rc);
	if (damaged && !cli->quiet)
		fprintf(stderr,
			"warning: %zu snapshot manifests could not be read "
			"(run `%s vault check`)\n",
			damaged, cli->prog);
	if (json) {
		ex = list_json(cli, v, n, (stow_tag *)tags.data,
			       tags.len / sizeof(stow_tag));
	} else {
		rc = list_table(v, n, (stow_tag *)tags.data,
				tags.len / sizeof(stow_tag));
		ex = rc < 0 ? stow_cli_fail(cli, rc) : 0;
	}
	stow_snapshot_free_all(v, n);
	return ex;
}

/* --- snapshot delete ------------------------------------------------------ */

static int cmd_snapshot_delete(stow_cli *cli, int argc, char **argv)
{
	_cleanup_repo_ stow_repo *r = NULL;
	int c, ex = 0, first = 0, i, rc;

	stow_cli_opts_begin(cli, "", NULL);
	PARSE_OPTIONS(cli, argc, argv, c, ex)
	{
	}
	if ((ex = stow_cli_need_operands(cli, argc, argv, 1, -1)))
		return ex;
	if ((ex = stow_cli_open_repo(cli, &r)))
		return ex;
	/* Go on after a failure so one bad ID does not stop the others; the
	 * exit code is that of the first failure. */
	for (i = optind; i < argc; i++) {
		char id[65];

		ex = resolve_snapshot(cli, r, argv[i], id);
		if (ex == 0) {
			rc = stow_snapshot_delete(r, id);
			if (rc < 0)
				ex = stow_cli_fail(cli, rc);
			else
				printf("deleted %s\n", id);
		}
		if (ex && !first)
			first = ex;
	}
	return first;
}

/* --- restore -------------------------------------------------------------- */

static int cmd_restore(stow_cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"path", required_argument, NULL, O_PATH},
	    {"no-owner", no_argument, NULL, O_NO_OWNER},
	    {NULL, 0, NULL, 0},
	};
	_cleanup_repo_ stow_repo *r = NULL;
	stow_restore_opts o;
	stow_restore_stats st;
	stow_cli_progress prog;
	char id[65], bytes[32], dur[32];
	double t0;
	int c, ex = 0, rc;

	memset(&o, 0, sizeof(o));
	memset(&st, 0, sizeof(st));
	o.owner = geteuid() == 0;
	stow_cli_opts_begin(cli, "", lo);
	PARSE_OPTIONS(cli, argc, argv, c, ex)
	{
		switch (c) {
		case O_PATH: o.subpath = optarg; break;
		case O_NO_OWNER: o.owner = false; break;
		}
	}
	if ((ex = stow_cli_need_operands(cli, argc, argv, 2, 2)))
		return ex;
	o.target = argv[optind + 1];
	if ((ex = stow_cli_open_repo(cli, &r)))
		return ex;
	if ((ex = resolve_snapshot(cli, r, argv[optind], id)))
		return ex;

	stow_cli_progress_init(&prog, cli, "restore");
	o.progress = stow_cli_progress_update;
	o.warn = stow_cli_progress_warn;
	o.cb_ctx = &prog;
	t0 = stow_cli_monotonic();
	rc = stow_vault_restore(r, id, &o, &st);
	stow_cli_progress_destroy(&prog);
	if (rc < 0 && rc != STOW_EPARTIAL)
		return stow_cli_fail(cli, rc);
	if (cli->quiet)
		return rc == STOW_EPARTIAL ? STOW_EXIT_PARTIAL : 0;
	if (cli->json) {
		print_json_line(json_pack(
		    "{s:s, s:s, s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:f}",
		    "type", "summary", "op", "restore", "id", id, "partial",
		    rc == STOW_EPARTIAL, "files", (json_int_t)st.files, "dirs",
		    (json_int_t)st.dirs, "symlinks", (json_int_t)st.symlinks,
		    "others", (json_int_t)st.others, "bytes",
		    (json_int_t)st.bytes, "errors", (json_int_t)st.errors,
		    "seconds", stow_cli_monotonic() - t0));
	} else {
		stow_cli_human_size(bytes, sizeof(bytes), st.bytes);
		stow_cli_human_duration(dur, sizeof(dur),
					stow_cli_monotonic() - t0);
		printf("restored snapshot %.12s to ", id);
		stow_cli_print_escaped(stdout, o.target, strlen(o.target));
		printf(": %" PRIu64 " %s, %" PRIu64 " %s, %" PRIu64
		       " %s, %s in %s",
		       st.files, plural(st.files, "file", "files"), st.dirs,
		       plural(st.dirs, "dir", "dirs"), st.symlinks,
		       plural(st.symlinks, "symlink", "symlinks"), bytes, dur);
		if (rc == STOW_EPARTIAL)
			/* Damaged data, a full disk, a permission: the
			 * warnings say which, per entry. */
			printf("; %" PRIu64 " %s not restored (the warnings "
			       "say why)",
			       st.errors,
			       plural(st.errors, "entry", "entries"));
		putchar('\n');
	}
	return rc == STOW_EPARTIAL ? STOW_EXIT_PARTIAL : 0;
}

/* --- ls ------------------------------------------------------------------- */

typedef struct ls_ctx {
	bool long_format;
	stow_buf line;
} ls_ctx;

static int ls_entry(void *ctx, const char *path, const stow_node *n)
{
	ls_ctx *l = ctx;
	stow_buf *b = &l->line;

	stow_buf_reset(b);
	if (l->long_format) {
		char mode[11], tm[32], size[32];

		stow_cli_mode_string(mode, n->type, n->mode);
		stow_cli_local_time(tm, sizeof(tm), n->mtime_sec);
		if (n->type == STOW_NODE_CHR || n->type == STOW_NODE_BLK)
			snprintf(size, sizeof(size), "%u, %u",
				 major((dev_t)n->rdev), minor((dev_t)n->rdev));
		else if (n->type == STOW_NODE_SYMLINK)
			snprintf(size, sizeof(size), "%zu", n->target_len);
		else
			snprintf(size, sizeof(size), "%" PRIu64, n->size);
		STOW_TRY(
		    stow_buf_printf(b, "%s %6" PRIu32 " %6" PRIu32 " %12s %s ",
				    mode, n->uid, n->gid, size, tm));
	}
	STOW_TRY(stow_cli_escape(b, path, strlen(path)));
	if (l->long_format && n->type == STOW_NODE_SYMLINK) {
		STOW_TRY(stow_buf_append(b, " -> ", 4));
		STOW_TRY(stow_cli_escape(b, n->target, n->target_len));
	}
	STOW_TRY(stow_buf_append(b, "\n", 1));
	if (fwrite(b->data, 1, b->len, stdout) != b->len)
		return stow_err_set(STOW_EIO, "writing to stdout failed");
	return 0;
}

static int cmd_ls(stow_cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"long", no_argument, NULL, 'l'},
	    {"recursive", no_argument, NULL, 'R'},
	    {NULL, 0, NULL, 0},
	};
	_cleanup_repo_ stow_repo *r = NULL;
	ls_ctx l;
	bool recursive = false;
	char id[65];
	int c, ex = 0, rc;

	memset(&l, 0, sizeof(l));
	stow_cli_opts_begin(cli, "lR", lo);
	PARSE_OPTIONS(cli, argc, argv, c, ex)
	{
		switch (c) {
		case 'l': l.long_format = true; break;
		case 'R': recursive = true; break;
		}
	}
	if ((ex = stow_cli_need_operands(cli, argc, argv, 1, 2)))
		return ex;
	if ((ex = stow_cli_open_repo(cli, &r)))
		return ex;
	if ((ex = resolve_snapshot(cli, r, argv[optind], id)))
		return ex;
	stow_buf_init(&l.line, 0);
	rc = stow_vault_ls(r, id, optind + 1 < argc ? argv[optind + 1] : "",
			   recursive, ls_entry, &l);
	stow_buf_free(&l.line);
	if (rc < 0)
		return stow_cli_fail(cli, rc);
	return 0;
}

/* --- diff ----------------------------------------------------------------- */

static int diff_entry(void *ctx, char what, const char *path)
{
	stow_buf *b = ctx;

	stow_buf_reset(b);
	STOW_TRY(stow_buf_printf(b, "%c ", what));
	STOW_TRY(stow_cli_escape(b, path, strlen(path)));
	STOW_TRY(stow_buf_append(b, "\n", 1));
	if (fwrite(b->data, 1, b->len, stdout) != b->len)
		return stow_err_set(STOW_EIO, "writing to stdout failed");
	return 0;
}

static int cmd_diff(stow_cli *cli, int argc, char **argv)
{
	_cleanup_repo_ stow_repo *r = NULL;
	_cleanup_(stow_buf_freep) stow_buf line;
	char a[65], b[65];
	int c, ex = 0, rc;

	stow_buf_init(&line, 0);
	stow_cli_opts_begin(cli, "", NULL);
	PARSE_OPTIONS(cli, argc, argv, c, ex)
	{
	}
	if ((ex = stow_cli_need_operands(cli, argc, argv, 2, 2)))
		return ex;
	if ((ex = stow_cli_open_repo(cli, &r)))
		return ex;
	if ((ex = resolve_snapshot(cli, r, argv[optind], a)) ||
	    (ex = resolve_snapshot(cli, r, argv[optind + 1], b)))
		return ex;
	rc = stow_vault_diff(r, a, b, diff_entry, &line);
	if (rc < 0)
		return stow_cli_fail(cli, rc);
	return 0;
}

/* --- check ---------------------------------------------------------------- */

typedef struct check_ctx {
	stow_cli_progress prog;
} check_ctx;

static void check_problem(void *ctx, const char *msg)
{
	check_ctx *k = ctx;

	stow_cli_progress_line(&k->prog, stdout, NULL, msg);
}

static void check_progress(void *ctx, const stow_progress *p)
{
	check_ctx *k = ctx;

	stow_cli_progress_update(&k->prog, p);
}

static int cmd_check(stow_cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"read-data", no_argument, NULL, O_READ_DATA},
	    {NULL, 0, NULL, 0},
	};
	_cleanup_repo_ stow_repo *r = NULL;
	stow_check_opts o;
	check_ctx k;
	uint64_t problems = 0;
	int c, ex = 0, rc;

	memset(&o, 0, sizeof(o));
	stow_cli_opts_begin(cli, "", lo);
	PARSE_OPTIONS(cli, argc, argv, c, ex)
	{
		if (c == O_READ_DATA)
			o.read_data = true;
	}
	if ((ex = stow_cli_need_operands(cli, argc, argv, 0, 0)))
		return ex;
	if ((ex = stow_cli_open_repo(cli, &r)))
		return ex;
	memset(&k, 0, sizeof(k));
	stow_cli_progress_init(&k.prog, cli, "check");
	o.problem = check_problem;
	o.progress = check_progress;
	o.cb_ctx = &k;
	rc = stow_vault_check(r, &o, &problems);
	stow_cli_progress_destroy(&k.prog);
	if (rc < 0)
		return stow_cli_fail(cli, rc);
	if (problems == 0)
		printf("no errors were found\n");
	else
		printf("%" PRIu64 " error%s found\n", problems,
		       problems == 1 ? " was" : "s were");
	return problems ? STOW_EXIT_DAMAGED : 0;
}

/* --- key ------------------------------------------------------------------ */

typedef struct key_list_ctx {
	const char *current;
	stow_cli_table table;
	json_t *arr;
} key_list_ctx;

static int key_list_entry(void *ctx, const stow_key_slot_info *k)
{
	key_list_ctx *l = ctx;
	bool cur = strcmp(k->id, l->current) == 0;

	if (l->arr) {
		json_t *o;

		if (k->kdf == STOW_KDF_ARGON2ID)
			o = json_pack(
			    "{s:s, s:I, s:s, s:I, s:i, s:i, s:b}", "id", k->id,
			    "created", (json_int_t)k->created, "kdf",
			    stow_kdf_alg_name(k->kdf), "memory_kib",
			    (json_int_t)k->memory_kib, "passes", (int)k->passes,
			    "lanes", (int)k->lanes, "current", cur);
		else
			o = json_pack(
			    "{s:s, s:I, s:s, s:i, s:i, s:i, s:b}", "id", k->id,
			    "created", (json_int_t)k->created, "kdf",
			    stow_kdf_alg_name(k->kdf), "log_n", (int)k->log_n,
			    "r", (int)k->r, "p", (int)k->p, "current", cur);

		if (o == NULL || json_array_append_new(l->arr, o) < 0)
			return stow_err_set(STOW_ENOMEM, "out of memory");
		return 0;
	} else {
		char tm[32], kdf[64];
		const char *cells[5];

		stow_cli_local_time(tm, sizeof(tm), k->created);
		if (k->kdf == STOW_KDF_ARGON2ID)
			snprintf(kdf, sizeof(kdf), "argon2id m=%uMiB t=%u p=%u",
				 (unsigned)(k->memory_kib >> 10), k->passes,
				 k->lanes);
		else
			snprintf(kdf, sizeof(kdf), "scrypt N=2^%u r=%u p=%u",
				 k->log_n, k->r, k->p);
		cells[0] = k->id;
		cells[1] = tm;
		/* Key slot format 1 records no host; the column is kept so
		 * the table does not change shape when it does. */
		cells[2] = "-";
		cells[3] = kdf;
		cells[4] = cur ? "*" : "";
		return stow_cli_table_add(&l->table, cells);
	}
}

static int cmd_key_list(stow_cli *cli, int argc, char **argv)
{
	static const char *const headers[] = {"ID", "CREATED", "HOST", "KDF",
					      "CURRENT"};
	static const struct option lo[] = {
	    {"output", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	_cleanup_repo_ stow_repo *r = NULL;
	const char *fmt = NULL;
	key_list_ctx l;
	bool json;
	int c, ex = 0, rc;

	stow_cli_opts_begin(cli, "o:", lo);
	PARSE_OPTIONS(cli, argc, argv, c, ex)
	{
		if (c == 'o')
			fmt = optarg;
	}
	if ((ex = stow_cli_need_operands(cli, argc, argv, 0, 0)))
		return ex;
	if ((ex = stow_cli_output_format(cli, fmt, &json)))
		return ex;
	if ((ex = stow_cli_open_repo(cli, &r)))
		return ex;
	memset(&l, 0, sizeof(l));
	l.current = stow_repo_slot_id(r);
	if (json)
		l.arr = json_array();
	else if ((rc = stow_cli_table_init(&l.table, 5, 0, headers)) < 0)
		return stow_cli_fail(cli, rc);
	rc = stow_repo_key_list(r, key_list_entry, &l);
	if (rc < 0) {
		json_decref(l.arr);
		stow_cli_table_free(&l.table);
		return stow_cli_fail(cli, rc);
	}
	if (json)
		return print_json(l.arr, stdout);
	stow_cli_table_print(&l.table, stdout);
	stow_cli_table_free(&l.table);
	return 0;
}

/* Returned by key_add_common when --help was printed: stop, exit 0. */
#define HELP_SHOWN (-1)

/* Shared by key add and key change: parse, open, add a slot. On 0,
 * *r is open and slot_id holds the new slot; else an exit code or
 * HELP_SHOWN. */
static int key_add_common(stow_cli *cli, int argc, char **argv, stow_repo **r,
			  char slot_id[17])
{
	static const struct option lo[] = {
	    {"new-password-file", required_argument, NULL, O_NEW_PASSWORD_FILE},
	    {"kdf", required_argument, NULL, O_KDF},
	    {"kdf-log-n", required_argument, NULL, O_KDF_LOG_N},
	    {"kdf-memory", required_argument, NULL, O_KDF_MEMORY},
	    {"kdf-passes", required_argument, NULL, O_KDF_PASSES},
	    {NULL, 0, NULL, 0},
	};
	_cleanup_(stow_cli_password_freep) char *pw = NULL;
	const char *file = NULL;
	kdf_args kdf;
	int c, ex = 0, rc;

	kdf_args_init(&kdf);

	stow_cli_opts_begin(cli, "", lo);
	while ((c = stow_cli_opts_next(cli, argc, argv, &ex)) != -1) {
		if (c == STOW_CLI_OPTS_STOP)
			return ex ? ex : HELP_SHOWN;
		switch (c) {
		case O_NEW_PASSWORD_FILE: file = optarg; break;
		case O_KDF:
		case O_KDF_LOG_N:
		case O_KDF_MEMORY:
		case O_KDF_PASSES:
			if (kdf_args_take(cli, &kdf, c, optarg))
				return STOW_EXIT_USAGE;
			break;
		}
	}
	if ((ex = stow_cli_need_operands(cli, argc, argv, 0, 0)))
		return ex;
	if (kdf_args_finish(cli, &kdf))
		return STOW_EXIT_USAGE;
	if ((ex = stow_cli_open_repo(cli, r)))
		return ex;
	if ((ex = stow_cli_new_password(cli, file, false, &pw)))
		return ex;
	rc = stow_repo_key_add(*r, pw, &kdf.o, slot_id);
	if (rc < 0)
		return stow_cli_fail(cli, rc);
	return 0;
}

static int cmd_key_add(stow_cli *cli, int argc, char **argv)
{
	_cleanup_repo_ stow_repo *r = NULL;
	char slot[17];
	int ex;

	if ((ex = key_add_common(cli, argc, argv, &r, slot)))
		return ex == HELP_SHOWN ? 0 : ex;
	printf("%s\n", slot);
	return 0;
}

static int cmd_key_change(stow_cli *cli, int argc, char **argv)
{
	_cleanup_repo_ stow_repo *r = NULL;
	char slot[17], old[17];
	int ex, rc;

	if ((ex = key_add_common(cli, argc, argv, &r, slot)))
		return ex == HELP_SHOWN ? 0 : ex;
	/* Add first, then remove: at every moment some slot opens the
	 * repository, even if we are killed in between. */
	snprintf(old, sizeof(old), "%s", stow_repo_slot_id(r));
	rc = stow_repo_key_remove(r, old);
	if (rc < 0) {
		ex = stow_cli_fail(cli, rc);
		fprintf(stderr,
			"%s: the new password works (key slot %s), but the old "
			"one (key slot %s) still does too; remove it with `%s "
			"vault key remove %s`\n",
			cli->prog, slot, old, cli->prog, old);
		return ex;
	}
	printf("%s\n", slot);
	return 0;
}

static int cmd_key_remove(stow_cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"force", no_argument, NULL, O_FORCE},
	    {NULL, 0, NULL, 0},
	};
	_cleanup_repo_ stow_repo *r = NULL;
	bool force = false;
	const char *slot;
	int c, ex = 0, rc;

	stow_cli_opts_begin(cli, "", lo);
	PARSE_OPTIONS(cli, argc, argv, c, ex)
	{
		if (c == O_FORCE)
			force = true;
	}
	if ((ex = stow_cli_need_operands(cli, argc, argv, 1, 1)))
		return ex;
	slot = argv[optind];
	if ((ex = stow_cli_open_repo(cli, &r)))
		return ex;
	if (strcmp(slot, stow_repo_slot_id(r)) == 0 && !force) {
		fprintf(
		    stderr,
		    "%s: key slot %s is the one your password opened; removing "
		    "it would lock you out unless you know another password "
		    "(use --force if you do, or `%s vault key change`)\n",
		    cli->prog, slot, cli->prog);
		return STOW_EXIT_ERROR;
	}
	rc = stow_repo_key_remove(r, slot);
	if (rc < 0)
		return stow_cli_fail(cli, rc);
	printf("removed %s\n", slot);
	return 0;
}

/* --- stats ---------------------------------------------------------------- */

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0;
}

static int cmd_stats(stow_cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"output", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	_cleanup_repo_ stow_repo *r = NULL;
	const char *fmt = NULL;
	stow_repo_stats s;
	char logical[32], raw[32], stored[32], packb[32];
	bool json;
	int c, ex = 0, rc;

	stow_cli_opts_begin(cli, "o:", lo);
	PARSE_OPTIONS(cli, argc, argv, c, ex)
	{
		if (c == 'o')
			fmt = optarg;
	}
	if ((ex = stow_cli_need_operands(cli, argc, argv, 0, 0)))
		return ex;
	if ((ex = stow_cli_output_format(cli, fmt, &json)))
		return ex;
	if ((ex = stow_cli_open_repo(cli, &r)))
		return ex;
	memset(&s, 0, sizeof(s));
	rc = stow_vault_stats(r, &s);
	if (rc < 0)
		return stow_cli_fail(cli, rc);
	if (json) {
		json_t *o = json_pack(
		    "{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
		    "s:I, s:I, s:f, s:f}",
		    "repository", stow_repo_id_hex(r), "snapshots",
		    (json_int_t)s.snapshots, "packs", (json_int_t)s.packs,
		    "data_packs", (json_int_t)s.data_packs, "meta_packs",
		    (json_int_t)s.meta_packs, "blobs", (json_int_t)s.blobs,
		    "data_blobs", (json_int_t)s.data_blobs, "tree_blobs",
		    (json_int_t)s.tree_blobs, "index_objects",
		    (json_int_t)s.index_objects, "logical_bytes",
		    (json_int_t)s.logical_bytes, "raw_bytes",
		    (json_int_t)s.raw_bytes, "stored_bytes",
		    (json_int_t)s.stored_bytes, "pack_bytes",
		    (json_int_t)s.pack_bytes, "dedup_ratio",
		    ratio(s.logical_bytes, s.raw_bytes), "compression_ratio",
		    ratio(s.raw_bytes, s.stored_bytes));

		return print_json(o, stdout);
	}
	stow_cli_human_size(logical, sizeof(logical), s.logical_bytes);
	stow_cli_human_size(raw, sizeof(raw), s.raw_bytes);
	stow_cli_human_size(stored, sizeof(stored), s.stored_bytes);
	stow_cli_human_size(packb, sizeof(packb), s.pack_bytes);
	printf("repository         %s\n", stow_repo_id_hex(r));
	printf("snapshots          %" PRIu64 "\n", s.snapshots);
	printf("packs              %" PRIu64 " (%" PRIu64 " data, %" PRIu64
	       " metadata)\n",
	       s.packs, s.data_packs, s.meta_packs);
	printf("blobs              %" PRIu64 " (%" PRIu64 " data, %" PRIu64
	       " trees)\n",
	       s.blobs, s.data_blobs, s.tree_blobs);
	printf("index objects      %" PRIu64 "\n", s.index_objects);
	printf("logical size       %s (files as seen, summed over snapshots)\n",
	       logical);
	printf(
	    "unique raw size    %s (each distinct chunk once, uncompressed)\n",
	    raw);
	printf("stored size        %s (compressed and encrypted)\n", stored);
	printf("pack files size    %s (on storage, with pack overhead)\n",
	       packb);
	printf("dedup ratio        %.2fx (logical / unique raw)\n",
	       ratio(s.logical_bytes, s.raw_bytes));
	printf("compression ratio  %.2fx (unique raw / stored)\n",
	       ratio(s.raw_bytes, s.stored_bytes));
	return 0;
}

/* --- benchmark ------------------------------------------------------------ */

static int cmd_benchmark(stow_cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"output", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	const char *fmt = NULL;
	bool json;
	int c, ex = 0;

	stow_cli_opts_begin(cli, "o:", lo);
	PARSE_OPTIONS(cli, argc, argv, c, ex)
	{
		if (c == 'o')
			fmt = optarg;
	}
	if ((ex = stow_cli_need_operands(cli, argc, argv, 0, 0)))
		return ex;
	if ((ex = stow_cli_output_format(cli, fmt, &json)))
		return ex;
#ifdef HAVE_VAULT_BENCHMARK
	{
		int rc = stow_vault_benchmark(stdout, json);

		if (rc < 0)
			return stow_cli_fail(cli, rc);
		return 0;
	}
#else
	fprintf(stderr,
		"%s: this build has no benchmark (vault/benchmark.h missing)\n",
		cli->prog);
	return STOW_EXIT_ERROR;
#endif
}

/* --- gc ------------------------------------------------------------------- */

static int cmd_gc(stow_cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"dry-run", no_argument, NULL, O_DRY_RUN},
	    {NULL, 0, NULL, 0},
	};
	_cleanup_repo_ stow_repo *r = NULL;
	stow_gc_stats s;
	bool dry = false;
	char freed[32];
	int c, ex = 0, rc;

	stow_cli_opts_begin(cli, "n", lo);
	PARSE_OPTIONS(cli, argc, argv, c, ex)
	{
		if (c == O_DRY_RUN || c == 'n')
			dry = true;
	}
	if ((ex = stow_cli_need_operands(cli, argc, argv, 0, 0)))
		return ex;
	if ((ex = stow_cli_open_repo(cli, &r)))
		return ex;
	memset(&s, 0, sizeof(s));
	rc = stow_vault_gc(r, dry, &s);
	if (rc < 0)
		return stow_cli_fail(cli, rc);
	if (cli->json) {
		return print_json(
		    json_pack("{s:b, s:I, s:I, s:I}", "dry_run", dry,
			      "packs_deleted", (json_int_t)s.packs_deleted,
			      "bytes_freed", (json_int_t)s.bytes_freed,
			      "packs_kept", (json_int_t)s.packs_kept),
		    stdout);
	}
	stow_cli_human_size(freed, sizeof(freed), s.bytes_freed);
	printf("%s %" PRIu64 " unreferenced packs (%s), kept %" PRIu64
	       " packs\n",
	       dry ? "would delete" : "deleted", s.packs_deleted, freed,
	       s.packs_kept);
	return 0;
}

/* --- the command tree ----------------------------------------------------- */
/* The help texts are laid out as they print; keep them out of
 * clang-format's line filling. */
/* clang-format off */

#define H STOW_CLI_HELP_REPO | STOW_CLI_HELP_OUTPUT

static const stow_cli_cmd init_cmd = {
	.name = "init",
	.args = "[options]",
	.summary = "create a repository",
	.about =
		"Create an empty repository at the location given by --repo (or\n"
		"STOWAGE_REPO). A random master key is generated and wrapped by the\n"
		"password in a first key slot; add more passwords later with\n"
		"`vault key add`. The algorithms and chunk sizes chosen here are fixed\n"
		"for the life of the repository (compression can be overridden per\n"
		"snapshot).\n\n"
		"The password comes from --new-password-file, STOWAGE_NEW_PASSWORD,\n"
		"--password-file or STOWAGE_PASSWORD, in that order, else it is\n"
		"asked twice on the terminal. Prints\n"
		"`created repository <id> at <location>`.\n",
	.options =
		"      --compression SPEC    auto (default: zstd:1, skipping data that\n"
		"                            does not compress), none, zstd[:1-19], lz4,\n"
		"                            gzip[:1-9]\n"
		"      --hash ALG            content IDs: hmac-sha256 (default) or\n"
		"                            blake2b-256\n"
		"      --cipher ALG          aes-256-gcm (default) or chacha20-poly1305\n"
		"      --chunk-min SIZE      smallest chunk (SIZE takes K, M, G suffixes,\n"
		"      --chunk-avg SIZE      powers of 1024; avg must be a power of two,\n"
		"      --chunk-max SIZE      min <= avg <= max)\n"
		"      --kdf KDF             password hash of the key slot: argon2id\n"
		"                            (default) or scrypt\n"
		"      --kdf-memory MiB      Argon2id memory, a power of two 1..1024\n"
		"                            (default 16; 1 is only for tests)\n"
		"      --kdf-passes N        Argon2id passes, 1..32 (default 6); a guess\n"
		"                            costs memory x passes: memory adds to every\n"
		"                            command's RAM, passes only to its start-up time\n"
		"      --kdf-log-n N         scrypt cost 2^N, 10..24 (15 is 32 MiB; 10 is\n"
		"                            only for tests); alone, it selects scrypt\n"
		"      --new-password-file FILE  the password, from the first line of FILE\n",
	.example = "  stowage vault init --repo /srv/backup\n"
		   "  STOWAGE_REPO=/mnt/nfs/vault stowage vault init --compression zstd:3\n",
	.help_flags = H | STOW_CLI_HELP_NEWPW,
	.run = cmd_init,
};

static const stow_cli_cmd snapshot_create_cmd = {
	.name = "create",
	.args = "<dir> [options]",
	.summary = "snapshot a directory tree",
	.about =
		"Store the directory tree <dir> as a new snapshot: every file, directory,\n"
		"symlink, device, owner, mode, timestamp, xattr, hard link and hole.\n"
		"Content is cut into chunks that are stored once across all snapshots.\n"
		"A file whose size, mtime, mode, owner and inode are unchanged since the\n"
		"previous snapshot of the same host and path is not read again.\n\n"
		"Prints the snapshot ID (64 hex digits) on stdout and a summary on\n"
		"stderr. Files that cannot be read are listed as warnings; the snapshot\n"
		"is still saved, marked partial, and the exit code is 3.\n",
	.options =
		"      --tag KEY=VALUE       label the snapshot (repeatable)\n"
		"      --compression SPEC    override the repository's compression for\n"
		"                            new data: auto, none, zstd[:1-19], lz4,\n"
		"                            gzip[:1-9]\n"
		"      --host NAME           record NAME instead of this machine's name\n"
		"                            (also picks the parent snapshot)\n"
		"      --no-parent           read every file, even if unchanged\n",
	.example = "  stowage vault snapshot create /var/lib/app --tag app=web --tag env=prod\n",
	.help_flags = H,
	.run = cmd_snapshot_create,
};

static const stow_cli_cmd snapshot_list_cmd = {
	.name = "list",
	.args = "[options]",
	.summary = "list snapshots, oldest first",
	.about =
		"List the snapshots in the repository, oldest first. The table shows\n"
		"the first 12 hex digits of each ID (any unique prefix of 4 or more\n"
		"digits works wherever an ID is asked for), the start time in local\n"
		"time, host, source path, number of files, total size and tags.\n"
		"-o json prints an array of the full manifests, with full IDs.\n",
	.options = "      --tag KEY=VALUE       only snapshots with this tag (repeatable:\n"
		   "                            all must match)\n"
		   "  -o, --output FORMAT       table (default) or json\n",
	.example = "  stowage vault snapshot list --tag app=web\n"
		   "  stowage vault snapshot list -o json | jq -r '.[-1].id'\n",
	.help_flags = H,
	.run = cmd_snapshot_list,
};

static const stow_cli_cmd snapshot_delete_cmd = {
	.name = "delete",
	.args = "<id>...",
	.summary = "forget snapshots (reclaim space with `vault gc`)",
	.about =
		"Delete the manifests of the given snapshots. Their data stays in the\n"
		"repository until `vault gc` removes the packs no remaining snapshot\n"
		"needs. Prints `deleted <id>` for each.\n",
	.example = "  stowage vault snapshot delete 1a2b3c4d 5e6f7a8b\n",
	.help_flags = H,
	.run = cmd_snapshot_delete,
};

static const stow_cli_cmd *const snapshot_subs[] = {
	&snapshot_create_cmd,
	&snapshot_list_cmd,
	&snapshot_delete_cmd,
	NULL,
};

static const stow_cli_cmd snapshot_cmd = {
	.name = "snapshot",
	.summary = "create, list and delete snapshots",
	.about = "A snapshot is the state of one directory tree at one time.\n",
	.subs = snapshot_subs,
};

static const stow_cli_cmd restore_cmd = {
	.name = "restore",
	.args = "<id|latest> <target-dir> [options]",
	.summary = "restore a snapshot into a directory",
	.about =
		"Recreate the snapshot's tree under <target-dir>, which is created if\n"
		"missing and must otherwise be empty. Owners are restored when running\n"
		"as root. Files whose data is damaged in the repository are skipped\n"
		"with a warning and the exit code is 3; everything else is restored\n"
		"intact. Prints a summary line on stdout.\n",
	.options = "      --path P              restore only the file or subtree P of the\n"
		   "                            snapshot\n"
		   "      --no-owner            do not restore owners even as root\n",
	.example = "  stowage vault restore latest /tmp/restored\n"
		   "  stowage vault restore 1a2b3c4d /tmp/r --path etc/nginx\n",
	.help_flags = H,
	.run = cmd_restore,
};

static const stow_cli_cmd ls_cmd = {
	.name = "ls",
	.args = "<id> [path] [options]",
	.summary = "list a directory of a snapshot",
	.about =
		"List the entries of a directory in a snapshot (the root if no path is\n"
		"given), one per line. Bytes in names that could confuse a terminal\n"
		"or a script (newlines, control characters, invalid UTF-8) are shown\n"
		"as \\xNN, and a backslash as \\\\.\n",
	.options = "  -l, --long                mode, owner (uid gid), size, mtime, name\n"
		   "  -R, --recursive           descend into subdirectories\n",
	.example = "  stowage vault ls latest etc -l\n",
	.help_flags = H,
	.run = cmd_ls,
};

static const stow_cli_cmd diff_cmd = {
	.name = "diff",
	.args = "<id1> <id2>",
	.summary = "show what changed between two snapshots",
	.about = "Print one line per changed path, sorted: `+ path` added in <id2>,\n"
		 "`- path` removed, `M path` modified (content, type, mode, owner or\n"
		 "mtime). Names are escaped as in `vault ls`.\n",
	.example = "  stowage vault diff 1a2b3c4d latest\n",
	.help_flags = H,
	.run = cmd_diff,
};

static const stow_cli_cmd check_cmd = {
	.name = "check",
	.args = "[options]",
	.summary = "verify the repository",
	.about =
		"Verify that every snapshot, tree, index and pack is readable and\n"
		"consistent. Each problem is printed on stdout as it is found, naming\n"
		"the object and what it affects; the last line is `no errors were\n"
		"found` or `N errors were found`, and the exit code is 6 if any were.\n",
	.options = "      --read-data           also read and authenticate every stored byte\n",
	.example = "  stowage vault check --read-data\n",
	.help_flags = H,
	.run = cmd_check,
};

static const stow_cli_cmd key_list_cmd = {
	.name = "list",
	.args = "[options]",
	.summary = "list key slots",
	.about = "List the key slots (one per password) with their creation time and\n"
		 "key derivation parameters. `*` under CURRENT marks the slot your\n"
		 "password opened. HOST is `-`: key slots do not record it yet.\n",
	.options = "  -o, --output FORMAT       table (default) or json\n",
	.example = "  stowage vault key list\n",
	.help_flags = H,
	.run = cmd_key_list,
};

static const char key_add_options[] =
	"      --new-password-file FILE  the new password, from the first line of FILE\n"
	"      --kdf KDF             password hash of the new slot: argon2id\n"
	"                            (default) or scrypt\n"
	"      --kdf-memory MiB      Argon2id memory, a power of two 1..1024\n"
	"                            (default 16)\n"
	"      --kdf-passes N        Argon2id passes, 1..32 (default 6); a guess\n"
	"                            costs memory x passes: memory adds to every\n"
	"                            command's RAM, passes only to its start-up time\n"
	"      --kdf-log-n N         scrypt cost 2^N, 10..24 (15 is 32 MiB); alone,\n"
	"                            it selects scrypt\n";

static const stow_cli_cmd key_add_cmd = {
	.name = "add",
	.args = "[options]",
	.summary = "add a password",
	.about = "Add a key slot for a new password; the existing passwords keep\n"
		 "working. Prints the new slot ID. Only one small object is written;\n"
		 "no data is re-encrypted.\n",
	.options = key_add_options,
	.example = "  stowage vault key add --new-password-file ./ops-team.pw\n",
	.help_flags = H | STOW_CLI_HELP_NEWPW,
	.run = cmd_key_add,
};

static const stow_cli_cmd key_change_cmd = {
	.name = "change",
	.args = "[options]",
	.summary = "replace the password that opened the repository",
	.about = "Add a key slot for the new password, then remove the slot that the\n"
		 "current password opened. Other passwords are not affected. Prints\n"
		 "the new slot ID.\n",
	.options = key_add_options,
	.example = "  stowage vault key change\n",
	.help_flags = H | STOW_CLI_HELP_NEWPW,
	.run = cmd_key_change,
};

static const stow_cli_cmd key_remove_cmd = {
	.name = "remove",
	.args = "<slot-id> [options]",
	.summary = "remove a password",
	.about = "Remove a key slot. The last slot is never removed, and the slot your\n"
		 "password opened only with --force.\n",
	.options = "      --force               allow removing the slot in use\n",
	.example = "  stowage vault key remove 0123456789abcdef\n",
	.help_flags = H,
	.run = cmd_key_remove,
};

static const stow_cli_cmd *const key_subs[] = {
	&key_list_cmd,
	&key_add_cmd,
	&key_change_cmd,
	&key_remove_cmd,
	NULL,
};

static const stow_cli_cmd key_cmd = {
	.name = "key",
	.summary = "manage passwords (key slots)",
	.about = "Each password wraps the repository's master key in its own key slot,\n"
		 "so passwords can be added, changed and removed without touching data.\n",
	.subs = key_subs,
};

static const stow_cli_cmd stats_cmd = {
	.name = "stats",
	.args = "[options]",
	.summary = "repository totals and space savings",
	.about = "Count snapshots, packs, blobs and bytes, and show how much\n"
		 "deduplication and compression save.\n",
	.options = "  -o, --output FORMAT       table (default) or json\n",
	.example = "  stowage vault stats -o json\n",
	.help_flags = H,
	.run = cmd_stats,
};

static const stow_cli_cmd benchmark_cmd = {
	.name = "benchmark",
	.args = "[options]",
	.summary = "measure hashes, ciphers, compressors and the chunker here",
	.about = "Measure this machine's speed for each content hash, cipher,\n"
		 "compressor and the chunker, to choose `vault init` options. Needs no\n"
		 "repository.\n",
	.options = "  -o, --output FORMAT       table (default) or json\n",
	.example = "  stowage vault benchmark\n",
	.help_flags = STOW_CLI_HELP_OUTPUT,
	.run = cmd_benchmark,
};

static const stow_cli_cmd gc_cmd = {
	.name = "gc",
	.args = "[options]",
	.summary = "delete packs no snapshot references",
	.about = "Delete the pack files whose blobs no snapshot references any more\n"
		 "(after `vault snapshot delete`). Packs still partly in use are kept\n"
		 "whole. Takes the repository lock: exit code 7 if another operation\n"
		 "holds it.\n",
	.options = "  -n, --dry-run             only report what would be deleted\n",
	.example = "  stowage vault gc --dry-run\n",
	.help_flags = H,
	.run = cmd_gc,
};

static const stow_cli_cmd *const vault_subs[] = {
	&init_cmd,  &snapshot_cmd, &restore_cmd,   &ls_cmd,
	&diff_cmd,  &check_cmd,    &key_cmd,       &stats_cmd,
	&benchmark_cmd, &gc_cmd,   NULL,
};

const stow_cli_cmd stow_cli_vault_cmd = {
	.name = "vault",
	.summary = "the repository engine: snapshots of directory trees",
	.about = "The vault stores snapshots of directory trees in a repository,\n"
		 "deduplicated, compressed and encrypted (names and metadata\n"
		 "included). Every command needs the repository (--repo or\n"
		 "STOWAGE_REPO) and its password (--password-file, STOWAGE_PASSWORD or\n"
		 "a prompt).\n",
	.example = "  export STOWAGE_REPO=/srv/backup\n"
		   "  stowage vault init\n"
		   "  stowage vault snapshot create /home\n"
		   "  stowage vault restore latest /tmp/home-restored\n",
	.help_flags = STOW_CLI_HELP_OUTPUT | STOW_CLI_HELP_REPO,
	.subs = vault_subs,
};
/* clang-format on */
