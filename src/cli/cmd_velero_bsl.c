/* `backup-location create|get|set|delete` (pkg/cmd/cli/backuplocation). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd_velero.h"
#include "util/err.h"

enum {
	OPT_PROVIDER = 0x100,
	OPT_BUCKET,
	OPT_PREFIX,
	OPT_CONFIG,
	OPT_CREDENTIAL,
	OPT_DEFAULT,
	OPT_ACCESS_MODE,
	OPT_SYNC_PERIOD,
	OPT_VALIDATION,
	OPT_CACERT,
	OPT_LABELS,
	OPT_CONFIRM,
	OPT_ALL,
};

static int read_cacert(stow_cli *cli, const char *path, json_t **out)
{
	FILE *f = fopen(path, "rb");
	stow_buf b;
	char *enc;
	size_t i, o = 0;
	static const char tbl[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	if (f == NULL)
		return stow_cli_usage_error(cli, "--cacert: cannot read %s",
					    path);
	stow_buf_init(&b, 1 << 20);
	for (;;) {
		char chunk[4096];
		size_t n = fread(chunk, 1, sizeof(chunk), f);

		if (n == 0 || stow_buf_append(&b, chunk, n))
			break;
	}
	fclose(f);
	/* spec.objectStorage.caCert is []byte: base64 in JSON. */
	enc = malloc(b.len / 3 * 4 + 5);
	if (enc == NULL) {
		stow_buf_free(&b);
		return stow_cli_fail(cli, STOW_ENOMEM);
	}
	for (i = 0; i + 2 < b.len; i += 3) {
		uint32_t v = (uint32_t)b.data[i] << 16 |
			     (uint32_t)b.data[i + 1] << 8 | b.data[i + 2];

		enc[o++] = tbl[v >> 18 & 63];
		enc[o++] = tbl[v >> 12 & 63];
		enc[o++] = tbl[v >> 6 & 63];
		enc[o++] = tbl[v & 63];
	}
	if (b.len - i == 1) {
		uint32_t v = (uint32_t)b.data[i] << 16;

		enc[o++] = tbl[v >> 18 & 63];
		enc[o++] = tbl[v >> 12 & 63];
		enc[o++] = '=';
		enc[o++] = '=';
	} else if (b.len - i == 2) {
		uint32_t v = (uint32_t)b.data[i] << 16 | (uint32_t)b.data[i + 1]
							     << 8;

		enc[o++] = tbl[v >> 18 & 63];
		enc[o++] = tbl[v >> 12 & 63];
		enc[o++] = tbl[v >> 6 & 63];
		enc[o++] = '=';
	}
	enc[o] = 0;
	stow_buf_free(&b);
	json_decref(*out);
	*out = json_string(enc);
	free(enc);
	return 0;
}

/* --credential secret=key: a single entry. */
static int parse_credential(stow_cli *cli, const char *arg, json_t **out)
{
	json_t *m = NULL;
	const char *k;
	json_t *val;
	int ex;

	if ((ex = stow_vcli_add_map(cli, "--credential", &m, arg, '=')))
		return ex;
	if (json_object_size(m) != 1) {
		json_decref(m);
		return stow_cli_usage_error(
		    cli, "--credential wants one SECRET=KEY entry");
	}
	json_object_foreach(m, k, val)
	{
		json_decref(*out);
		*out = json_pack("{s:s,s:O}", "name", k, "key", val);
	}
	json_decref(m);
	return 0;
}

/* Velero keeps a single default: clear it on every other location. */
static int clear_other_defaults(stow_vcli *v, const stow_kube_resource *r,
				const char *keep)
{
	json_t *list = NULL, *items;
	size_t i;
	int rc;

	rc = stow_kube_list(v->k, r, v->namespace, NULL, &list);
	if (rc < 0)
		return rc;
	items = json_object_get(list, "items");
	for (i = 0; i < json_array_size(items); i++) {
		const json_t *b = json_array_get(items, i);
		const char *name = stow_vcli_str(b, "metadata.name");

		if (name == NULL || strcmp(name, keep) == 0 ||
		    !json_is_true(stow_vcli_get(b, "spec.default")))
			continue;
		rc = stow_kube_patch(
		    v->k, r, v->namespace, name, STOW_KUBE_PATCH_MERGE,
		    "{\"spec\":{\"default\":false}}", false, NULL);
		if (rc < 0)
			break;
	}
	json_decref(list);
	return rc < 0 ? rc : 0;
}

static int bsl_create(stow_cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {
	    STOW_VCLI_COMMON_LONGOPTS,
	    {"provider", required_argument, NULL, OPT_PROVIDER},
	    {"bucket", required_argument, NULL, OPT_BUCKET},
	    {"prefix", required_argument, NULL, OPT_PREFIX},
	    {"config", required_argument, NULL, OPT_CONFIG},
	    {"credential", required_argument, NULL, OPT_CREDENTIAL},
	    {"default", optional_argument, NULL, OPT_DEFAULT},
	    {"access-mode", required_argument, NULL, OPT_ACCESS_MODE},
	    {"backup-sync-period", required_argument, NULL, OPT_SYNC_PERIOD},
	    {"validation-frequency", required_argument, NULL, OPT_VALIDATION},
	    {"cacert", required_argument, NULL, OPT_CACERT},
	    {"labels", required_argument, NULL, OPT_LABELS},
	    {"output", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	const char *provider = NULL, *bucket = NULL, *prefix = NULL;
	const char *mode = "ReadWrite", *out_fmt = NULL;
	char sync[40] = "", valid[40] = "";
	json_t *config = NULL, *cred = NULL, *cacert = NULL, *labels = NULL;
	json_t *bsl = NULL, *spec, *os;
	const stow_kube_resource *r;
	int dflt = 0, c, ex = 0, fmt, rc;
	stow_vcli v;

	stow_vcli_init(&v, cli);
	stow_cli_opts_begin(cli, "n:o:", lo);
	while ((c = stow_cli_opts_next(cli, argc, argv, &ex)) != -1) {
		if (c == STOW_CLI_OPTS_STOP)
			goto out;
		if (stow_vcli_common_opt(&v, c, optarg))
			continue;
		switch (c) {
		case OPT_PROVIDER: provider = optarg; break;
		case OPT_BUCKET: bucket = optarg; break;
		case OPT_PREFIX: prefix = optarg; break;
		case OPT_CONFIG:
			ex = stow_vcli_add_map(cli, "--config", &config, optarg,
					       '=');
			break;
		case OPT_CREDENTIAL:
			ex = parse_credential(cli, optarg, &cred);
			break;
		case OPT_DEFAULT:
			ex = stow_vcli_parse_bool(cli, "--default", optarg,
						  &dflt);
			break;
		case OPT_ACCESS_MODE:
			if (strcmp(optarg, "ReadWrite") &&
			    strcmp(optarg, "ReadOnly"))
				ex = stow_cli_usage_error(
				    cli,
				    "--access-mode: invalid argument '%s': "
				    "allowed values are ReadWrite, ReadOnly",
				    optarg);
			mode = optarg;
			break;
		case OPT_SYNC_PERIOD:
			ex = stow_vcli_parse_duration(
			    cli, "--backup-sync-period", optarg, sync);
			break;
		case OPT_VALIDATION:
			ex = stow_vcli_parse_duration(
			    cli, "--validation-frequency", optarg, valid);
			break;
		case OPT_CACERT: ex = read_cacert(cli, optarg, &cacert); break;
		case OPT_LABELS:
			ex = stow_vcli_add_map(cli, "--labels", &labels, optarg,
					       '=');
			break;
		case 'o': out_fmt = optarg; break;
		}
		if (ex)
			goto out;
	}
	if ((ex = stow_cli_need_operands(cli, argc, argv, 1, 1)) ||
	    (ex = stow_vcli_parse_output(cli, out_fmt, &fmt)))
		goto out;
	if (provider == NULL || *provider == 0 || bucket == NULL ||
	    *bucket == 0) {
		ex = stow_cli_usage_error(
		    cli, "--provider and --bucket are required");
		goto out;
	}
	if ((ex = stow_vcli_open_for_create(&v,
					    out_fmt && fmt != STOW_VCLI_TABLE,
					    "backupstoragelocations", &r)))
		goto out;
	/* BackupStorageLocationSpec in the Go field order: provider,
	 * objectStorage, config, credential, default, accessMode,
	 * backupSyncPeriod, validationFrequency. */
	os = json_pack("{s:s}", "bucket", bucket);
	if (prefix && *prefix)
		json_object_set_new(os, "prefix", json_string(prefix));
	if (cacert)
		json_object_set(os, "caCert", cacert);
	spec =
	    json_pack("{s:s,s:o}", "provider", provider, "objectStorage", os);
	if (config && json_object_size(config))
		json_object_set(spec, "config", config);
	if (cred)
		json_object_set(spec, "credential", cred);
	if (dflt)
		json_object_set_new(spec, "default", json_true());
	json_object_set_new(spec, "accessMode", json_string(mode));
	if (sync[0])
		json_object_set_new(spec, "backupSyncPeriod",
				    json_string(sync));
	if (valid[0])
		json_object_set_new(spec, "validationFrequency",
				    json_string(valid));
	bsl = json_pack("{s:s,s:s,s:{s:s,s:s},s:o}", "kind",
			"BackupStorageLocation", "apiVersion", "velero.io/v1",
			"metadata", "name", argv[optind], "namespace",
			v.namespace, "spec", spec);
	if (labels && json_object_size(labels))
		json_object_set(json_object_get(bsl, "metadata"), "labels",
				labels);
	if (out_fmt && fmt != STOW_VCLI_TABLE) {
		stow_vcli_print_obj(bsl, fmt);
		goto out;
	}
	if (dflt && (rc = clear_other_defaults(&v, r, argv[optind])) < 0) {
		ex = stow_vcli_fail(&v, rc, NULL);
		goto out;
	}
	rc = stow_kube_create(v.k, r, v.namespace, bsl, NULL);
	if (rc < 0) {
		ex = stow_vcli_fail(&v, rc, NULL);
		goto out;
	}
	printf("Backup storage location \"%s\" configured successfully.\n",
	       argv[optind]);
out:
	json_decref(config);
	json_decref(cred);
	json_decref(cacert);
	json_decref(labels);
	json_decref(bsl);
	stow_vcli_done(&v);
	return ex;
}

static void bsl_row(json_t *rows, const json_t *b)
{
	char bp[600], validated[64];
	const char *bucket = stow_vcli_str(b, "spec.objectStorage.bucket");
	const char *prefix = stow_vcli_str(b, "spec.objectStorage.prefix");
	const char *phase = stow_vcli_str(b, "status.phase");
	const char *mode = stow_vcli_str(b, "spec.accessMode");
	const char *cells[7];

	snprintf(bp, sizeof(bp), "%s%s%s", bucket ? bucket : "",
		 prefix && *prefix ? "/" : "", prefix ? prefix : "");
	stow_vcli_format_time(validated, sizeof(validated),
			      stow_vcli_str(b, "status.lastValidationTime"));
	cells[0] = stow_vcli_str(b, "metadata.name");
	cells[1] = stow_vcli_str(b, "spec.provider");
	cells[2] = bp;
	cells[3] = phase && *phase ? phase : "Unknown";
	cells[4] = strcmp(validated, "<nil>") ? validated : "Unknown";
	cells[5] = mode && *mode ? mode : "ReadWrite";
	cells[6] = json_is_true(stow_vcli_get(b, "spec.default")) ? "true" : "";
	stow_vcli_table_row(rows, 7, cells);
}

static int bsl_get(stow_cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {
	    STOW_VCLI_COMMON_LONGOPTS,
	    {"selector", required_argument, NULL, 'l'},
	    {"output", required_argument, NULL, 'o'},
	    {"default", no_argument, NULL, OPT_DEFAULT},
	    {NULL, 0, NULL, 0},
	};
	static const char *const headers[] = {
	    "NAME",	      "PROVIDER",    "BUCKET/PREFIX", "PHASE",
	    "LAST VALIDATED", "ACCESS MODE", "DEFAULT"};
	const char *selector = NULL, *out_fmt = NULL;
	const stow_kube_resource *r;
	json_t *items = NULL, *rows, *keep;
	bool only_default = false;
	int c, ex = 0, fmt = STOW_VCLI_TABLE;
	stow_vcli v;
	size_t i;

	stow_vcli_init(&v, cli);
	stow_cli_opts_begin(cli, "n:l:o:", lo);
	PARSE_OPTIONS(cli, argc, argv, c, ex)
	{
		if (stow_vcli_common_opt(&v, c, optarg))
			continue;
		if (c == 'l')
			selector = optarg;
		else if (c == 'o')
			out_fmt = optarg;
		else if (c == OPT_DEFAULT)
			only_default = true;
	}
	if ((ex = stow_vcli_parse_output(cli, out_fmt, &fmt)))
		return ex;
	if ((ex = stow_vcli_connect(&v)) ||
	    (ex = stow_vcli_resource(&v, "backupstoragelocations", &r)) ||
	    (ex = stow_vcli_get_objects(&v, r, argc, argv, selector, &items)))
		goto out;
	if (only_default) {
		keep = json_array();
		for (i = 0; i < json_array_size(items); i++)
			if (json_is_true(stow_vcli_get(json_array_get(items, i),
						       "spec.default")))
				json_array_append(keep,
						  json_array_get(items, i));
		json_decref(items);
		items = keep;
	}
	if (fmt != STOW_VCLI_TABLE) {
		stow_vcli_print_list("BackupStorageLocationList", items, fmt);
		goto out;
	}
	rows = json_array();
	stow_vcli_table_row(rows, 7, headers);
	for (i = 0; i < json_array_size(items); i++)
		bsl_row(rows, json_array_get(items, i));
	stow_vcli_print_table(rows);
	json_decref(rows);
out:
	json_decref(items);
	stow_vcli_done(&v);
	return ex;
}

static int bsl_set(stow_cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {
	    STOW_VCLI_COMMON_LONGOPTS,
	    {"default", optional_argument, NULL, OPT_DEFAULT},
	    {"credential", required_argument, NULL, OPT_CREDENTIAL},
	    {"cacert", required_argument, NULL, OPT_CACERT},
	    {NULL, 0, NULL, 0},
	};
	json_t *cred = NULL, *cacert = NULL, *patch = NULL;
	const stow_kube_resource *r;
	int dflt = -1, c, ex = 0, rc;
	json_t *cur = NULL;
	char *body = NULL;
	stow_vcli v;

	stow_vcli_init(&v, cli);
	stow_cli_opts_begin(cli, "n:", lo);
	while ((c = stow_cli_opts_next(cli, argc, argv, &ex)) != -1) {
		if (c == STOW_CLI_OPTS_STOP)
			goto out;
		if (stow_vcli_common_opt(&v, c, optarg))
			continue;
		switch (c) {
		case OPT_DEFAULT:
			ex = stow_vcli_parse_bool(cli, "--default", optarg,
						  &dflt);
			break;
		case OPT_CREDENTIAL:
			ex = parse_credential(cli, optarg, &cred);
			break;
		case OPT_CACERT: ex = read_cacert(cli, optarg, &cacert); break;
		}
		if (ex)
			goto out;
	}
	if ((ex = stow_cli_need_operands(cli, argc, argv, 1, 1)))
		goto out;
	if (dflt < 0 && cred == NULL && cacert == NULL) {
		ex = stow_cli_usage_error(
		    cli, "nothing to set: give --default, --credential or "
			 "--cacert");
		goto out;
	}
	if ((ex = stow_vcli_connect(&v)) ||
	    (ex = stow_vcli_resource(&v, "backupstoragelocations", &r)))
		goto out;
	rc = stow_kube_get(v.k, r, v.namespace, argv[optind], &cur);
	if (rc < 0) {
		ex = stow_vcli_fail(&v, rc, NULL);
		goto out;
	}
	if (dflt == 1 && (rc = clear_other_defaults(&v, r, argv[optind])) < 0) {
		ex = stow_vcli_fail(&v, rc, NULL);
		goto out;
	}
	patch = json_pack("{s:{}}", "spec");
	if (dflt >= 0)
		json_object_set_new(json_object_get(patch, "spec"), "default",
				    json_boolean(dflt));
	if (cred)
		json_object_set(json_object_get(patch, "spec"), "credential",
				cred);
	if (cacert)
		json_object_set_new(json_object_get(patch, "spec"),
				    "objectStorage",
				    json_pack("{s:O}", "caCert", cacert));
	body = json_dumps(patch, JSON_COMPACT);
	rc = body ? stow_kube_patch(v.k, r, v.namespace, argv[optind],
				    STOW_KUBE_PATCH_MERGE, body, false, NULL)
		  : STOW_ENOMEM;
	if (rc < 0) {
		ex = stow_vcli_fail(&v, rc, NULL);
		goto out;
	}
	printf("Backup storage location \"%s\" configured successfully.\n",
	       argv[optind]);
out:
	free(body);
	json_decref(patch);
	json_decref(cur);
	json_decref(cred);
	json_decref(cacert);
	stow_vcli_done(&v);
	return ex;
}

/* Velero deletes the location, then the Backup objects and the backup
 * repositories labelled with it (their data stays in the storage). */
static void bsl_deleted(stow_vcli *v, const char *name)
{
	const stow_kube_resource *dep[2] = {
	    stow_vcli_kind("backups"), stow_vcli_kind("backuprepositories")};
	char sel[320];
	size_t d, j;

	printf("Backup storage location \"%s\" deleted successfully.\n", name);
	snprintf(sel, sizeof(sel), "velero.io/storage-location=%s", name);
	for (d = 0; d < 2; d++) {
		stow_kube_list_opts lo = {.label_selector = sel};
		json_t *list = NULL, *its;

		if (dep[d] == NULL ||
		    stow_kube_list(v->k, dep[d], v->namespace, &lo, &list) < 0)
			continue;
		its = json_object_get(list, "items");
		for (j = 0; j < json_array_size(its); j++) {
			const char *dn = stow_vcli_str(json_array_get(its, j),
						       "metadata.name");

			if (dn)
				stow_kube_delete(v->k, dep[d], v->namespace, dn,
						 NULL, NULL);
		}
		if (json_array_size(its))
			printf("%s associated with backup storage location "
			       "\"%s\" deleted successfully.\n",
			       d == 0 ? "Backups" : "Backup repositories",
			       name);
		json_decref(list);
	}
}

static int bsl_delete(stow_cli *cli, int argc, char **argv)
{
	static const stow_vcli_delete_kind kd = {"backupstoragelocations",
						 "No backup-locations found",
						 true, bsl_deleted};

	return stow_vcli_delete_cmd(cli, argc, argv, &kd);
}

/* --- snapshot-location --------------------------------------------------- */

/* `snapshot-location create NAME --provider P [--config] [--credential]
 * [--labels]` (pkg/cmd/cli/snapshotlocation/create.go). */
static int vsl_create(stow_cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {
	    STOW_VCLI_COMMON_LONGOPTS,
	    {"provider", required_argument, NULL, OPT_PROVIDER},
	    {"config", required_argument, NULL, OPT_CONFIG},
	    {"credential", required_argument, NULL, OPT_CREDENTIAL},
	    {"labels", required_argument, NULL, OPT_LABELS},
	    {"output", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	const char *provider = NULL, *out_fmt = NULL;
	json_t *config = NULL, *cred = NULL, *labels = NULL, *vsl = NULL;
	const stow_kube_resource *r = NULL;
	int c, ex = 0, fmt, rc;
	stow_vcli v;

	stow_vcli_init(&v, cli);
	stow_cli_opts_begin(cli, "n:o:", lo);
	while ((c = stow_cli_opts_next(cli, argc, argv, &ex)) != -1) {
		if (c == STOW_CLI_OPTS_STOP)
			goto out;
		if (stow_vcli_common_opt(&v, c, optarg))
			continue;
		switch (c) {
		case OPT_PROVIDER: provider = optarg; break;
		case OPT_CONFIG:
			ex = stow_vcli_add_map(cli, "--config", &config, optarg,
					       '=');
			break;
		case OPT_CREDENTIAL:
			ex = parse_credential(cli, optarg, &cred);
			break;
		case OPT_LABELS:
			ex = stow_vcli_add_map(cli, "--labels", &labels, optarg,
					       '=');
			break;
		case 'o': out_fmt = optarg; break;
		}
		if (ex)
			goto out;
	}
	if ((ex = stow_cli_need_operands(cli, argc, argv, 1, 1)) ||
	    (ex = stow_vcli_parse_output(cli, out_fmt, &fmt)))
		goto out;
	if (provider == NULL || *provider == 0) {
		ex = stow_cli_usage_error(cli, "--provider is required");
		goto out;
	}
	if ((ex = stow_vcli_open_for_create(&v,
					    out_fmt && fmt != STOW_VCLI_TABLE,
					    "volumesnapshotlocations", &r)))
		goto out;
	vsl = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s}}", "kind",
			"VolumeSnapshotLocation", "apiVersion", "velero.io/v1",
			"metadata", "name", argv[optind], "namespace",
			v.namespace, "spec", "provider", provider);
	if (config && json_object_size(config))
		json_object_set(json_object_get(vsl, "spec"), "config", config);
	if (cred)
		json_object_set(json_object_get(vsl, "spec"), "credential",
				cred);
	if (labels && json_object_size(labels))
		json_object_set(json_object_get(vsl, "metadata"), "labels",
				labels);
	if (out_fmt && fmt != STOW_VCLI_TABLE) {
		stow_vcli_print_obj(vsl, fmt);
		goto out;
	}
	rc = stow_kube_create(v.k, r, v.namespace, vsl, NULL);
	if (rc < 0) {
		ex = stow_vcli_fail(&v, rc, NULL);
		goto out;
	}
	printf("Snapshot volume location \"%s\" configured successfully.\n",
	       argv[optind]);
out:
	json_decref(config);
	json_decref(cred);
	json_decref(labels);
	json_decref(vsl);
	stow_vcli_done(&v);
	return ex;
}

static void vsl_row(json_t *rows, const json_t *it)
{
	const char *cells[2] = {stow_vcli_str(it, "metadata.name"),
				stow_vcli_str(it, "spec.provider")};

	stow_vcli_table_row(rows, 2, cells);
}

static const char *const vsl_headers[] = {"NAME", "PROVIDER"};
static const stow_vcli_list_kind vsl_kind = {"volumesnapshotlocations",
					     "VolumeSnapshotLocationList",
					     vsl_headers,
					     2,
					     vsl_row,
					     false};

static int vsl_get(stow_cli *cli, int argc, char **argv)
{
	return stow_vcli_get_cmd(cli, argc, argv, &vsl_kind);
}

static int vsl_set(stow_cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {
	    STOW_VCLI_COMMON_LONGOPTS,
	    {"credential", required_argument, NULL, OPT_CREDENTIAL},
	    {NULL, 0, NULL, 0},
	};
	const stow_kube_resource *r;
	json_t *cred = NULL, *patch = NULL;
	char *body = NULL;
	int c, ex = 0, rc;
	stow_vcli v;

	stow_vcli_init(&v, cli);
	stow_cli_opts_begin(cli, "n:", lo);
	while ((c = stow_cli_opts_next(cli, argc, argv, &ex)) != -1) {
		if (c == STOW_CLI_OPTS_STOP)
			goto out;
		if (stow_vcli_common_opt(&v, c, optarg))
			continue;
		if (c == OPT_CREDENTIAL &&
		    (ex = parse_credential(cli, optarg, &cred)))
			goto out;
	}
	if ((ex = stow_cli_need_operands(cli, argc, argv, 1, 1)))
		goto out;
	if (cred == NULL) {
		ex = stow_cli_usage_error(cli, "nothing to set: give "
					       "--credential SECRET=KEY");
		goto out;
	}
	if ((ex = stow_vcli_connect(&v)) ||
	    (ex = stow_vcli_resource(&v, "volumesnapshotlocations", &r)))
		goto out;
	patch = json_pack("{s:{s:O}}", "spec", "credential", cred);
	body = json_dumps(patch, JSON_COMPACT);
	rc = body ? stow_kube_patch(v.k, r, v.namespace, argv[optind],
				    STOW_KUBE_PATCH_MERGE, body, false, NULL)
		  : STOW_ENOMEM;
	if (rc < 0) {
		ex = stow_vcli_fail(&v, rc, NULL);
		goto out;
	}
	printf("Volume snapshot location \"%s\" configured successfully.\n",
	       argv[optind]);
out:
	free(body);
	json_decref(patch);
	json_decref(cred);
	stow_vcli_done(&v);
	return ex;
}

/* clang-format off */
static const stow_cli_cmd vsl_create_cmd = {
	.name = "create",
	.args = "NAME --provider PROVIDER [flags]",
	.summary = "create a volume snapshot location",
	.about = "Create a VolumeSnapshotLocation (native PV snapshots; stowage's\n"
		 "server takes none yet: pod volumes go through file-system backup).\n",
	.options = STOW_VCLI_COMMON_HELP
		   "      --provider NAME           snapshot provider (required)\n"
		   "      --config k=v,...          provider configuration\n"
		   "      --credential SECRET=KEY   Secret key holding the credentials\n"
		   "      --labels k=v,...\n"
		   "  -o, --output FORMAT           print (json, yaml) instead of creating\n",
	.example = "  velero snapshot-location create default --provider aws --config region=us-east-1\n",
	.run = vsl_create,
};

static const stow_cli_cmd vsl_get_cmd = {
	.name = "get",
	.args = "[NAME...] [flags]",
	.summary = "list volume snapshot locations",
	.about = "List VolumeSnapshotLocations: NAME PROVIDER, or JSON / YAML.\n",
	.options = STOW_VCLI_COMMON_HELP
		   "  -l, --selector SELECTOR   only locations with matching labels\n"
		   "  -o, --output FORMAT       table (default), json or yaml\n",
	.example = "  velero snapshot-location get\n",
	.run = vsl_get,
};

static const stow_cli_cmd vsl_set_cmd = {
	.name = "set",
	.args = "NAME --credential SECRET=KEY",
	.summary = "change a volume snapshot location's credential",
	.about = "Point the location at another Secret key for its credentials.\n",
	.options = STOW_VCLI_COMMON_HELP
		   "      --credential SECRET=KEY   Secret key holding the credentials\n",
	.example = "  velero snapshot-location set default --credential cloud-credentials=cloud\n",
	.run = vsl_set,
};

static const stow_cli_cmd *const vsl_subs[] = {
	&vsl_create_cmd, &vsl_get_cmd, &vsl_set_cmd, NULL,
};

const stow_cli_cmd stow_cli_snapshot_location_cmd = {
	.name = "snapshot-location",
	.summary = "work with volume snapshot locations (create, get, set)",
	.about = "Velero's `snapshot-location` commands: velero.io/v1\n"
		 "VolumeSnapshotLocation objects in the Velero namespace.\n",
	.subs = vsl_subs,
};
/* clang-format on */

/* clang-format off */
static const stow_cli_cmd bsl_create_cmd = {
	.name = "create",
	.args = "NAME --provider PROVIDER --bucket BUCKET [flags]",
	.summary = "create a backup storage location",
	.about = "Create a BackupStorageLocation. Providers: aws (S3 and compatible;\n"
		 "config keys region, s3Url, s3ForcePathStyle, insecureSkipTLSVerify,\n"
		 "profile, publicUrl...) and filesystem (a directory in the server's pod:\n"
		 "--bucket is its path under the server's --fs-root). With --default the\n"
		 "other locations lose their default flag.\n",
	.options = STOW_VCLI_COMMON_HELP
		   "      --provider NAME               aws or filesystem (required)\n"
		   "      --bucket NAME                 bucket or directory (required)\n"
		   "      --prefix PATH                 path inside the bucket\n"
		   "      --config k=v,...              provider configuration\n"
		   "      --credential SECRET=KEY       Secret key holding the credentials\n"
		   "      --default[=BOOL]              make it the default location\n"
		   "      --access-mode MODE            ReadWrite (default) or ReadOnly\n"
		   "      --backup-sync-period DURATION how often to sync (0 disables)\n"
		   "      --validation-frequency DURATION\n"
		   "      --cacert FILE                 CA bundle for the object store\n"
		   "      --labels k=v,...\n"
		   "  -o, --output FORMAT               print (json, yaml) instead of creating\n",
	.example = "  velero backup-location create default --provider aws --bucket velero-backups \\\n"
		   "      --config region=minio,s3ForcePathStyle=true,s3Url=http://minio:9000 \\\n"
		   "      --credential cloud-credentials=cloud --default\n",
	.run = bsl_create,
};

static const stow_cli_cmd bsl_get_cmd = {
	.name = "get",
	.args = "[NAME...] [flags]",
	.summary = "list backup storage locations",
	.about = "List locations: NAME PROVIDER BUCKET/PREFIX PHASE LAST VALIDATED\n"
		 "ACCESS MODE DEFAULT, or JSON / YAML.\n",
	.options = STOW_VCLI_COMMON_HELP
		   "  -l, --selector SELECTOR   only locations with matching labels\n"
		   "      --default             only the default location\n"
		   "  -o, --output FORMAT       table (default), json or yaml\n",
	.example = "  velero backup-location get\n",
	.run = bsl_get,
};

static const stow_cli_cmd bsl_set_cmd = {
	.name = "set",
	.args = "NAME [--default] [--credential SECRET=KEY] [--cacert FILE]",
	.summary = "change a backup storage location",
	.about = "Make the location the default (the others lose it), or change its\n"
		 "credential or CA bundle.\n",
	.options = STOW_VCLI_COMMON_HELP
		   "      --default[=BOOL]          make it the default location\n"
		   "      --credential SECRET=KEY   Secret key holding the credentials\n"
		   "      --cacert FILE             CA bundle for the object store\n",
	.example = "  velero backup-location set default --default\n",
	.run = bsl_set,
};

static const stow_cli_cmd bsl_delete_cmd = {
	.name = "delete",
	.args = "[NAME...] [flags]",
	.summary = "delete backup storage locations",
	.about = "Delete locations and, as Velero, the Backup objects and backup\n"
		 "repositories labelled with them (the data stays in the storage; a\n"
		 "location re-created later syncs the backups back). Asks unless\n"
		 "--confirm.\n",
	.options = STOW_VCLI_COMMON_HELP
		   "      --confirm             do not ask\n"
		   "      --all                 every location\n"
		   "  -l, --selector SELECTOR   locations with matching labels\n",
	.example = "  velero backup-location delete old --confirm\n",
	.run = bsl_delete,
};

static const stow_cli_cmd *const bsl_subs[] = {
	&bsl_create_cmd, &bsl_get_cmd, &bsl_set_cmd, &bsl_delete_cmd, NULL,
};

const stow_cli_cmd stow_cli_backup_location_cmd = {
	.name = "backup-location",
	.summary = "work with backup storage locations (create, get, set, delete)",
	.about = "Velero's `backup-location` commands: velero.io/v1\n"
		 "BackupStorageLocation objects in the Velero namespace.\n",
	.subs = bsl_subs,
};
/* clang-format on */
