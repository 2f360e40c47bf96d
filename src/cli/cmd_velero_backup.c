/* `backup create|get|describe|logs|delete|download` and `schedule
 * create|get|describe|delete|pause|unpause`, with Velero's flags and
 * output. They share the backup spec flags (a Schedule's template is a
 * BackupSpec built from the same flags). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cmd_velero.h"
#include "util/duration.h"
#include "util/err.h"

enum {
	OPT_INC_NS = 0x100,
	OPT_EXC_NS,
	OPT_INC_RES,
	OPT_EXC_RES,
	OPT_INC_CLUSTER,
	OPT_INC_CS,
	OPT_EXC_CS,
	OPT_INC_NSS,
	OPT_EXC_NSS,
	OPT_OR_SELECTOR,
	OPT_LABELS,
	OPT_ANNOTATIONS,
	OPT_LOCATION,
	OPT_VSL,
	OPT_TTL,
	OPT_SNAP_VOLUMES,
	OPT_SNAP_MOVE,
	OPT_FS_BACKUP,
	OPT_ORDERED,
	OPT_CSI_TIMEOUT,
	OPT_ITEM_TIMEOUT,
	OPT_RES_POLICIES,
	OPT_DATA_MOVER,
	OPT_PARALLEL_UP,
	OPT_FROM_SCHEDULE,
	OPT_SCHEDULE,
	OPT_PAUSED,
	OPT_SKIP_IMMEDIATELY,
	OPT_OWNER_REFS,
	OPT_DETAILS,
	OPT_CONFIRM,
	OPT_ALL,
	OPT_TIMEOUT,
	OPT_INSECURE,
	OPT_CACERT,
	OPT_FORCE,
};

/* The flags of `backup create` that make the BackupSpec (and a
 * Schedule's template). */
#define BACKUP_SPEC_LONGOPTS                                                   \
	{"include-namespaces", required_argument, NULL, OPT_INC_NS},           \
	    {"exclude-namespaces", required_argument, NULL, OPT_EXC_NS},       \
	    {"include-resources", required_argument, NULL, OPT_INC_RES},       \
	    {"exclude-resources", required_argument, NULL, OPT_EXC_RES},       \
	    {"include-cluster-resources", optional_argument, NULL,             \
	     OPT_INC_CLUSTER},                                                 \
	    {"include-cluster-scoped-resources", required_argument, NULL,      \
	     OPT_INC_CS},                                                      \
	    {"exclude-cluster-scoped-resources", required_argument, NULL,      \
	     OPT_EXC_CS},                                                      \
	    {"include-namespace-scoped-resources", required_argument, NULL,    \
	     OPT_INC_NSS},                                                     \
	    {"exclude-namespace-scoped-resources", required_argument, NULL,    \
	     OPT_EXC_NSS},                                                     \
	    {"selector", required_argument, NULL, 'l'},                        \
	    {"or-selector", required_argument, NULL, OPT_OR_SELECTOR},         \
	    {"labels", required_argument, NULL, OPT_LABELS},                   \
	    {"annotations", required_argument, NULL, OPT_ANNOTATIONS},         \
	    {"storage-location", required_argument, NULL, OPT_LOCATION},       \
	    {"volume-snapshot-locations", required_argument, NULL, OPT_VSL},   \
	    {"ttl", required_argument, NULL, OPT_TTL},                         \
	    {"snapshot-volumes", optional_argument, NULL, OPT_SNAP_VOLUMES},   \
	    {"snapshot-move-data", optional_argument, NULL, OPT_SNAP_MOVE},    \
	    {"default-volumes-to-fs-backup", optional_argument, NULL,          \
	     OPT_FS_BACKUP},                                                   \
	    {"ordered-resources", required_argument, NULL, OPT_ORDERED},       \
	    {"csi-snapshot-timeout", required_argument, NULL,                  \
	     OPT_CSI_TIMEOUT},                                                 \
	    {"item-operation-timeout", required_argument, NULL,                \
	     OPT_ITEM_TIMEOUT},                                                \
	    {"resource-policies-configmap", required_argument, NULL,           \
	     OPT_RES_POLICIES},                                                \
	    {"data-mover", required_argument, NULL, OPT_DATA_MOVER},           \
	{                                                                      \
		"parallel-files-upload", required_argument, NULL,              \
		    OPT_PARALLEL_UP                                            \
	}

/* clang-format off */
#define BACKUP_SPEC_HELP \
	"      --include-namespaces LIST   namespaces to include (default *)\n" \
	"      --exclude-namespaces LIST   namespaces to exclude\n" \
	"      --include-resources LIST    resources to include (resource.group)\n" \
	"      --exclude-resources LIST    resources to exclude\n" \
	"      --include-cluster-resources[=BOOL]\n" \
	"                                  include cluster-scoped resources\n" \
	"                                  (default: auto)\n" \
	"      --include-cluster-scoped-resources LIST\n" \
	"      --exclude-cluster-scoped-resources LIST\n" \
	"      --include-namespace-scoped-resources LIST\n" \
	"      --exclude-namespace-scoped-resources LIST\n" \
	"                                  the new scoped filters (not with the above)\n" \
	"  -l, --selector SELECTOR         only items with matching labels\n" \
	"      --or-selector \"A or B\"      items matching any of the selectors\n" \
	"      --labels k=v,...            labels of the object\n" \
	"      --annotations k=v,...       annotations of the object\n" \
	"      --storage-location NAME     backup storage location (default: the\n" \
	"                                  default location)\n" \
	"      --volume-snapshot-locations LIST\n" \
	"      --ttl DURATION              how long to keep the backup (default: the\n" \
	"                                  server's, 720h)\n" \
	"      --snapshot-volumes[=BOOL]   take native snapshots of PVs\n" \
	"      --snapshot-move-data[=BOOL] move snapshot data to the location\n" \
	"      --default-volumes-to-fs-backup[=BOOL]\n" \
	"                                  back up all pod volumes by file system\n" \
	"      --ordered-resources 'pods=ns/a,ns/b;persistentvolumeclaims=ns/c'\n" \
	"      --csi-snapshot-timeout DURATION\n" \
	"      --item-operation-timeout DURATION\n" \
	"      --resource-policies-configmap NAME\n" \
	"      --data-mover NAME\n" \
	"      --parallel-files-upload N\n"
/* clang-format on */

typedef struct backup_spec_opts {
	json_t *inc_ns, *exc_ns, *inc_res, *exc_res;
	json_t *inc_cs, *exc_cs, *inc_nss, *exc_nss;
	int include_cluster; /* -1: not given */
	json_t *selector, *or_selectors;
	json_t *labels, *annotations;
	const char *location;
	json_t *vsl;
	char ttl[40], csi_timeout[40], item_timeout[40];
	int snapshot_volumes, snapshot_move, fs_backup; /* -1: not given */
	json_t *ordered;
	const char *res_policies, *data_mover;
	long parallel_up;
} backup_spec_opts;

static void spec_opts_init(backup_spec_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->include_cluster = o->snapshot_volumes = o->snapshot_move =
	    o->fs_backup = -1;
	snprintf(o->ttl, sizeof(o->ttl), "0s");
	snprintf(o->csi_timeout, sizeof(o->csi_timeout), "0s");
	snprintf(o->item_timeout, sizeof(o->item_timeout), "0s");
}

static void spec_opts_free(backup_spec_opts *o)
{
	json_t **all[] = {&o->inc_ns,	    &o->exc_ns,	 &o->inc_res,
			  &o->exc_res,	    &o->inc_cs,	 &o->exc_cs,
			  &o->inc_nss,	    &o->exc_nss, &o->selector,
			  &o->or_selectors, &o->labels,	 &o->annotations,
			  &o->vsl,	    &o->ordered};
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		json_decref(*all[i]);
		*all[i] = NULL;
	}
}

/* 'pods=ns/a,ns/b;persistentvolumeclaims=ns/c' */
static int parse_ordered(stow_cli *cli, json_t **out, const char *s)
{
	const char *p = s;

	if (*out == NULL)
		*out = json_object();
	while (*p) {
		size_t l = strcspn(p, ";");
		const char *eq = memchr(p, '=', l);
		char *k, *val;

		if (eq == NULL || eq == p)
			return stow_cli_usage_error(
			    cli,
			    "--ordered-resources: '%s' wants "
			    "resource=ns/name,ns/name;resource=...",
			    s);
		k = strndup(p, (size_t)(eq - p));
		val = strndup(eq + 1, l - (size_t)(eq - p) - 1);
		if (k && val)
			json_object_set_new(*out, k, json_string(val));
		free(k);
		free(val);
		p += l;
		if (*p == ';')
			p++;
	}
	return 0;
}

/* Take one spec flag; 1 if taken, or -exit_code on a bad value. */
static int spec_opt(stow_cli *cli, backup_spec_opts *o, int c, const char *arg)
{
	int ex = 0;
	uint64_t n;

	switch (c) {
	case OPT_INC_NS: stow_vcli_add_list(&o->inc_ns, arg); return 1;
	case OPT_EXC_NS: stow_vcli_add_list(&o->exc_ns, arg); return 1;
	case OPT_INC_RES: stow_vcli_add_list(&o->inc_res, arg); return 1;
	case OPT_EXC_RES: stow_vcli_add_list(&o->exc_res, arg); return 1;
	case OPT_INC_CS: stow_vcli_add_list(&o->inc_cs, arg); return 1;
	case OPT_EXC_CS: stow_vcli_add_list(&o->exc_cs, arg); return 1;
	case OPT_INC_NSS: stow_vcli_add_list(&o->inc_nss, arg); return 1;
	case OPT_EXC_NSS: stow_vcli_add_list(&o->exc_nss, arg); return 1;
	case OPT_VSL: stow_vcli_add_list(&o->vsl, arg); return 1;
	case OPT_INC_CLUSTER:
		ex = stow_vcli_parse_bool(cli, "--include-cluster-resources",
					  arg, &o->include_cluster);
		break;
	case OPT_SNAP_VOLUMES:
		ex = stow_vcli_parse_bool(cli, "--snapshot-volumes", arg,
					  &o->snapshot_volumes);
		break;
	case OPT_SNAP_MOVE:
		ex = stow_vcli_parse_bool(cli, "--snapshot-move-data", arg,
					  &o->snapshot_move);
		break;
	case OPT_FS_BACKUP:
		ex = stow_vcli_parse_bool(cli, "--default-volumes-to-fs-backup",
					  arg, &o->fs_backup);
		break;
	case 'l':
		ex = stow_vcli_parse_selector(cli, "--selector", arg,
					      &o->selector);
		break;
	case OPT_OR_SELECTOR:
		ex = stow_vcli_parse_or_selector(cli, arg, &o->or_selectors);
		break;
	case OPT_LABELS:
		ex = stow_vcli_add_map(cli, "--labels", &o->labels, arg, '=');
		break;
	case OPT_ANNOTATIONS:
		ex = stow_vcli_add_map(cli, "--annotations", &o->annotations,
				       arg, '=');
		break;
	case OPT_LOCATION: o->location = arg; return 1;
	case OPT_TTL:
		ex = stow_vcli_parse_duration(cli, "--ttl", arg, o->ttl);
		break;
	case OPT_CSI_TIMEOUT:
		ex = stow_vcli_parse_duration(cli, "--csi-snapshot-timeout",
					      arg, o->csi_timeout);
		break;
	case OPT_ITEM_TIMEOUT:
		ex = stow_vcli_parse_duration(cli, "--item-operation-timeout",
					      arg, o->item_timeout);
		break;
	case OPT_ORDERED: ex = parse_ordered(cli, &o->ordered, arg); break;
	case OPT_RES_POLICIES: o->res_policies = arg; return 1;
	case OPT_DATA_MOVER: o->data_mover = arg; return 1;
	case OPT_PARALLEL_UP:
		ex = stow_cli_parse_uint(cli, "--parallel-files-upload", arg, 0,
					 INT32_MAX, &n);
		o->parallel_up = (long)n;
		break;
	default: return 0;
	}
	return ex ? -ex : 1;
}

/* The BackupSpec as Velero's CLI builds it (pkg/cmd/cli/backup/create.go)
 * and Go's encoding/json writes it: struct-typed fields without
 * omitempty effect (metadata, ttl, hooks, the timeouts) always appear;
 * includedNamespaces defaults to ["*"]. Field order is the Go struct's. */
static json_t *build_backup_spec(const backup_spec_opts *o)
{
	json_t *spec = json_object();

	json_object_set_new(spec, "metadata", json_object());
	if (json_array_size(o->inc_ns))
		json_object_set(spec, "includedNamespaces", o->inc_ns);
	else
		json_object_set_new(spec, "includedNamespaces",
				    json_pack("[s]", "*"));
	stow_vcli_set_list(spec, "excludedNamespaces", o->exc_ns);
	stow_vcli_set_list(spec, "includedResources", o->inc_res);
	stow_vcli_set_list(spec, "excludedResources", o->exc_res);
	stow_vcli_set_list(spec, "includedClusterScopedResources", o->inc_cs);
	stow_vcli_set_list(spec, "excludedClusterScopedResources", o->exc_cs);
	stow_vcli_set_list(spec, "includedNamespaceScopedResources",
			   o->inc_nss);
	stow_vcli_set_list(spec, "excludedNamespaceScopedResources",
			   o->exc_nss);
	if (o->selector && json_object_size(o->selector))
		json_object_set(spec, "labelSelector", o->selector);
	if (json_array_size(o->or_selectors))
		json_object_set(spec, "orLabelSelectors", o->or_selectors);
	stow_vcli_set_bool(spec, "snapshotVolumes", o->snapshot_volumes);
	json_object_set_new(spec, "ttl", json_string(o->ttl));
	stow_vcli_set_bool(spec, "includeClusterResources", o->include_cluster);
	json_object_set_new(spec, "hooks", json_object());
	if (o->location && *o->location)
		json_object_set_new(spec, "storageLocation",
				    json_string(o->location));
	stow_vcli_set_list(spec, "volumeSnapshotLocations", o->vsl);
	stow_vcli_set_bool(spec, "defaultVolumesToFsBackup", o->fs_backup);
	if (o->ordered && json_object_size(o->ordered))
		json_object_set(spec, "orderedResources", o->ordered);
	json_object_set_new(spec, "csiSnapshotTimeout",
			    json_string(o->csi_timeout));
	json_object_set_new(spec, "itemOperationTimeout",
			    json_string(o->item_timeout));
	if (o->res_policies && *o->res_policies)
		json_object_set_new(spec, "resourcePolicy",
				    json_pack("{s:s,s:s}", "kind", "configmap",
					      "name", o->res_policies));
	stow_vcli_set_bool(spec, "snapshotMoveData", o->snapshot_move);
	if (o->data_mover && *o->data_mover)
		json_object_set_new(spec, "datamover",
				    json_string(o->data_mover));
	if (o->parallel_up > 0)
		json_object_set_new(spec, "uploaderConfig",
				    json_pack("{s:I}", "parallelFilesUpload",
					      (json_int_t)o->parallel_up));
	return spec;
}

/* Velero's CLI checks (create.go Validate). */
static int validate_spec_opts(stow_vcli *v, const backup_spec_opts *o)
{
	const stow_kube_resource *r;
	bool old = json_array_size(o->inc_res) || json_array_size(o->exc_res) ||
		   o->include_cluster >= 0;
	bool neu = json_array_size(o->inc_cs) || json_array_size(o->exc_cs) ||
		   json_array_size(o->inc_nss) || json_array_size(o->exc_nss);
	int ex, rc;
	size_t i;

	if (o->selector && json_object_size(o->selector) &&
	    json_array_size(o->or_selectors))
		return stow_cli_usage_error(
		    v->cli, "either a 'selector' or an 'or-selector' can be "
			    "specified, but not both");
	if (old && neu)
		return stow_cli_usage_error(
		    v->cli,
		    "include-resources, exclude-resources and "
		    "include-cluster-resources are old filter parameters.\n"
		    "include-cluster-scoped-resources, "
		    "exclude-cluster-scoped-resources, "
		    "include-namespace-scoped-resources and "
		    "exclude-namespace-scoped-resources are new filter "
		    "parameters.\nThey cannot be used together");
	if (o->location && *o->location) {
		json_t *bsl = NULL;

		if ((ex = stow_vcli_resource(v, "backupstoragelocations", &r)))
			return ex;
		rc = stow_kube_get(v->k, r, v->namespace, o->location, &bsl);
		json_decref(bsl);
		if (rc < 0)
			return stow_vcli_fail(v, rc, NULL);
	}
	for (i = 0; i < json_array_size(o->vsl); i++) {
		json_t *vsl = NULL;

		if ((ex = stow_vcli_resource(v, "volumesnapshotlocations", &r)))
			return ex;
		rc = stow_kube_get(v->k, r, v->namespace,
				   json_string_value(json_array_get(o->vsl, i)),
				   &vsl);
		json_decref(vsl);
		if (rc < 0)
			return stow_vcli_fail(v, rc, NULL);
	}
	return 0;
}

/* --- backup create
 * ------------------------------------------------------------ */

static int backup_create(stow_cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {
	    STOW_VCLI_COMMON_LONGOPTS,
	    BACKUP_SPEC_LONGOPTS,
	    {"from-schedule", required_argument, NULL, OPT_FROM_SCHEDULE},
	    {"wait", no_argument, NULL, 'w'},
	    {"output", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	backup_spec_opts o;
	stow_vcli v;
	const stow_kube_resource *r;
	const char *from_schedule = NULL, *out_fmt = NULL;
	char name[320] = "";
	bool wait = false;
	json_t *backup = NULL, *meta;
	int c, ex = 0, fmt, rc, t;

	spec_opts_init(&o);
	stow_vcli_init(&v, cli);
	stow_cli_opts_begin(cli, "n:l:wo:", lo);
	while ((c = stow_cli_opts_next(cli, argc, argv, &ex)) != -1) {
		if (c == STOW_CLI_OPTS_STOP)
			goto out;
		if (stow_vcli_common_opt(&v, c, optarg))
			continue;
		t = spec_opt(cli, &o, c, optarg);
		if (t < 0) {
			ex = -t;
			goto out;
		}
		if (t)
			continue;
		switch (c) {
		case OPT_FROM_SCHEDULE: from_schedule = optarg; break;
		case 'w': wait = true; break;
		case 'o': out_fmt = optarg; break;
		}
	}
	if ((ex = stow_cli_need_operands(cli, argc, argv, 0, 1)))
		goto out;
	if ((ex = stow_vcli_parse_output(cli, out_fmt, &fmt)))
		goto out;
	if (optind < argc)
		snprintf(name, sizeof(name), "%s", argv[optind]);
	if (name[0] == 0 && from_schedule == NULL) {
		ex = stow_cli_usage_error(
		    cli, "a backup name is required, unless you are creating "
			 "based on a schedule");
		goto out;
	}
	/* -o json|yaml prints without the cluster (except to read a
	 * schedule), as Velero's CLI. */
	if ((ex = stow_vcli_open_for_create(
		 &v, out_fmt && fmt != STOW_VCLI_TABLE && from_schedule == NULL,
		 "backups", &r)))
		goto out;
	if (from_schedule) {
		/* Velero's builder FromSchedule: the template as the spec,
		 * the schedule's labels plus velero.io/schedule-name, an
		 * owner reference when the schedule asks for one. */
		const stow_kube_resource *sr;
		json_t *s = NULL, *labels, *owner;

		if ((ex = stow_vcli_resource(&v, "schedules", &sr)))
			goto out;
		rc = stow_kube_get(v.k, sr, v.namespace, from_schedule, &s);
		if (rc < 0) {
			ex = stow_vcli_fail(&v, rc, NULL);
			goto out;
		}
		if (name[0] == 0) {
			char ts[32];
			time_t now = time(NULL);
			struct tm tm;

			gmtime_r(&now, &tm);
			strftime(ts, sizeof(ts), "%Y%m%d%H%M%S", &tm);
			snprintf(name, sizeof(name), "%s-%s", from_schedule,
				 ts);
		}
		labels = json_deep_copy(stow_vcli_get(s, "metadata.labels"));
		if (labels == NULL)
			labels = json_object();
		json_object_update(
		    labels, stow_vcli_get(s, "spec.template.metadata.labels"));
		json_object_set_new(labels, "velero.io/schedule-name",
				    json_string(from_schedule));
		backup =
		    json_pack("{s:s,s:s,s:{s:s,s:s,s:o},s:O}", "kind", "Backup",
			      "apiVersion", "velero.io/v1", "metadata", "name",
			      name, "namespace", v.namespace, "labels", labels,
			      "spec", stow_vcli_get(s, "spec.template"));
		if (json_is_true(
			stow_vcli_get(s, "spec.useOwnerReferencesInBackup"))) {
			owner =
			    json_pack("[{s:s,s:s,s:s,s:s,s:b}]", "apiVersion",
				      "velero.io/v1", "kind", "Schedule",
				      "name", from_schedule, "uid",
				      stow_vcli_str(s, "metadata.uid")
					  ? stow_vcli_str(s, "metadata.uid")
					  : "",
				      "controller", 1);
			json_object_set_new(json_object_get(backup, "metadata"),
					    "ownerReferences", owner);
		}
		json_decref(s);
	} else {
		if (v.k && (ex = validate_spec_opts(&v, &o)))
			goto out;
		backup = json_pack("{s:s,s:s,s:{s:s,s:s},s:o}", "kind",
				   "Backup", "apiVersion", "velero.io/v1",
				   "metadata", "name", name, "namespace",
				   v.namespace, "spec", build_backup_spec(&o));
		meta = json_object_get(backup, "metadata");
		if (o.labels && json_object_size(o.labels))
			json_object_set(meta, "labels", o.labels);
		if (o.annotations && json_object_size(o.annotations))
			json_object_set(meta, "annotations", o.annotations);
	}
	if (backup == NULL) {
		ex = stow_cli_fail(cli, STOW_ENOMEM);
		goto out;
	}
	if (out_fmt && fmt != STOW_VCLI_TABLE) {
		/* Velero prints the object instead of creating it. */
		stow_vcli_print_obj(backup, fmt);
		goto out;
	}
	rc = stow_kube_create(v.k, r, v.namespace, backup, NULL);
	if (rc < 0) {
		ex = stow_vcli_fail(&v, rc, NULL);
		goto out;
	}
	printf("Backup request \"%s\" submitted successfully.\n", name);
	if (wait) {
		ex = stow_vcli_wait_phase(&v, r, name, "backup", "backed up",
					  "status.progress.itemsBackedUp");
		goto out;
	}
	printf("Run `%s backup describe %s` or `%s backup logs %s` for more "
	       "details.\n",
	       cli->prog, name, cli->prog, name);
out:
	json_decref(backup);
	spec_opts_free(&o);
	stow_vcli_done(&v);
	return ex;
}

/* --- get
 * ------------------------------------------------------------------------ */

static const char *phase_or(const json_t *o, const char *dflt)
{
	const char *p = stow_vcli_str(o, "status.phase");

	return p && *p ? p : dflt;
}

static void backup_row(json_t *rows, const json_t *b)
{
	char status[96], errs[24], warns[24], created[64], expires[48];
	const char *exp = stow_vcli_str(b, "status.expiration");
	int64_t when = stow_vcli_parse_time(exp);
	const char *loc = stow_vcli_str(b, "spec.storageLocation");
	long long nerr = stow_vcli_int(b, "status.errors");
	stow_buf sel;
	const char *cells[8];

	if (when < 0) {
		int64_t ttl_ns = 0;
		const char *ttl = stow_vcli_str(b, "spec.ttl");
		int64_t ct = stow_vcli_parse_time(
		    stow_vcli_str(b, "metadata.creationTimestamp"));

		if (ttl && stow_duration_parse(ttl, &ttl_ns) == 0 &&
		    ttl_ns > 0 && ct >= 0)
			when = ct + ttl_ns / STOW_NSEC_PER_SEC;
	}
	snprintf(status, sizeof(status), "%s", phase_or(b, "New"));
	if (stow_vcli_get(b, "metadata.deletionTimestamp"))
		snprintf(status, sizeof(status), "Deleting");
	if (strcmp(status, "PartiallyFailed") == 0)
		snprintf(status, sizeof(status), "PartiallyFailed (%lld %s)",
			 nerr, nerr == 1 ? "error" : "errors");
	snprintf(errs, sizeof(errs), "%lld", nerr);
	snprintf(warns, sizeof(warns), "%lld",
		 stow_vcli_int(b, "status.warnings"));
	stow_vcli_format_time(created, sizeof(created),
			      stow_vcli_str(b, "status.startTimestamp"));
	stow_vcli_from_now(expires, sizeof(expires), when);
	stow_buf_init(&sel, 0);
	stow_vcli_format_selector(&sel, stow_vcli_get(b, "spec.labelSelector"));
	stow_buf_append_u8(&sel, 0);
	cells[0] = stow_vcli_str(b, "metadata.name");
	cells[1] = status;
	cells[2] = errs;
	cells[3] = warns;
	cells[4] = created;
	cells[5] = expires;
	cells[6] = loc ? loc : "";
	cells[7] = (const char *)sel.data;
	stow_vcli_table_row(rows, 8, cells);
	stow_buf_free(&sel);
}

static void schedule_row(json_t *rows, const json_t *s)
{
	char created[64], last[48], ttl[48];
	const char *t = stow_vcli_str(s, "spec.template.ttl");
	int64_t ns = 0;
	stow_buf sel;
	const char *cells[9];

	stow_vcli_format_time(created, sizeof(created),
			      stow_vcli_str(s, "metadata.creationTimestamp"));
	stow_vcli_from_now(
	    last, sizeof(last),
	    stow_vcli_parse_time(stow_vcli_str(s, "status.lastBackup")));
	if (t == NULL || stow_duration_parse(t, &ns) < 0)
		ns = 0;
	stow_duration_format(ns, ttl);
	stow_buf_init(&sel, 0);
	stow_vcli_format_selector(
	    &sel, stow_vcli_get(s, "spec.template.labelSelector"));
	stow_buf_append_u8(&sel, 0);
	cells[0] = stow_vcli_str(s, "metadata.name");
	cells[1] = phase_or(s, "New");
	cells[2] = created;
	cells[3] = stow_vcli_str(s, "spec.schedule");
	cells[4] = ttl;
	cells[5] = last;
	cells[6] = (const char *)sel.data;
	cells[7] =
	    json_is_true(stow_vcli_get(s, "spec.paused")) ? "true" : "false";
	stow_vcli_table_row(rows, 8, cells);
	stow_buf_free(&sel);
}

static const char *const backup_headers[] = {
    "NAME",    "STATUS",  "ERRORS",	      "WARNINGS",
    "CREATED", "EXPIRES", "STORAGE LOCATION", "SELECTOR"};
static const char *const schedule_headers[] = {
    "NAME",	  "STATUS",	 "CREATED",  "SCHEDULE",
    "BACKUP TTL", "LAST BACKUP", "SELECTOR", "PAUSED"};

static const stow_vcli_list_kind backup_kind = {
    "backups", "BackupList", backup_headers, 8, backup_row, true};
static const stow_vcli_list_kind schedule_kind = {
    "schedules", "ScheduleList", schedule_headers, 8, schedule_row, true};

static int backup_get(stow_cli *cli, int argc, char **argv)
{
	return stow_vcli_get_cmd(cli, argc, argv, &backup_kind);
}

static int schedule_get(stow_cli *cli, int argc, char **argv)
{
	return stow_vcli_get_cmd(cli, argc, argv, &schedule_kind);
}

/* --- describe
 * ------------------------------------------------------------------- */

static void print_selector(const char *title, const json_t *sel)
{
	stow_buf b;

	stow_buf_init(&b, 0);
	stow_vcli_format_selector(&b, sel);
	printf("%s  %.*s\n", title, (int)b.len, (const char *)b.data);
	stow_buf_free(&b);
}

/* The spec part shared by Backup describe and a Schedule's template
 * (Velero's DescribeBackupSpec), indented by `in` spaces. */
static void describe_backup_spec(const json_t *spec, int in)
{
	const json_t *ors = json_object_get(spec, "orLabelSelectors");
	const json_t *icr = json_object_get(spec, "includeClusterResources");
	const char *ttl = stow_vcli_str(spec, "ttl");
	const char *loc = stow_vcli_str(spec, "storageLocation");
	const char *dm = stow_vcli_str(spec, "datamover");
	char pad[16];
	size_t i;

	snprintf(pad, sizeof(pad), "%*s", in, "");
	printf("%sNamespaces:\n", pad);
	stow_vcli_print_strings(in + 2, "Included:", 11,
				json_object_get(spec, "includedNamespaces"),
				"*");
	stow_vcli_print_strings(in + 2, "Excluded:", 11,
				json_object_get(spec, "excludedNamespaces"),
				"<none>");
	printf("\n%sResources:\n", pad);
	if (json_object_get(spec, "includedClusterScopedResources") ||
	    json_object_get(spec, "excludedClusterScopedResources") ||
	    json_object_get(spec, "includedNamespaceScopedResources") ||
	    json_object_get(spec, "excludedNamespaceScopedResources")) {
		stow_vcli_print_strings(
		    in + 2, "Included cluster-scoped:    ", 28,
		    json_object_get(spec, "includedClusterScopedResources"),
		    "<none>");
		stow_vcli_print_strings(
		    in + 2, "Excluded cluster-scoped:    ", 28,
		    json_object_get(spec, "excludedClusterScopedResources"),
		    "<none>");
		stow_vcli_print_strings(
		    in + 2, "Included namespace-scoped:  ", 28,
		    json_object_get(spec, "includedNamespaceScopedResources"),
		    "*");
		stow_vcli_print_strings(
		    in + 2, "Excluded namespace-scoped:  ", 28,
		    json_object_get(spec, "excludedNamespaceScopedResources"),
		    "<none>");
	} else {
		stow_vcli_print_strings(
		    in + 2, "Included:", 17,
		    json_object_get(spec, "includedResources"), "*");
		stow_vcli_print_strings(
		    in + 2, "Excluded:", 17,
		    json_object_get(spec, "excludedResources"), "<none>");
		printf("%s  %-17s%s\n", pad, "Cluster-scoped:",
		       icr == NULL
			   ? "auto"
			   : (json_is_true(icr) ? "included" : "excluded"));
	}
	printf("\n%s", pad);
	print_selector("Label selector:",
		       json_object_get(spec, "labelSelector"));
	printf("\n%sOr label selector:  ", pad);
	if (json_array_size(ors) == 0)
		printf("<none>\n");
	for (i = 0; i < json_array_size(ors); i++) {
		stow_buf b;

		stow_buf_init(&b, 0);
		stow_vcli_format_selector(&b, json_array_get(ors, i));
		printf("%s%.*s", i ? " or " : "", (int)b.len,
		       (const char *)b.data);
		stow_buf_free(&b);
	}
	if (json_array_size(ors))
		printf("\n");
	printf("\n%sStorage Location:  %s\n", pad, loc ? loc : "");
	printf("\n%s%-31s%s\n", pad, "Velero-Native Snapshot PVs:",
	       stow_vcli_bool_word(json_object_get(spec, "snapshotVolumes"),
				   "auto"));
	printf("%s%-31s%s\n", pad, "File System Backup (Default):",
	       stow_vcli_bool_word(
		   json_object_get(spec, "defaultVolumesToFsBackup"), "false"));
	printf("%s%-31s%s\n", pad, "Snapshot Move Data:",
	       stow_vcli_bool_word(json_object_get(spec, "snapshotMoveData"),
				   "false"));
	printf("%s%-31s%s\n", pad, "Data Mover:", dm && *dm ? dm : "velero");
	printf("\n%sTTL:  %s\n", pad, ttl ? ttl : "0s");
	printf("\n%s%-23s%s\n", pad, "CSISnapshotTimeout:",
	       stow_vcli_str(spec, "csiSnapshotTimeout")
		   ? stow_vcli_str(spec, "csiSnapshotTimeout")
		   : "0s");
	printf("%s%-23s%s\n", pad, "ItemOperationTimeout:",
	       stow_vcli_str(spec, "itemOperationTimeout")
		   ? stow_vcli_str(spec, "itemOperationTimeout")
		   : "0s");
	printf("\n%sHooks:  %s\n", pad,
	       json_array_size(stow_vcli_get(spec, "hooks.resources"))
		   ? "(see -o yaml)"
		   : "<none>");
}

static void describe_backup(stow_vcli *v, const json_t *b, bool details)
{
	const char *phase = phase_or(b, "New");
	const json_t *st = json_object_get(b, "status");
	const json_t *verrs = json_object_get(st, "validationErrors");
	char t1[64];
	size_t i;

	stow_vcli_describe_metadata(b);
	printf("\nPhase:  %s\n", phase);
	if (json_array_size(verrs)) {
		printf("\nValidation errors:");
		for (i = 0; i < json_array_size(verrs); i++)
			printf("  %s\n",
			       json_string_value(json_array_get(verrs, i)));
	}
	if (stow_vcli_str(st, "failureReason"))
		printf("\nFailure reason:  %s\n",
		       stow_vcli_str(st, "failureReason"));
	if (stow_vcli_phase_final(phase)) {
		printf("\n%-10s%lld\n", "Errors:", stow_vcli_int(st, "errors"));
		printf("%-10s%lld\n",
		       "Warnings:", stow_vcli_int(st, "warnings"));
		/* Velero's --details shows the messages themselves. */
		if (details && strcmp(phase, "FailedValidation") != 0 &&
		    (stow_vcli_int(st, "errors") ||
		     stow_vcli_int(st, "warnings")))
			stow_vcli_describe_results(
			    v, "BackupResults",
			    stow_vcli_str(b, "metadata.name"));
	}
	printf("\n");
	describe_backup_spec(json_object_get(b, "spec"), 0);
	printf("\nBackup Format Version:  %s\n",
	       stow_vcli_str(st, "formatVersion")
		   ? stow_vcli_str(st, "formatVersion")
		   : "");
	stow_vcli_describe_times(st);
	stow_vcli_format_time(t1, sizeof(t1), stow_vcli_str(st, "expiration"));
	printf("\nExpiration:  %s\n", t1);
	stow_vcli_describe_progress(st, phase, 39, "backed up",
				    "progress.itemsBackedUp");
	if (details && stow_vcli_phase_final(phase) &&
	    strcmp(phase, "FailedValidation") != 0)
		stow_vcli_describe_resource_list(
		    v, "BackupResourceList", stow_vcli_str(b, "metadata.name"));
	printf("\nVelero-Native Snapshots: <none included>\n");
}

static void describe_schedule(stow_vcli *v, const json_t *s, bool details)
{
	const json_t *st = json_object_get(s, "status");
	const json_t *verrs = json_object_get(st, "validationErrors");
	char t[64];
	size_t i;

	(void)v;
	(void)details;
	stow_vcli_describe_metadata(s);
	printf("\nPhase:  %s\n", phase_or(s, "New"));
	if (json_array_size(verrs)) {
		printf("\nValidation errors:\n");
		for (i = 0; i < json_array_size(verrs); i++)
			printf("  %s\n",
			       json_string_value(json_array_get(verrs, i)));
	}
	printf(
	    "\nUses Owner References:  %s\n",
	    stow_vcli_bool_word(
		stow_vcli_get(s, "spec.useOwnerReferencesInBackup"), "false"));
	printf("\nPaused:  %s\n", json_is_true(stow_vcli_get(s, "spec.paused"))
				      ? "true"
				      : "false");
	printf("\nSchedule:  %s\n", stow_vcli_str(s, "spec.schedule")
					? stow_vcli_str(s, "spec.schedule")
					: "");
	printf("\nBackup Template:\n");
	describe_backup_spec(stow_vcli_get(s, "spec.template"), 2);
	stow_vcli_format_time(t, sizeof(t), stow_vcli_str(st, "lastBackup"));
	printf("\nLast Backup:  %s\n", strcmp(t, "<nil>") ? t : "<never>");
}

static int backup_describe(stow_cli *cli, int argc, char **argv)
{
	return stow_vcli_describe_cmd(cli, argc, argv, "backups",
				      describe_backup);
}

static int schedule_describe(stow_cli *cli, int argc, char **argv)
{
	return stow_vcli_describe_cmd(cli, argc, argv, "schedules",
				      describe_schedule);
}

/* --- logs and download ------------------------------------------------------
 */

/* Shared by `backup logs` and `restore logs` (cmd_velero_restore.c has
 * its own entry that calls this through the kind). */
static int logs_cmd(stow_cli *cli, int argc, char **argv, const char *plural,
		    const char *what, const char *kind)
{
	static const struct option lo[] = {
	    STOW_VCLI_COMMON_LONGOPTS,
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"insecure-skip-tls-verify", optional_argument, NULL, OPT_INSECURE},
	    {"cacert", required_argument, NULL, OPT_CACERT},
	    {"details", optional_argument, NULL, OPT_DETAILS},
	    {NULL, 0, NULL, 0},
	};
	const stow_kube_resource *r;
	const char *cacert = NULL, *phase;
	int insecure = 0, ignored = 0, c, ex = 0, rc;
	long timeout_s = 60;
	stow_buf raw, plain;
	json_t *obj = NULL;
	stow_vcli v;

	stow_vcli_init(&v, cli);
	stow_buf_init(&raw, 0);
	stow_buf_init(&plain, 0);
	stow_cli_opts_begin(cli, "n:", lo);
	PARSE_OPTIONS(cli, argc, argv, c, ex)
	{
		if (stow_vcli_common_opt(&v, c, optarg))
			continue;
		switch (c) {
		case OPT_TIMEOUT:
			if ((ex = stow_vcli_parse_timeout(cli, "--timeout",
							  optarg, &timeout_s)))
				return ex;
			break;
		case OPT_INSECURE:
			if ((ex = stow_vcli_parse_bool(
				 cli, "--insecure-skip-tls-verify", optarg,
				 &insecure)))
				return ex;
			break;
		case OPT_CACERT: cacert = optarg; break;
		case OPT_DETAILS:
			/* Accepted: the seed's `logs --details`; the log is
			 * always complete. */
			if ((ex = stow_vcli_parse_bool(cli, "--details", optarg,
						       &ignored)))
				return ex;
			break;
		}
	}
	if ((ex = stow_cli_need_operands(cli, argc, argv, 1, 1)))
		return ex;
	if ((ex = stow_vcli_connect(&v)) ||
	    (ex = stow_vcli_resource(&v, plural, &r)))
		goto out;
	rc = stow_kube_get(v.k, r, v.namespace, argv[optind], &obj);
	if (rc < 0) {
		ex = stow_vcli_fail(&v, rc, NULL);
		goto out;
	}
	phase = phase_or(obj, "New");
	if (strcmp(phase, "Completed") && strcmp(phase, "PartiallyFailed") &&
	    strcmp(phase, "Failed")) {
		fprintf(stderr,
			"Logs for %s \"%s\" are not available until it's "
			"finished processing. Please wait until the %s has a "
			"phase of Completed or Failed and try again.\n",
			what, argv[optind], what);
		ex = STOW_EXIT_ERROR;
		goto out;
	}
	if ((ex = stow_vcli_download(&v, kind, argv[optind], timeout_s,
				     insecure, cacert, &raw)))
		goto out;
	rc = stow_vcli_gunzip(&raw, &plain);
	if (rc < 0) {
		ex = stow_vcli_fail(&v, rc, NULL);
		goto out;
	}
	fwrite(plain.data, 1, plain.len, stdout);
out:
	json_decref(obj);
	stow_buf_free(&raw);
	stow_buf_free(&plain);
	stow_vcli_done(&v);
	return ex;
}

static int backup_logs(stow_cli *cli, int argc, char **argv)
{
	return logs_cmd(cli, argc, argv, "backups", "backup", "BackupLog");
}

int stow_vcli_restore_logs(stow_cli *cli, int argc, char **argv)
{
	return logs_cmd(cli, argc, argv, "restores", "restore", "RestoreLog");
}

static int backup_download(stow_cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {
	    STOW_VCLI_COMMON_LONGOPTS,
	    {"output", required_argument, NULL, 'o'},
	    {"force", no_argument, NULL, OPT_FORCE},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"insecure-skip-tls-verify", optional_argument, NULL, OPT_INSECURE},
	    {"cacert", required_argument, NULL, OPT_CACERT},
	    {NULL, 0, NULL, 0},
	};
	const stow_kube_resource *r;
	const char *outp = NULL, *cacert = NULL;
	char path[4096], abspath[PATH_MAX];
	int insecure = 0, force = 0, c, ex = 0, rc, fd;
	long timeout_s = 60;
	json_t *obj = NULL;
	stow_buf raw;
	stow_vcli v;

	stow_vcli_init(&v, cli);
	stow_buf_init(&raw, 0);
	stow_cli_opts_begin(cli, "n:o:", lo);
	PARSE_OPTIONS(cli, argc, argv, c, ex)
	{
		if (stow_vcli_common_opt(&v, c, optarg))
			continue;
		switch (c) {
		case 'o': outp = optarg; break;
		case OPT_FORCE: force = 1; break;
		case OPT_TIMEOUT:
			if ((ex = stow_vcli_parse_timeout(cli, "--timeout",
							  optarg, &timeout_s)))
				return ex;
			break;
		case OPT_INSECURE:
			if ((ex = stow_vcli_parse_bool(
				 cli, "--insecure-skip-tls-verify", optarg,
				 &insecure)))
				return ex;
			break;
		case OPT_CACERT: cacert = optarg; break;
		}
	}
	if ((ex = stow_cli_need_operands(cli, argc, argv, 1, 1)))
		return ex;
	if (outp)
		snprintf(path, sizeof(path), "%s", outp);
	else
		snprintf(path, sizeof(path), "%s-data.tar.gz", argv[optind]);
	if (strcmp(path, "-") != 0 && !force && access(path, F_OK) == 0) {
		fprintf(stderr,
			"An error occurred: file '%s' already exists, "
			"remove it or use --force\n",
			path);
		return STOW_EXIT_ERROR;
	}
	if ((ex = stow_vcli_connect(&v)) ||
	    (ex = stow_vcli_resource(&v, "backups", &r)))
		goto out;
	rc = stow_kube_get(v.k, r, v.namespace, argv[optind], &obj);
	if (rc < 0) {
		ex = stow_vcli_fail(&v, rc, NULL);
		goto out;
	}
	if ((ex = stow_vcli_download(&v, "BackupContents", argv[optind],
				     timeout_s, insecure, cacert, &raw)))
		goto out;
	if (strcmp(path, "-") == 0) {
		fwrite(raw.data, 1, raw.len, stdout);
		goto out;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, raw.data, raw.len) != (ssize_t)raw.len ||
	    close(fd) < 0) {
		fprintf(stderr, "An error occurred: writing %s: %s\n", path,
			strerror(errno));
		ex = STOW_EXIT_ERROR;
		goto out;
	}
	if (realpath(path, abspath) == NULL)
		snprintf(abspath, sizeof(abspath), "%s", path);
	printf("Backup %s has been successfully downloaded to %s\n",
	       argv[optind], abspath);
out:
	json_decref(obj);
	stow_buf_free(&raw);
	stow_vcli_done(&v);
	return ex;
}

/* --- delete
 * ------------------------------------------------------------------- */

static int backup_delete(stow_cli *cli, int argc, char **argv)
{
	const stow_kube_resource *r, *dr;
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
	if (!confirm && !stow_vcli_confirm()) {
		printf("Cancelled.\n");
		return 0;
	}
	if ((ex = stow_vcli_connect(&v)) ||
	    (ex = stow_vcli_resource(&v, "backups", &r)) ||
	    (ex = stow_vcli_resource(&v, "deletebackuprequests", &dr)))
		goto out;
	if (optind < argc) {
		/* Go on past a missing name, as Velero does. */
		int a;

		items = json_array();
		for (a = optind; a < argc; a++) {
			json_t *o = NULL;

			rc = stow_kube_get(v.k, r, v.namespace, argv[a], &o);
			if (rc < 0) {
				stow_vcli_fail(&v, rc, NULL);
				errors++;
				continue;
			}
			json_array_append_new(items, o);
		}
	} else if ((ex = stow_vcli_select_targets(&v, r, argc, argv, all,
						  selector, &items))) {
		goto out;
	}
	if (json_array_size(items) == 0 && errors == 0)
		printf("No backups found\n");
	for (i = 0; i < json_array_size(items); i++) {
		const json_t *b = json_array_get(items, i);
		const char *name = stow_vcli_str(b, "metadata.name");
		const char *uid = stow_vcli_str(b, "metadata.uid");
		char gen[300];
		json_t *dbr;

		/* pkg/backup/delete_helpers.go NewDeleteBackupRequest. */
		snprintf(gen, sizeof(gen), "%s-", name);
		dbr = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s,s:s}},s:{s:s}}",
				"kind", "DeleteBackupRequest", "apiVersion",
				"velero.io/v1", "metadata", "generateName", gen,
				"namespace", v.namespace, "labels",
				"velero.io/backup-name", name,
				"velero.io/backup-uid", uid ? uid : "", "spec",
				"backupName", name);
		rc = stow_kube_create(v.k, dr, v.namespace, dbr, NULL);
		json_decref(dbr);
		if (rc < 0) {
			stow_vcli_fail(&v, rc, NULL);
			errors++;
			continue;
		}
		printf("Request to delete backup \"%s\" submitted "
		       "successfully.\nThe backup will be fully deleted after "
		       "all associated data (disk snapshots, backup files, "
		       "restores) are removed.\n",
		       name);
	}
	ex = errors ? STOW_EXIT_ERROR : 0;
out:
	json_decref(items);
	stow_vcli_done(&v);
	return ex;
}

/* --- schedule create / delete / pause
 * ------------------------------------------ */

static int schedule_create(stow_cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {
	    STOW_VCLI_COMMON_LONGOPTS,
	    BACKUP_SPEC_LONGOPTS,
	    {"schedule", required_argument, NULL, OPT_SCHEDULE},
	    {"paused", optional_argument, NULL, OPT_PAUSED},
	    {"skip-immediately", optional_argument, NULL, OPT_SKIP_IMMEDIATELY},
	    {"use-owner-references-in-backup", optional_argument, NULL,
	     OPT_OWNER_REFS},
	    {"output", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	backup_spec_opts o;
	const stow_kube_resource *r;
	const char *cron = NULL, *out_fmt = NULL;
	int paused = 0, skip = -1, owner = 0, c, ex = 0, fmt, rc, t;
	bool print_only;
	json_t *sched = NULL, *meta, *spec;
	stow_vcli v;

	spec_opts_init(&o);
	stow_vcli_init(&v, cli);
	stow_cli_opts_begin(cli, "n:l:o:", lo);
	while ((c = stow_cli_opts_next(cli, argc, argv, &ex)) != -1) {
		if (c == STOW_CLI_OPTS_STOP)
			goto out;
		if (stow_vcli_common_opt(&v, c, optarg))
			continue;
		t = spec_opt(cli, &o, c, optarg);
		if (t < 0) {
			ex = -t;
			goto out;
		}
		if (t)
			continue;
		switch (c) {
		case OPT_SCHEDULE: cron = optarg; break;
		case OPT_PAUSED:
			ex = stow_vcli_parse_bool(cli, "--paused", optarg,
						  &paused);
			break;
		case OPT_SKIP_IMMEDIATELY:
			ex = stow_vcli_parse_bool(cli, "--skip-immediately",
						  optarg, &skip);
			break;
		case OPT_OWNER_REFS:
			ex = stow_vcli_parse_bool(
			    cli, "--use-owner-references-in-backup", optarg,
			    &owner);
			break;
		case 'o': out_fmt = optarg; break;
		}
		if (ex)
			goto out;
	}
	if ((ex = stow_cli_need_operands(cli, argc, argv, 1, 1)) ||
	    (ex = stow_vcli_parse_output(cli, out_fmt, &fmt)))
		goto out;
	if (cron == NULL || *cron == 0) {
		ex = stow_cli_usage_error(cli, "--schedule must be non-empty");
		goto out;
	}
	print_only = out_fmt && fmt != STOW_VCLI_TABLE;
	if ((ex = stow_vcli_open_for_create(&v, print_only, "schedules", &r)) ||
	    (!print_only && (ex = validate_spec_opts(&v, &o))))
		goto out;
	/* pkg/cmd/cli/schedule/create.go: the ScheduleSpec field order is
	 * template, schedule, useOwnerReferencesInBackup (always set),
	 * paused (omitempty), skipImmediately (when given). */
	spec = json_pack("{s:o,s:s,s:b}", "template", build_backup_spec(&o),
			 "schedule", cron, "useOwnerReferencesInBackup", owner);
	if (paused)
		json_object_set_new(spec, "paused", json_true());
	if (skip >= 0)
		json_object_set_new(spec, "skipImmediately",
				    json_boolean(skip));
	sched = json_pack("{s:s,s:s,s:{s:s,s:s},s:o}", "kind", "Schedule",
			  "apiVersion", "velero.io/v1", "metadata", "name",
			  argv[optind], "namespace", v.namespace, "spec", spec);
	meta = json_object_get(sched, "metadata");
	if (o.labels && json_object_size(o.labels))
		json_object_set(meta, "labels", o.labels);
	if (o.annotations && json_object_size(o.annotations))
		json_object_set(meta, "annotations", o.annotations);
	if (out_fmt && fmt != STOW_VCLI_TABLE) {
		stow_vcli_print_obj(sched, fmt);
		goto out;
	}
	rc = stow_kube_create(v.k, r, v.namespace, sched, NULL);
	if (rc < 0) {
		ex = stow_vcli_fail(&v, rc, NULL);
		goto out;
	}
	printf("Schedule \"%s\" created successfully.\n", argv[optind]);
out:
	json_decref(sched);
	spec_opts_free(&o);
	stow_vcli_done(&v);
	return ex;
}

static void schedule_deleted(stow_vcli *v, const char *name)
{
	(void)v;
	printf("Schedule deleted: %s\n", name);
}

static int schedule_delete(stow_cli *cli, int argc, char **argv)
{
	static const stow_vcli_delete_kind kd = {
	    "schedules", "No schedules found", false, schedule_deleted};

	return stow_vcli_delete_cmd(cli, argc, argv, &kd);
}

static int pause_cmd(stow_cli *cli, int argc, char **argv, bool pause)
{
	static const struct option lo[] = {
	    STOW_VCLI_COMMON_LONGOPTS,
	    {"all", no_argument, NULL, OPT_ALL},
	    {"selector", required_argument, NULL, 'l'},
	    {"skip-immediately", optional_argument, NULL, OPT_SKIP_IMMEDIATELY},
	    {NULL, 0, NULL, 0},
	};
	const stow_kube_resource *r;
	const char *selector = NULL;
	bool all = false;
	int skip = -1, c, ex = 0, rc, errors = 0;
	json_t *items = NULL;
	stow_vcli v;
	size_t i;

	stow_vcli_init(&v, cli);
	stow_cli_opts_begin(cli, "n:l:", lo);
	PARSE_OPTIONS(cli, argc, argv, c, ex)
	{
		if (stow_vcli_common_opt(&v, c, optarg))
			continue;
		switch (c) {
		case OPT_ALL: all = true; break;
		case 'l': selector = optarg; break;
		case OPT_SKIP_IMMEDIATELY:
			if ((ex = stow_vcli_parse_bool(
				 cli, "--skip-immediately", optarg, &skip)))
				return ex;
			break;
		}
	}
	if ((ex = stow_vcli_connect(&v)) ||
	    (ex = stow_vcli_resource(&v, "schedules", &r)) ||
	    (ex = stow_vcli_select_targets(&v, r, argc, argv, all, selector,
					   &items)))
		goto out;
	for (i = 0; i < json_array_size(items); i++) {
		const json_t *s = json_array_get(items, i);
		const char *name = stow_vcli_str(s, "metadata.name");
		const char *msg = pause ? "paused" : "unpaused";
		char patch[128];

		if (json_is_true(stow_vcli_get(s, "spec.paused")) == pause) {
			fprintf(stderr, "Schedule %s is already %s, skip\n",
				name, msg);
			continue;
		}
		if (skip >= 0)
			snprintf(patch, sizeof(patch),
				 "{\"spec\":{\"paused\":%s,"
				 "\"skipImmediately\":%s}}",
				 pause ? "true" : "false",
				 skip ? "true" : "false");
		else
			snprintf(patch, sizeof(patch),
				 "{\"spec\":{\"paused\":%s}}",
				 pause ? "true" : "false");
		rc = stow_kube_patch(v.k, r, v.namespace, name,
				     STOW_KUBE_PATCH_MERGE, patch, false, NULL);
		if (rc < 0) {
			stow_vcli_fail(&v, rc, NULL);
			errors++;
			continue;
		}
		printf("Schedule %s %s successfully\n", name, msg);
	}
	ex = errors ? STOW_EXIT_ERROR : 0;
out:
	json_decref(items);
	stow_vcli_done(&v);
	return ex;
}

static int schedule_pause(stow_cli *cli, int argc, char **argv)
{
	return pause_cmd(cli, argc, argv, true);
}

static int schedule_unpause(stow_cli *cli, int argc, char **argv)
{
	return pause_cmd(cli, argc, argv, false);
}

/* --- the tree
 * ------------------------------------------------------------------ */

/* clang-format off */
static const stow_cli_cmd backup_create_cmd = {
	.name = "create",
	.args = "NAME [flags]",
	.summary = "create a backup",
	.about = "Create a Backup object in the Velero namespace; the server backs up\n"
		 "the selected resources to the backup storage location. The spec is\n"
		 "exactly what Velero's CLI writes for the same flags. With\n"
		 "--from-schedule the spec is the schedule's template (NAME defaults to\n"
		 "<schedule>-<UTC timestamp>). With -o json|yaml the object is printed,\n"
		 "not created. --wait shows the phase and items backed up / total until\n"
		 "the backup ends; the exit code is then 0 for Completed, 3 for\n"
		 "PartiallyFailed and 1 for Failed or FailedValidation.\n",
	.options =
	    STOW_VCLI_COMMON_HELP
	    BACKUP_SPEC_HELP
	    "      --from-schedule NAME        back up now as the schedule would\n"
	    "  -w, --wait                      wait for the backup to finish\n"
	    "  -o, --output FORMAT             print the object (json or yaml) instead\n"
	    "                                  of creating it\n",
	.example = "  velero backup create b1 --include-namespaces app --ttl 24h --selector app=web\n"
		   "  velero backup create --from-schedule daily\n",
	.run = backup_create,
};

static const stow_cli_cmd backup_get_cmd = {
	.name = "get",
	.args = "[NAME...] [flags]",
	.summary = "list backups",
	.about = "List backups (all, or those named) as Velero's table: NAME STATUS\n"
		 "ERRORS WARNINGS CREATED EXPIRES STORAGE LOCATION SELECTOR; or as\n"
		 "JSON or YAML (one object, or a BackupList).\n",
	.options = STOW_VCLI_COMMON_HELP
		   "  -l, --selector SELECTOR   only backups with matching labels\n"
		   "  -o, --output FORMAT       table (default), json or yaml\n",
	.example = "  velero backup get\n  velero backup get b1 -o yaml\n",
	.run = backup_get,
};

static const stow_cli_cmd backup_describe_cmd = {
	.name = "describe",
	.args = "[NAME...] [flags]",
	.summary = "describe backups",
	.about = "Show a backup's spec and status in Velero's layout. --details adds\n"
		 "the list of backed-up resources (fetched from the location through a\n"
		 "DownloadRequest).\n",
	.options = STOW_VCLI_COMMON_HELP
		   "  -l, --selector SELECTOR   describe the backups with matching labels\n"
		   "      --details             also the resource list\n"
		   "  -o, --output FORMAT       json or yaml: the objects instead\n",
	.example = "  velero backup describe b1 --details\n",
	.run = backup_describe,
};

static const stow_cli_cmd backup_logs_cmd = {
	.name = "logs",
	.args = "NAME [flags]",
	.summary = "print the log of a backup",
	.about = "Fetch the backup's log from its location (a DownloadRequest of kind\n"
		 "BackupLog; the server answers with a URL: presigned S3, inline data\n"
		 "for small objects of filesystem locations) and print it uncompressed.\n",
	.options = STOW_VCLI_COMMON_HELP
		   "      --timeout DURATION    how long to wait for the URL (default 1m)\n"
		   "      --insecure-skip-tls-verify[=BOOL]\n"
		   "      --cacert FILE         CA bundle for the download URL\n"
		   "      --details             accepted (the log is always complete)\n",
	.example = "  velero backup logs b1\n",
	.run = backup_logs,
};

static const stow_cli_cmd backup_delete_cmd = {
	.name = "delete",
	.args = "[NAME...] [flags]",
	.summary = "delete backups",
	.about = "Ask the server to delete backups: one DeleteBackupRequest per backup\n"
		 "(generateName <backup>-, labels velero.io/backup-name and\n"
		 "velero.io/backup-uid, as Velero). The server removes the backup's\n"
		 "files from its location, its restores and then the Backup. Asks for\n"
		 "confirmation unless --confirm.\n",
	.options = STOW_VCLI_COMMON_HELP
		   "      --confirm             do not ask\n"
		   "      --all                 every backup\n"
		   "  -l, --selector SELECTOR   backups with matching labels\n",
	.example = "  velero backup delete b1 --confirm\n",
	.run = backup_delete,
};

static const stow_cli_cmd backup_download_cmd = {
	.name = "download",
	.args = "NAME [flags]",
	.summary = "download a backup's contents (the tarball)",
	.about = "Fetch the backup's <name>.tar.gz (a DownloadRequest of kind\n"
		 "BackupContents) into a file, <NAME>-data.tar.gz by default (-o -:\n"
		 "stdout). Filesystem locations pass objects over 768 KiB only where\n"
		 "their directory is mounted (STOWAGE_FS_ROOT: the server's --fs-root\n"
		 "as seen here).\n",
	.options = STOW_VCLI_COMMON_HELP
		   "  -o, --output FILE         where to write (default NAME-data.tar.gz)\n"
		   "      --force               overwrite FILE\n"
		   "      --timeout DURATION    how long to wait for the URL (default 1m)\n"
		   "      --insecure-skip-tls-verify[=BOOL]\n"
		   "      --cacert FILE\n",
	.example = "  velero backup download b1 -o /tmp/b1.tar.gz\n",
	.run = backup_download,
};

static const stow_cli_cmd *const backup_subs[] = {
	&backup_create_cmd, &backup_get_cmd, &backup_describe_cmd,
	&backup_logs_cmd, &backup_delete_cmd, &backup_download_cmd, NULL,
};

const stow_cli_cmd stow_cli_backup_cmd = {
	.name = "backup",
	.summary = "work with Velero backups (create, get, describe, logs, delete, download)",
	.about = "Velero's `backup` commands: they create and read velero.io/v1 Backup\n"
		 "objects in the Velero namespace; `stowage server` does the work.\n"
		 "Common flags: -n/--namespace, --kubeconfig, --kubecontext.\n",
	.subs = backup_subs,
};

static const stow_cli_cmd schedule_create_cmd = {
	.name = "create",
	.args = "NAME --schedule CRON [flags]",
	.summary = "create a schedule",
	.about = "Create a Schedule: the server creates a Backup named\n"
		 "<schedule>-<YYYYMMDDHHMMSS> from the template (the backup flags\n"
		 "below) at each time of the cron expression (five fields, @every\n"
		 "<duration>, @daily..., CRON_TZ=). A new schedule does not fire at once.\n",
	.options = STOW_VCLI_COMMON_HELP
		   BACKUP_SPEC_HELP
		   "      --schedule CRON             when to back up (required)\n"
		   "      --paused[=BOOL]             create it paused\n"
		   "      --skip-immediately[=BOOL]   skip the first due backup\n"
		   "      --use-owner-references-in-backup[=BOOL]\n"
		   "                                  backups owned by the schedule\n"
		   "  -o, --output FORMAT             print (json, yaml) instead of creating\n",
	.example = "  velero schedule create daily --schedule=\"0 2 * * *\" --default-volumes-to-fs-backup --ttl 720h\n",
	.run = schedule_create,
};

static const stow_cli_cmd schedule_get_cmd = {
	.name = "get",
	.args = "[NAME...] [flags]",
	.summary = "list schedules",
	.about = "List schedules: NAME STATUS CREATED SCHEDULE BACKUP TTL LAST BACKUP\n"
		 "SELECTOR PAUSED, or JSON / YAML.\n",
	.options = STOW_VCLI_COMMON_HELP
		   "  -l, --selector SELECTOR   only schedules with matching labels\n"
		   "  -o, --output FORMAT       table (default), json or yaml\n",
	.example = "  velero schedule get\n",
	.run = schedule_get,
};

static const stow_cli_cmd schedule_describe_cmd = {
	.name = "describe",
	.args = "[NAME...] [flags]",
	.summary = "describe schedules",
	.about = "Show a schedule: phase, paused, cron, the backup template, the last\n"
		 "backup.\n",
	.options = STOW_VCLI_COMMON_HELP
		   "  -l, --selector SELECTOR   describe the schedules with matching labels\n"
		   "  -o, --output FORMAT       json or yaml: the objects instead\n",
	.example = "  velero schedule describe daily\n",
	.run = schedule_describe,
};

static const stow_cli_cmd schedule_delete_cmd = {
	.name = "delete",
	.args = "[NAME...] [flags]",
	.summary = "delete schedules",
	.about = "Delete Schedule objects (their backups stay). Asks for confirmation\n"
		 "unless --confirm.\n",
	.options = STOW_VCLI_COMMON_HELP
		   "      --confirm             do not ask\n"
		   "      --all                 every schedule\n"
		   "  -l, --selector SELECTOR   schedules with matching labels\n",
	.example = "  velero schedule delete daily --confirm\n",
	.run = schedule_delete,
};

static const stow_cli_cmd schedule_pause_cmd = {
	.name = "pause",
	.args = "[NAME...] [flags]",
	.summary = "pause schedules",
	.about = "Set spec.paused: the server ignores paused schedules.\n",
	.options = STOW_VCLI_COMMON_HELP
		   "      --all                 every schedule\n"
		   "  -l, --selector SELECTOR   schedules with matching labels\n",
	.example = "  velero schedule pause daily\n",
	.run = schedule_pause,
};

static const stow_cli_cmd schedule_unpause_cmd = {
	.name = "unpause",
	.args = "[NAME...] [flags]",
	.summary = "unpause schedules",
	.about = "Clear spec.paused. --skip-immediately skips the backup that would be\n"
		 "due at once.\n",
	.options = STOW_VCLI_COMMON_HELP
		   "      --all                 every schedule\n"
		   "  -l, --selector SELECTOR   schedules with matching labels\n"
		   "      --skip-immediately[=BOOL]\n",
	.example = "  velero schedule unpause daily --skip-immediately\n",
	.run = schedule_unpause,
};

static const stow_cli_cmd *const schedule_subs[] = {
	&schedule_create_cmd, &schedule_get_cmd, &schedule_describe_cmd,
	&schedule_delete_cmd, &schedule_pause_cmd, &schedule_unpause_cmd, NULL,
};

const stow_cli_cmd stow_cli_schedule_cmd = {
	.name = "schedule",
	.summary = "work with Velero schedules (create, get, describe, delete, pause, unpause)",
	.about = "Velero's `schedule` commands: velero.io/v1 Schedule objects in the\n"
		 "Velero namespace.\n",
	.subs = schedule_subs,
};
/* clang-format on */
