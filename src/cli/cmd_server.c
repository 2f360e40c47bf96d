/* `stowage server`: the Velero-compatible controllers (src/velero). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_internal.h"
#include "kube/kube.h"
#include "util/duration.h"
#include "velero/server.h"

enum {
	OPT_KUBECONFIG = 0x100,
	OPT_KUBECONTEXT,
	OPT_DEFAULT_BSL,
	OPT_DEFAULT_TTL,
	OPT_SYNC_PERIOD,
	OPT_VALIDATION,
	OPT_GC,
	OPT_METRICS,
	OPT_LOG_FORMAT,
	OPT_LOG_LEVEL,
	OPT_LEADER_ELECT,
	OPT_FS_ROOT,
	OPT_IDENTITY,
};

/* A Go duration option ("720h", "1m30s") in whole seconds. */
static int parse_seconds(stow_cli *cli, const char *opt, const char *v,
			 long *out)
{
	int64_t ns;

	if (stow_duration_parse(v, &ns) < 0 || ns < 0)
		return stow_cli_usage_error(cli,
					    "%s: '%s' is not a duration (like "
					    "720h, 1m, 30s)",
					    opt, v);
	*out = (long)(ns / 1000000000);
	return 0;
}

static int cmd_server(stow_cli *cli, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"namespace", required_argument, NULL, 'n'},
	    {"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
	    {"kubecontext", required_argument, NULL, OPT_KUBECONTEXT},
	    {"default-backup-storage-location", required_argument, NULL,
	     OPT_DEFAULT_BSL},
	    {"default-backup-ttl", required_argument, NULL, OPT_DEFAULT_TTL},
	    {"backup-sync-period", required_argument, NULL, OPT_SYNC_PERIOD},
	    {"store-validation-frequency", required_argument, NULL,
	     OPT_VALIDATION},
	    {"garbage-collection-frequency", required_argument, NULL, OPT_GC},
	    {"metrics-address", required_argument, NULL, OPT_METRICS},
	    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
	    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	    {"leader-elect", required_argument, NULL, OPT_LEADER_ELECT},
	    {"fs-root", required_argument, NULL, OPT_FS_ROOT},
	    {"identity", required_argument, NULL, OPT_IDENTITY},
	    {NULL, 0, NULL, 0},
	};
	stow_velero_server_opts o;
	stow_kube_load_opts lopts = {.in_cluster_fallback = true};
	stow_kube_config *cfg = NULL;
	stow_kube *k = NULL;
	static volatile int stop;
	const char *env_ns = getenv("VELERO_NAMESPACE");
	int c, ex = 0, rc;

	stow_velero_server_opts_init(&o);
	if (env_ns && *env_ns)
		o.namespace = env_ns;
	o.identity = getenv("POD_NAME");
	stow_cli_opts_begin(cli, "n:", lo);
	PARSE_OPTIONS(cli, argc, argv, c, ex)
	{
		switch (c) {
		case 'n': o.namespace = optarg; break;
		case OPT_KUBECONFIG: lopts.kubeconfig = optarg; break;
		case OPT_KUBECONTEXT: lopts.context = optarg; break;
		case OPT_DEFAULT_BSL: o.default_bsl = optarg; break;
		case OPT_DEFAULT_TTL:
			if ((ex = parse_seconds(cli, "--default-backup-ttl",
						optarg,
						&o.default_backup_ttl_s)))
				return ex;
			break;
		case OPT_SYNC_PERIOD:
			if ((ex = parse_seconds(cli, "--backup-sync-period",
						optarg,
						&o.backup_sync_period_s)))
				return ex;
			break;
		case OPT_VALIDATION:
			if ((ex = parse_seconds(cli,
						"--store-validation-frequency",
						optarg,
						&o.store_validation_period_s)))
				return ex;
			break;
		case OPT_GC:
			if ((ex = parse_seconds(cli,
						"--garbage-collection-frequency",
						optarg, &o.gc_period_s)))
				return ex;
			break;
		case OPT_METRICS: o.metrics_address = optarg; break;
		case OPT_LOG_FORMAT:
			if (strcmp(optarg, "json") != 0 &&
			    strcmp(optarg, "text") != 0)
				return stow_cli_usage_error(
				    cli, "--log-format: text or json");
			o.log_json = strcmp(optarg, "json") == 0;
			break;
		case OPT_LOG_LEVEL:
			if (!strcmp(optarg, "debug"))
				o.log_level = STOW_VLOG_DEBUG;
			else if (!strcmp(optarg, "info"))
				o.log_level = STOW_VLOG_INFO;
			else if (!strcmp(optarg, "warning"))
				o.log_level = STOW_VLOG_WARN;
			else if (!strcmp(optarg, "error"))
				o.log_level = STOW_VLOG_ERROR;
			else
				return stow_cli_usage_error(
				    cli, "--log-level: debug, info, warning "
					 "or error");
			break;
		case OPT_LEADER_ELECT:
			if (strcmp(optarg, "true") && strcmp(optarg, "false"))
				return stow_cli_usage_error(
				    cli, "--leader-elect: true or false");
			o.leader_elect = strcmp(optarg, "true") == 0;
			break;
		case OPT_FS_ROOT: o.fs_root = optarg; break;
		case OPT_IDENTITY: o.identity = optarg; break;
		}
	}
	if ((ex = stow_cli_need_operands(cli, argc, argv, 0, 0)))
		return ex;
	rc = stow_kube_config_load(&cfg, &lopts);
	if (rc == 0)
		rc = stow_kube_new(&k, cfg);
	stow_kube_config_free(cfg);
	if (rc < 0)
		return stow_cli_fail(cli, rc);
	stow_cli_set_graceful_stop(&stop);
	rc = stow_velero_server_run(k, &o, &stop);
	stow_cli_set_graceful_stop(NULL);
	stow_kube_free(k);
	if (rc < 0)
		return stow_cli_fail(cli, rc);
	return STOW_EXIT_OK;
}

/* clang-format off */
const stow_cli_cmd stow_cli_server_cmd = {
	.name = "server",
	.args = "[options]",
	.summary = "run the Velero-compatible controllers (Backup, Restore, Schedule, ...)",
	.about = "Run the controllers that serve the velero.io/v1 API: they watch\n"
		 "Backup, Restore, Schedule, BackupStorageLocation and the request\n"
		 "kinds in the server's namespace and do the work, as Velero's server\n"
		 "does. Install the CRDs first (kubectl apply -k deploy/crds).\n"
		 "\n"
		 "Several replicas may run: they elect a leader with a Lease in the\n"
		 "namespace and only the leader acts; another takes over within\n"
		 "about 15 seconds when it dies. SIGTERM stops cleanly (a second one\n"
		 "at once). Logs go to stderr, logfmt by default.\n"
		 "\n"
		 "Cluster access: --kubeconfig / $KUBECONFIG / ~/.kube/config, else\n"
		 "the pod's service account (in-cluster).\n",
	.options =
	    "  -n, --namespace NS                       where the velero.io objects live\n"
	    "                                           (default $VELERO_NAMESPACE or velero)\n"
	    "      --kubeconfig FILE                    kubeconfig to use\n"
	    "      --kubecontext NAME                   its context to use\n"
	    "      --default-backup-storage-location N  location of backups that name none\n"
	    "                                           (default \"default\")\n"
	    "      --default-backup-ttl DURATION        TTL of backups that set none (720h)\n"
	    "      --backup-sync-period DURATION        how often locations are synced (1m)\n"
	    "      --store-validation-frequency DUR     how often locations are checked (1m)\n"
	    "      --garbage-collection-frequency DUR   how often expired backups go (1h)\n"
	    "      --metrics-address ADDR               Prometheus metrics (:8085)\n"
	    "      --log-format text|json               log line format (text = logfmt)\n"
	    "      --log-level LEVEL                    debug, info, warning or error\n"
	    "      --leader-elect true|false            campaign for the Lease (true)\n"
	    "      --identity NAME                      leader-election identity\n"
	    "                                           (default $POD_NAME or host_pid)\n"
	    "      --fs-root DIR                        root of filesystem-provider paths (/)\n",
	.example = "  stowage server --namespace velero --default-backup-ttl 168h\n",
	.run = cmd_server,
};
/* clang-format on */
