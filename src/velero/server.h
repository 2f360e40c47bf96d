/* stowage server: the velero.io/v1 controllers (layer "velero").
 *
 * The server is a set of controllers, each a reconcile function over the
 * objects of one velero.io resource in the server's namespace, driven by a
 * work queue (workqueue.h) that an informer (kube.h) feeds: every add,
 * update and delete of an object queues its key "namespace/name"; a
 * controller may also queue keys itself (requeue after N ms, or another
 * controller's key). Reconcile reads the object from the informer cache
 * (stow_velero_server_get), acts, and writes back through the API with
 * optimistic concurrency (a 409 is just a requeue).
 *
 * Leader election: with opts.leader_elect, replicas campaign for the
 * Lease `<namespace>/<lease_name>`; only the leader runs informers and
 * controllers, so no backup runs twice. A leader that cannot renew stops
 * its controllers (lost) and campaigns again.
 *
 * Controllers are listed in controllers.c (one line each); a controller
 * module exposes `const stow_velero_controller *stow_velero_ctl_<x>(void)`.
 *
 * Threading: each controller has opts.workers threads (default 1); the
 * workqueue guarantees one key is never reconciled by two threads at once.
 * Everything in this header is thread-safe. */
#ifndef STOW_VELERO_SERVER_H
#define STOW_VELERO_SERVER_H

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>

#include "kube/kube.h"
#include "util/log.h"
#include "util/metrics.h"
#include "velero/layout.h"

typedef struct stow_velero_server stow_velero_server;

/* Log levels of stow_velero_log (those of util/log.h). */
#define STOW_VLOG_DEBUG STOW_LOG_DEBUG
#define STOW_VLOG_INFO STOW_LOG_INFO
#define STOW_VLOG_WARN STOW_LOG_WARNING
#define STOW_VLOG_ERROR STOW_LOG_ERROR

typedef struct stow_velero_server_opts {
	const char *namespace;          /* --namespace / $VELERO_NAMESPACE;
					   default "velero" */
	const char *default_bsl;        /* --default-backup-storage-location
					   (default "default") */
	long default_backup_ttl_s;      /* --default-backup-ttl (720h) */
	long backup_sync_period_s;      /* --backup-sync-period (1m) */
	long store_validation_period_s; /* --store-validation-frequency (1m) */
	long gc_period_s;               /* --garbage-collection-frequency (1h) */
	const char *metrics_address;    /* --metrics-address (":8085") */
	bool leader_elect;              /* --leader-elect (true) */
	const char *lease_name;         /* "stowage-server" */
	const char *identity;           /* $POD_NAME, else hostname_pid */
	bool log_json;                  /* --log-format json */
	int log_level;                  /* --log-level (STOW_VLOG_INFO) */
	/* The filesystem provider: a BSL's spec.objectStorage.bucket (or
	 * config.path) is a path under this root inside the server's pod
	 * ("/" by default: absolute paths as given). */
	const char *fs_root;
} stow_velero_server_opts;

/* Defaults above. */
void stow_velero_server_opts_init(stow_velero_server_opts *o);

typedef struct stow_velero_controller {
	const char *name;     /* "backup": log field controller=backup */
	const char *resource; /* velero.io/v1 plural it reconciles */
	int workers;          /* 0 = 1 */
	long resync_ms;       /* > 0: queue every object this often */
	/* Called once each time this replica starts leading, after the
	 * informers synced and before any reconcile (may be NULL). */
	int (*start)(stow_velero_server *srv, void *ctx);
	/* Reconcile ns/name (the object may be gone: look it up). Return 0
	 * when done, > 0 to be queued again after that many ms, < 0 on
	 * failure (logged with the error message; queued again with
	 * backoff, 1 s doubling to 5 min). */
	int (*reconcile)(stow_velero_server *srv, void *ctx, const char *ns,
			 const char *name);
	void *ctx;
} stow_velero_controller;

/* Run until *stop becomes nonzero: campaign (or not), run the
 * controllers while leading, stop them cleanly. Returns 0 after a stop,
 * or an error that kept the server from starting (bad options). */
int stow_velero_server_run(stow_kube *k, const stow_velero_server_opts *o,
			   const volatile int *stop);

/* --- for controllers -------------------------------------------------- */

stow_kube *stow_velero_server_kube(stow_velero_server *srv);
const stow_velero_server_opts *stow_velero_server_opts_of(
    stow_velero_server *srv);
/* A velero.io/v1 resource by plural ("backups"), resolved through
 * discovery when leading started; NULL if the CRD is not installed. */
const stow_kube_resource *stow_velero_server_res(stow_velero_server *srv,
						 const char *plural);
/* From the informer of a velero.io plural: a new reference or NULL. */
json_t *stow_velero_server_get(stow_velero_server *srv, const char *plural,
			       const char *ns, const char *name);
/* Every cached object of that plural: a new JSON array. */
json_t *stow_velero_server_list(stow_velero_server *srv, const char *plural);
/* Queue ns/name for the named controller (after delay_ms, 0 = now). */
void stow_velero_server_enqueue(stow_velero_server *srv,
				const char *controller, const char *ns,
				const char *name, long delay_ms);
/* Nonzero once the server stops or lost the lease: long reconciles
 * (a backup) check it and return early; their work is taken over. */
int stow_velero_server_stopping(stow_velero_server *srv);

/* Structured log line: level, controller, message, then key/value string
 * pairs ending with NULL: stow_velero_log(srv, STOW_VLOG_INFO, "backup",
 * "backup completed", "backup", "velero/nightly", NULL). */
void stow_velero_log(stow_velero_server *srv, int level,
		     const char *controller, const char *msg, ...);
/* The server's logger (stderr, --log-format, --log-level): a parent for
 * per-backup capture loggers (stow_log_capture_new). */
stow_log *stow_velero_server_logger(stow_velero_server *srv);
/* The server's metrics registry (borrowed; made at start, before the
 * campaign, on every replica). Controllers record through the Velero
 * functions of velero/server_metrics.h rather than use it directly. */
stow_metrics *stow_velero_server_metrics(stow_velero_server *srv);

/* The storage of a BackupStorageLocation by name (bsl.c): opened from
 * its spec (provider aws: S3 with the credentials Secret; provider
 * filesystem: a path under opts.fs_root) and cached until the BSL
 * changes. *bsl (may be NULL) receives the BSL object (new reference).
 * STOW_ENOTFOUND for a missing BSL, STOW_EINVAL for a bad spec, and the
 * store's error when it cannot be opened; the message says which. */
int stow_velero_server_location(stow_velero_server *srv, const char *bsl_name,
				stow_velero_location *out, json_t **bsl);

#endif
