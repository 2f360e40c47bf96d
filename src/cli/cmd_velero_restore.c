/* `restore create|get|describe|logs|delete`, with Velero's flags and
 * output (pkg/cmd/cli/restore). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmd_velero.h"
#include "util/err.h"

enum {
	OPT_FROM_BACKUP = 0x100,
	OPT_FROM_SCHEDULE,
	OPT_INC_NS,
	OPT_EXC_NS,
	OPT_NS_MAP,
	OPT_INC_RES,
	OPT_EXC_RES,
	OPT_INC_CLUSTER,
	OPT_POLICY,
	OPT_STATUS_INC,
	OPT_STATUS_EXC,
	OPT_OR_SELECTOR,
	OPT_RESTORE_VOLUMES,
	OPT_PRESERVE_NODEPORTS,
	OPT_ALLOW_PARTIAL,
	OPT_MODIFIER,
	OPT_SPARSE,
	OPT_PARALLEL_DOWN,
	OPT_ITEM_TIMEOUT,
	OPT_LABELS,
	OPT_ANNOTATIONS,
	OPT_DETAILS,
	OPT_CONFIRM,
	OPT_ALL,
	OPT_INSECURE,
	OPT_CACERT,
};

static const char *phase_or(const json_t *o, const char *dflt)
{
	const char *p = stow_vcli_str(o, "status.phase");

	return p && *p ? p : dflt;
}

typedef struct restore_opts {
	const char *from_backup, *from_schedule, *policy, *modifier;
	json_t *inc_ns, *exc_ns, *inc_res, *exc_res, *status_inc, *status_exc;
	json_t *ns_map, *selector, *or_selectors, *labels, *annotations;
	int include_cluster, restore_volumes, preserve_nodeports, sparse;
	int allow_partial;
	long parallel_down;
	char item_timeout[40];
	bool wait;
	const char *output;
} restore_opts;

static void restore_opts_free(restore_opts *o)
{
	json_t **all[] = {&o->inc_ns,  &o->exc_ns,     &o->inc_res,
			  &o->exc_res, &o->status_inc, &o->status_exc,
			  &o->ns_map,  &o->selector,   &o->or_selectors,
			  &o->labels,  &o->annotations};
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		json_decref(*all[i]);
		*all[i] = NULL;
	}
}

static int restore_opt(stow_cli *cli, restore_opts *o, int c, const char *arg)
{
	uint64_t n = 0;

	switch (c) {
	case OPT_FROM_BACKUP: o->from_backup = arg; return 0;
	case OPT_FROM_SCHEDULE: o->from_schedule = arg; return 0;
	case OPT_INC_NS: return stow_vcli_add_list(&o->inc_ns, arg) ? 1 : 0;
	case OPT_EXC_NS: return stow_vcli_add_list(&o->exc_ns, arg) ? 1 : 0;
	case OPT_INC_RES: return stow_vcli_add_list(&o->inc_res, arg) ? 1 : 0;
	case OPT_EXC_RES: return stow_vcli_add_list(&o->exc_res, arg) ? 1 : 0;
	case OPT_STATUS_INC:
		return stow_vcli_add_list(&o->status_inc, arg) ? 1 : 0;
	case OPT_STATUS_EXC:
		return stow_vcli_add_list(&o->status_exc, arg) ? 1 : 0;
	case OPT_NS_MAP:
		return stow_vcli_add_map(cli, "--namespace-mappings",
					 &o->ns_map, arg, ':');
	case OPT_INC_CLUSTER:
		return stow_vcli_parse_bool(cli, "--include-cluster-resources",
					    arg, &o->include_cluster);
	case OPT_RESTORE_VOLUMES:
		return stow_vcli_parse_bool(cli, "--restore-volumes", arg,
					    &o->restore_volumes);
	case OPT_PRESERVE_NODEPORTS:
		return stow_vcli_parse_bool(cli, "--preserve-nodeports", arg,
					    &o->preserve_nodeports);
	case OPT_SPARSE:
		return stow_vcli_parse_bool(cli, "--write-sparse-files", arg,
					    &o->sparse);
	case OPT_ALLOW_PARTIAL:
		return stow_vcli_parse_bool(cli, "--allow-partially-failed",
					    arg, &o->allow_partial);
	case OPT_POLICY:
		if (strcmp(arg, "none") && strcmp(arg, "update"))
			return stow_cli_usage_error(
			    cli,
			    "invalid existing resource policy '%s': use none "
			    "or update",
			    arg);
		o->policy = arg;
		return 0;
	case OPT_MODIFIER: o->modifier = arg; return 0;
	case OPT_PARALLEL_DOWN:
		if (stow_cli_parse_uint(cli, "--parallel-files-download", arg,
					0, INT32_MAX, &n))
			return STOW_EXIT_USAGE;
		o->parallel_down = (long)n;
		return 0;
	case OPT_ITEM_TIMEOUT:
		return stow_vcli_parse_duration(cli, "--item-operation-timeout",
						arg, o->item_timeout);
	case 'l':
		return stow_vcli_parse_selector(cli, "--selector", arg,
						&o->selector);
	case OPT_OR_SELECTOR:
		return stow_vcli_parse_or_selector(cli, arg, &o->or_selectors);
	case OPT_LABELS:
		return stow_vcli_add_map(cli, "--labels", &o->labels, arg, '=');
	case OPT_ANNOTATIONS:
		return stow_vcli_add_map(cli, "--annotations", &o->annotations,
					 arg, '=');
	case 'w': o->wait = true; return 0;
	case 'o': o->output = arg; return 0;
	}
	return 0;
}

/* The RestoreSpec as pkg/cmd/cli/restore/create.go builds it, in the Go
 * struct's field order; includedNamespaces defaults to ["*"], hooks and
 * itemOperationTimeout always appear, uploaderConfig is always set. */
static json_t *build_restore_spec(const restore_opts *o)
{
	json_t *spec = json_object(), *up = json_object();

	if (o->from_backup)
		json_object_set_new(spec, "backupName",
				    json_string(o->from_backup));
	if (o->from_schedule)
		json_object_set_new(spec, "scheduleName",
				    json_string(o->from_schedule));
	if (json_array_size(o->inc_ns))
		json_object_set(spec, "includedNamespaces", o->inc_ns);
	else
		json_object_set_new(spec, "includedNamespaces",
				    json_pack("[s]", "*"));
	stow_vcli_set_list(spec, "excludedNamespaces", o->exc_ns);
	stow_vcli_set_list(spec, "includedResources", o->inc_res);
	stow_vcli_set_list(spec, "excludedResources", o->exc_res);
	if (o->ns_map && json_object_size(o->ns_map))
		json_object_set(spec, "namespaceMapping", o->ns_map);
	if (o->selector && json_object_size(o->selector))
		json_object_set(spec, "labelSelector", o->selector);
	if (json_array_size(o->or_selectors))
		json_object_set(spec, "orLabelSelectors", o->or_selectors);
	stow_vcli_set_bool(spec, "restorePVs", o->restore_volumes);
	if (json_array_size(o->status_inc) || json_array_size(o->status_exc)) {
		json_t *rs = json_object();

		stow_vcli_set_list(rs, "includedResources", o->status_inc);
		stow_vcli_set_list(rs, "excludedResources", o->status_exc);
		json_object_set_new(spec, "restoreStatus", rs);
	}
	stow_vcli_set_bool(spec, "preserveNodePorts", o->preserve_nodeports);
	stow_vcli_set_bool(spec, "includeClusterResources", o->include_cluster);
	json_object_set_new(spec, "hooks", json_object());
	if (o->policy)
		json_object_set_new(spec, "existingResourcePolicy",
				    json_string(o->policy));
	json_object_set_new(spec, "itemOperationTimeout",
			    json_string(o->item_timeout));
	if (o->modifier)
		json_object_set_new(spec, "resourceModifier",
				    json_pack("{s:s,s:s}", "kind", "ConfigMap",
					      "name", o->modifier));
	stow_vcli_set_bool(up, "writeSparseFiles", o->sparse);
	if (o->parallel_down > 0)
		json_object_set_new(up, "parallelFilesDownload",
				    json_integer(o->parallel_down));
	json_object_set_new(spec, "uploaderConfig", up);
	return spec;
}

static int restore_create(stow_cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {
	    STOW_VCLI_COMMON_LONGOPTS,
	    {"from-backup", required_argument, NULL, OPT_FROM_BACKUP},
	    {"from-schedule", required_argument, NULL, OPT_FROM_SCHEDULE},
	    {"include-namespaces", required_argument, NULL, OPT_INC_NS},
	    {"exclude-namespaces", required_argument, NULL, OPT_EXC_NS},
	    {"namespace-mappings", required_argument, NULL, OPT_NS_MAP},
	    {"include-resources", required_argument, NULL, OPT_INC_RES},
	    {"exclude-resources", required_argument, NULL, OPT_EXC_RES},
	    {"include-cluster-resources", optional_argument, NULL,
	     OPT_INC_CLUSTER},
	    {"existing-resource-policy", required_argument, NULL, OPT_POLICY},
	    {"status-include-resources", required_argument, NULL,
	     OPT_STATUS_INC},
	    {"status-exclude-resources", required_argument, NULL,
	     OPT_STATUS_EXC},
	    {"selector", required_argument, NULL, 'l'},
	    {"or-selector", required_argument, NULL, OPT_OR_SELECTOR},
	    {"restore-volumes", optional_argument, NULL, OPT_RESTORE_VOLUMES},
	    {"preserve-nodeports", optional_argument, NULL,
	     OPT_PRESERVE_NODEPORTS},
	    {"allow-partially-failed", optional_argument, NULL,
	     OPT_ALLOW_PARTIAL},
	    {"resource-modifier-configmap", required_argument, NULL,
	     OPT_MODIFIER},
	    {"write-sparse-files", optional_argument, NULL, OPT_SPARSE},
	    {"parallel-files-download", required_argument, NULL,
	     OPT_PARALLEL_DOWN},
	    {"item-operation-timeout", required_argument, NULL,
	     OPT_ITEM_TIMEOUT},
	    {"labels", required_argument, NULL, OPT_LABELS},
	    {"annotations", required_argument, NULL, OPT_ANNOTATIONS},
	    {"wait", no_argument, NULL, 'w'},
	    {"output", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	restore_opts o;
	const stow_kube_resource *r, *src_r;
	json_t *restore = NULL, *src = NULL, *meta;
	char name[320] = "";
	int c, ex = 0, fmt, rc;
	stow_vcli v;

	memset(&o, 0, sizeof(o));
	o.include_cluster = o.restore_volumes = o.preserve_nodeports =
	    o.sparse = o.allow_partial = -1;
	snprintf(o.item_timeout, sizeof(o.item_timeout), "0s");
	stow_vcli_init(&v, cli);
	stow_cli_opts_begin(cli, "n:l:wo:", lo);
	while ((c = stow_cli_opts_next(cli, argc, argv, &ex)) != -1) {
		if (c == STOW_CLI_OPTS_STOP)
			goto out;
		if (stow_vcli_common_opt(&v, c, optarg))
			continue;
		if ((ex = restore_opt(cli, &o, c, optarg)))
			goto out;
	}
	if ((ex = stow_cli_need_operands(cli, argc, argv, 0, 1)) ||
	    (ex = stow_vcli_parse_output(cli, o.output, &fmt)))
		goto out;
	if ((o.from_backup != NULL) == (o.from_schedule != NULL)) {
		ex = stow_cli_usage_error(
		    cli, "either a backup or schedule must be specified, but "
			 "not both");
		goto out;
	}
	if (o.selector && json_object_size(o.selector) &&
	    json_array_size(o.or_selectors)) {
		ex = stow_cli_usage_error(
		    cli, "either a 'selector' or an 'or-selector' can be "
			 "specified, but not both");
		goto out;
	}
	if (optind < argc)
		snprintf(name, sizeof(name), "%s", argv[optind]);
	else
		stow_vcli_timestamped_name(name, sizeof(name),
					   o.from_backup ? o.from_backup
							 : o.from_schedule);
	if ((ex = stow_vcli_connect(&v)) ||
	    (ex = stow_vcli_resource(&v, "restores", &r)) ||
	    (ex = stow_vcli_resource(
		 &v, o.from_backup ? "backups" : "schedules", &src_r)))
		goto out;
	/* Velero checks that the source exists before creating. */
	rc = stow_kube_get(v.k, src_r, v.namespace,
			   o.from_backup ? o.from_backup : o.from_schedule,
			   &src);
	if (rc < 0) {
		ex = stow_vcli_fail(&v, rc, NULL);
		goto out;
	}
	restore =
	    json_pack("{s:s,s:s,s:{s:s,s:s},s:o}", "kind", "Restore",
		      "apiVersion", "velero.io/v1", "metadata", "name", name,
		      "namespace", v.namespace, "spec", build_restore_spec(&o));
	meta = json_object_get(restore, "metadata");
	if (o.labels && json_object_size(o.labels))
		json_object_set(meta, "labels", o.labels);
	if (o.annotations && json_object_size(o.annotations))
		json_object_set(meta, "annotations", o.annotations);
	if (o.output && fmt != STOW_VCLI_TABLE) {
		stow_vcli_print_obj(restore, fmt);
		goto out;
	}
	rc = stow_kube_create(v.k, r, v.namespace, restore, NULL);
	if (rc < 0) {
		ex = stow_vcli_fail(&v, rc, NULL);
		goto out;
	}
	printf("Restore request \"%s\" submitted successfully.\n", name);
	if (o.wait) {
		ex = stow_vcli_wait_phase(&v, r, name, "restore", "restored",
					  "status.progress.itemsRestored");
		goto out;
	}
	printf("Run `%s restore describe %s` or `%s restore logs %s` for "
	       "more details.\n",
	       cli->prog, name, cli->prog, name);
out:
	json_decref(restore);
	json_decref(src);
	restore_opts_free(&o);
	stow_vcli_done(&v);
	return ex;
}

static void restore_row(json_t *rows, const json_t *o)
{
	char status[96], started[64], completed[64], created[64], errs[24],
	    warns[24];
	long long nerr = stow_vcli_int(o, "status.errors");
	const char *backup = stow_vcli_str(o, "spec.backupName");
	stow_buf sel;
	const char *cells[9];

	snprintf(status, sizeof(status), "%s", phase_or(o, "New"));
	if (strcmp(status, "PartiallyFailed") == 0)
		snprintf(status, sizeof(status), "PartiallyFailed (%lld %s)",
			 nerr, nerr == 1 ? "error" : "errors");
	stow_vcli_format_time(started, sizeof(started),
			      stow_vcli_str(o, "status.startTimestamp"));
	stow_vcli_format_time(completed, sizeof(completed),
			      stow_vcli_str(o, "status.completionTimestamp"));
	stow_vcli_format_time(created, sizeof(created),
			      stow_vcli_str(o, "metadata.creationTimestamp"));
	snprintf(errs, sizeof(errs), "%lld", nerr);
	snprintf(warns, sizeof(warns), "%lld",
		 stow_vcli_int(o, "status.warnings"));
	stow_buf_init(&sel, 0);
	stow_vcli_format_selector(&sel, stow_vcli_get(o, "spec.labelSelector"));
	stow_buf_append_u8(&sel, 0);
	cells[0] = stow_vcli_str(o, "metadata.name");
	cells[1] = backup ? backup : "";
	cells[2] = status;
	cells[3] = started;
	cells[4] = completed;
	cells[5] = errs;
	cells[6] = warns;
	cells[7] = created;
	cells[8] = (const char *)sel.data;
	stow_vcli_table_row(rows, 9, cells);
	stow_buf_free(&sel);
}

static const char *const restore_headers[] = {
    "NAME",   "BACKUP",	  "STATUS",  "STARTED", "COMPLETED",
    "ERRORS", "WARNINGS", "CREATED", "SELECTOR"};
static const stow_vcli_list_kind restore_kind = {
    "restores", "RestoreList", restore_headers, 9, restore_row, false};

static int restore_get(stow_cli *cli, int argc, char **argv)
{
	return stow_vcli_get_cmd(cli, argc, argv, &restore_kind);
}

static void describe_restore(stow_vcli *v, const json_t *o, bool details)
{
	const json_t *spec = json_object_get(o, "spec");
	const json_t *st = json_object_get(o, "status");
	const json_t *verrs = json_object_get(st, "validationErrors");
	const json_t *icr = json_object_get(spec, "includeClusterResources");
	const json_t *map = json_object_get(spec, "namespaceMapping");
	const char *phase = phase_or(o, "New");
	const char *pol = stow_vcli_str(spec, "existingResourcePolicy");
	stow_buf b;
	size_t i;

	stow_vcli_describe_metadata(o);
	printf("\nPhase:  %s\n", phase);
	stow_vcli_describe_progress(st, phase, 40, "restored",
				    "progress.itemsRestored");
	stow_vcli_describe_times(st);
	if (json_array_size(verrs)) {
		printf("\nValidation errors:\n");
		for (i = 0; i < json_array_size(verrs); i++)
			printf("  %s\n",
			       json_string_value(json_array_get(verrs, i)));
	}
	if (stow_vcli_str(st, "failureReason"))
		printf("\nFailure reason:  %s\n",
		       stow_vcli_str(st, "failureReason"));
	if (stow_vcli_phase_final(phase) &&
	    strcmp(phase, "FailedValidation") != 0) {
		/* Velero prints the restore's messages whenever there
		 * are some (RestoreResults from the location). */
		if (stow_vcli_int(st, "errors") ||
		    stow_vcli_int(st, "warnings"))
			stow_vcli_describe_results(
			    v, "RestoreResults",
			    stow_vcli_str(o, "metadata.name"));
		else
			printf("\nWarnings:  <none>\n\nErrors:  <none>\n");
	}
	printf("\nBackup:  %s\n", stow_vcli_str(spec, "backupName")
				      ? stow_vcli_str(spec, "backupName")
				      : "");
	if (stow_vcli_str(spec, "scheduleName"))
		printf("Schedule:  %s\n", stow_vcli_str(spec, "scheduleName"));
	printf("\nNamespaces:\n");
	stow_vcli_print_strings(2, "Included:", 11,
				json_object_get(spec, "includedNamespaces"),
				"all namespaces found in the backup");
	stow_vcli_print_strings(2, "Excluded:", 11,
				json_object_get(spec, "excludedNamespaces"),
				"<none>");
	printf("\nResources:\n");
	stow_vcli_print_strings(2, "Included:", 17,
				json_object_get(spec, "includedResources"),
				"*");
	stow_vcli_print_strings(
	    2, "Excluded:", 17, json_object_get(spec, "excludedResources"),
	    "nodes, events, events.events.k8s.io, backups.velero.io, "
	    "restores.velero.io, resticrepositories.velero.io, "
	    "csinodes.storage.k8s.io, volumeattachments.storage.k8s.io, "
	    "backuprepositories.velero.io");
	printf("  %-17s%s\n", "Cluster-scoped:",
	       icr == NULL ? "auto"
			   : (json_is_true(icr) ? "included" : "excluded"));
	stow_buf_init(&b, 0);
	stow_vcli_format_map(&b, map, ", ");
	for (i = 0; i < b.len; i++)
		if (b.data[i] == '=')
			b.data[i] = ':';
	printf("\nNamespace mappings:  %.*s\n", (int)b.len,
	       (const char *)b.data);
	stow_buf_reset(&b);
	stow_vcli_format_selector(&b, json_object_get(spec, "labelSelector"));
	printf("\nLabel selector:  %.*s\n", (int)b.len, (const char *)b.data);
	stow_buf_free(&b);
	printf(
	    "\nRestore PVs:  %s\n",
	    stow_vcli_bool_word(json_object_get(spec, "restorePVs"), "auto"));
	printf("\nExisting Resource Policy:   %s\n", pol ? pol : "<none>");
	printf("ItemOperationTimeout:       %s\n",
	       stow_vcli_str(spec, "itemOperationTimeout")
		   ? stow_vcli_str(spec, "itemOperationTimeout")
		   : "0s");
	printf("\nPreserve Service NodePorts:  %s\n",
	       stow_vcli_bool_word(json_object_get(spec, "preserveNodePorts"),
				   "auto"));
	if (details && stow_vcli_phase_final(phase) &&
	    strcmp(phase, "FailedValidation") != 0)
		stow_vcli_describe_resource_list(
		    v, "RestoreResourceList",
		    stow_vcli_str(o, "metadata.name"));
}

static int restore_describe(stow_cli *cli, int argc, char **argv)
{
	return stow_vcli_describe_cmd(cli, argc, argv, "restores",
				      describe_restore);
}

/* The Restore's finalizer makes the server remove restores/<name>/ from
 * the location first. */
static void restore_deleted(stow_vcli *v, const char *name)
{
	(void)v;
	printf("Request to delete restore \"%s\" submitted "
	       "successfully.\nThe restore will be fully deleted after "
	       "all associated data (restore files in object storage) "
	       "are removed.\n",
	       name);
}

static int restore_delete(stow_cli *cli, int argc, char **argv)
{
	static const stow_vcli_delete_kind kd = {
	    "restores", "No restores found", true, restore_deleted};

	return stow_vcli_delete_cmd(cli, argc, argv, &kd);
}

/* clang-format off */
static const stow_cli_cmd restore_create_cmd = {
	.name = "create",
	.args = "[NAME] --from-backup BACKUP | --from-schedule SCHEDULE [flags]",
	.summary = "create a restore",
	.about = "Create a Restore object; the server restores the backup's resources\n"
		 "into the cluster. NAME defaults to <backup or schedule>-<YYYYMMDDHHMMSS>.\n"
		 "With --from-schedule the server picks the schedule's newest completed\n"
		 "backup. -o json|yaml prints the object instead of creating it. --wait\n"
		 "shows progress; exit code 0 Completed, 3 PartiallyFailed, 1 Failed.\n",
	.options = STOW_VCLI_COMMON_HELP
		   "      --from-backup NAME              the backup to restore\n"
		   "      --from-schedule NAME            the newest backup of a schedule\n"
		   "      --include-namespaces LIST       (default *)\n"
		   "      --exclude-namespaces LIST\n"
		   "      --namespace-mappings a:b,c:d    restore namespace a into b...\n"
		   "      --include-resources LIST\n"
		   "      --exclude-resources LIST\n"
		   "      --include-cluster-resources[=BOOL]\n"
		   "      --existing-resource-policy none|update\n"
		   "      --status-include-resources LIST restore .status of these\n"
		   "      --status-exclude-resources LIST\n"
		   "  -l, --selector SELECTOR             only items with matching labels\n"
		   "      --or-selector \"A or B\"\n"
		   "      --restore-volumes[=BOOL]        restore PVs from snapshots\n"
		   "      --preserve-nodeports[=BOOL]\n"
		   "      --allow-partially-failed[=BOOL]\n"
		   "      --resource-modifier-configmap NAME\n"
		   "      --write-sparse-files[=BOOL]\n"
		   "      --parallel-files-download N\n"
		   "      --item-operation-timeout DURATION\n"
		   "      --labels k=v,...\n"
		   "      --annotations k=v,...\n"
		   "  -w, --wait                          wait for the restore to finish\n"
		   "  -o, --output FORMAT                 print (json, yaml) instead of creating\n",
	.example = "  velero restore create --from-backup b1 --namespace-mappings app:app2\n",
	.run = restore_create,
};

static const stow_cli_cmd restore_get_cmd = {
	.name = "get",
	.args = "[NAME...] [flags]",
	.summary = "list restores",
	.about = "List restores: NAME BACKUP STATUS STARTED COMPLETED ERRORS WARNINGS\n"
		 "CREATED SELECTOR, or JSON / YAML.\n",
	.options = STOW_VCLI_COMMON_HELP
		   "  -l, --selector SELECTOR   only restores with matching labels\n"
		   "  -o, --output FORMAT       table (default), json or yaml\n",
	.example = "  velero restore get\n",
	.run = restore_get,
};

static const stow_cli_cmd restore_describe_cmd = {
	.name = "describe",
	.args = "[NAME...] [flags]",
	.summary = "describe restores",
	.about = "Show a restore's spec and status in Velero's layout.\n",
	.options = STOW_VCLI_COMMON_HELP
		   "  -l, --selector SELECTOR   describe the restores with matching labels\n"
		   "      --details             also the resource list\n"
		   "  -o, --output FORMAT       json or yaml: the objects instead\n",
	.example = "  velero restore describe b1-20261125120000\n",
	.run = restore_describe,
};

static const stow_cli_cmd restore_logs_cmd = {
	.name = "logs",
	.args = "NAME [flags]",
	.summary = "print the log of a restore",
	.about = "Fetch the restore's log from the location (a DownloadRequest of kind\n"
		 "RestoreLog) and print it uncompressed.\n",
	.options = STOW_VCLI_COMMON_HELP
		   "      --timeout DURATION    how long to wait for the URL (default 1m)\n"
		   "      --insecure-skip-tls-verify[=BOOL]\n"
		   "      --cacert FILE\n",
	.example = "  velero restore logs b1-20261125120000\n",
	.run = stow_vcli_restore_logs,
};

static const stow_cli_cmd restore_delete_cmd = {
	.name = "delete",
	.args = "[NAME...] [flags]",
	.summary = "delete restores",
	.about = "Delete Restore objects; the server removes restores/<name>/ from the\n"
		 "location first (the Restore's finalizer). Asks unless --confirm.\n",
	.options = STOW_VCLI_COMMON_HELP
		   "      --confirm             do not ask\n"
		   "      --all                 every restore\n"
		   "  -l, --selector SELECTOR   restores with matching labels\n",
	.example = "  velero restore delete b1-20261125120000 --confirm\n",
	.run = restore_delete,
};

static const stow_cli_cmd *const restore_subs[] = {
	&restore_create_cmd, &restore_get_cmd, &restore_describe_cmd,
	&restore_logs_cmd, &restore_delete_cmd, NULL,
};

const stow_cli_cmd stow_cli_restore_cmd = {
	.name = "restore",
	.summary = "work with Velero restores (create, get, describe, logs, delete)",
	.about = "Velero's `restore` commands: velero.io/v1 Restore objects in the\n"
		 "Velero namespace; `stowage server` does the work.\n",
	.subs = restore_subs,
};
/* clang-format on */
