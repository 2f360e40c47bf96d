/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kube: a Kubernetes API client (layer "kube": may include util and crypto,
 * never vault or cli).
 *
 * Objects are jansson values (json_t); the client never interprets more of
 * an object than it must (metadata, resourceVersion, kind), so any resource,
 * built-in or custom, goes through the same calls.
 *
 * Errors follow src/util/err.h: 0 or a negative STOW_E* code with the
 * thread-local message set. HTTP statuses map to codes:
 *   404 -> STOW_ENOTFOUND, 409 AlreadyExists -> STOW_EEXIST,
 *   409 Conflict -> STOW_ECONFLICT, 401/403 -> STOW_EDENIED,
 *   400/422 -> STOW_EINVAL, 410 -> STOW_ENOTFOUND with "expired" in the
 *   message (watch handles 410 itself), transport/5xx after the retries ->
 *   STOW_EIO, deadline -> STOW_ETIMEOUT.
 * The message carries the server's Status.message verbatim.
 *
 * Threading: a stow_kube is safe to share between threads once created
 * (each thread gets its own libcurl handle; the discovery cache and the rate
 * limiter lock internally). Watches and informers run on the caller's or
 * their own thread as documented below.
 */
#ifndef STOW_KUBE_KUBE_H
#define STOW_KUBE_KUBE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* ---- configuration ---------------------------------------------------- */

/* Everything needed to reach one API server as one user. All strings are
 * owned by the config (NUL-terminated, NULL when unset). */
typedef struct stow_kube_config {
	char *server;          /* "https://host:port[/path]", no trailing '/' */
	char *context;         /* name of the kubeconfig context used, if any */
	char *namespace;       /* the context's namespace, else "default" */
	/* TLS */
	char *ca_pem;          /* CA bundle (PEM bytes); NULL = system CAs */
	bool insecure_skip_tls_verify;
	char *tls_server_name; /* SNI / verification name override */
	char *client_cert_pem; /* client certificate (PEM bytes) */
	char *client_key_pem;  /* its private key (PEM bytes) */
	/* Credentials: at most one of token / token_file / exec is used, in
	 * that order of preference, after any client certificate. */
	char *token;           /* static bearer token */
	char *token_file;      /* re-read when older than 60 s (projected SA
				  tokens rotate) */
	char *username, *password; /* basic auth (legacy; still accepted) */
	struct stow_kube_exec_plugin {
		char *command;         /* NULL = no exec plugin */
		char **args;           /* NULL-terminated */
		char **env;            /* NULL-terminated "NAME=value" */
		char *api_version;     /* client.authentication.k8s.io/v1 or
					  v1beta1 */
		bool provide_cluster_info;
	} exec;
	/* Client behaviour */
	double qps;            /* client-side rate limit; default 20 */
	int burst;             /* default 40 */
	long timeout_ms;       /* per-request deadline (not watches); def 30000 */
	char *user_agent;      /* default "stowage/<version> (linux/amd64)" */
} stow_kube_config;

typedef struct stow_kube_load_opts {
	const char *kubeconfig; /* --kubeconfig; NULL = $KUBECONFIG (':'-list,
				   merged as kubectl does) or ~/.kube/config */
	const char *context;    /* --context; NULL = current-context */
	const char *namespace;  /* --namespace; NULL = the context's */
	bool in_cluster_fallback; /* no kubeconfig found -> try in-cluster */
} stow_kube_load_opts;

/* Load the configuration as kubectl would. Errors name the file, the
 * context or the missing field (STOW_EINVAL / STOW_ENOTFOUND). */
int stow_kube_config_load(stow_kube_config **out,
			  const stow_kube_load_opts *opts);
/* In-cluster: KUBERNETES_SERVICE_HOST/PORT, the service-account token file
 * and CA under `sa_dir` (NULL = /var/run/secrets/kubernetes.io/serviceaccount).
 */
int stow_kube_config_in_cluster(stow_kube_config **out, const char *sa_dir);
void stow_kube_config_free(stow_kube_config *cfg);

/* ---- client ----------------------------------------------------------- */

typedef struct stow_kube stow_kube;

/* Create a client; `cfg` is copied. No network traffic happens here. */
int stow_kube_new(stow_kube **out, const stow_kube_config *cfg);
void stow_kube_free(stow_kube *k);
const stow_kube_config *stow_kube_config_of(const stow_kube *k);

/* ---- discovery -------------------------------------------------------- */

/* One served resource at one group/version. */
typedef struct stow_kube_resource {
	const char *group;     /* "" for the core group */
	const char *version;
	const char *resource;  /* plural, e.g. "deployments" */
	const char *kind;      /* "Deployment" */
	const char *singular;
	bool namespaced;
	bool preferred;        /* version is the group's preferred version */
	const char *const *verbs;      /* NULL-terminated */
	const char *const *short_names;/* NULL-terminated */
	bool has_status;       /* a "<resource>/status" subresource is served */
} stow_kube_resource;

/* Fill (or, with refresh, re-fill) the discovery cache from /api and /apis.
 * Lookups below call it on first use and once more on a miss (a CRD may
 * have appeared since). Returned pointers stay valid until stow_kube_free
 * (refreshes keep old entries alive). */
int stow_kube_discover(stow_kube *k, bool refresh);
/* By "apiVersion" ("v1", "apps/v1") and kind. */
int stow_kube_resource_for_kind(stow_kube *k, const char *api_version,
				const char *kind,
				const stow_kube_resource **out);
/* By what a user types: "pods", "pod", "po", "Pod", "deployments.apps",
 * "deploy", "backups.velero.io"; the preferred version wins. */
int stow_kube_resource_lookup(stow_kube *k, const char *name,
			      const stow_kube_resource **out);
/* Every resource at its group's preferred version, subresources excluded;
 * *out points into the cache. */
int stow_kube_resources_preferred(stow_kube *k,
				  const stow_kube_resource *const **out,
				  size_t *n);

/* ---- requests --------------------------------------------------------- */

/* The raw call every verb uses: method, path (with query, already escaped),
 * an optional body with its content type. Retries 429 (honouring
 * Retry-After) and 5xx/transport failures with capped exponential backoff
 * and jitter, within the client's timeout; respects the rate limit. On
 * success *out_body is the parsed JSON reply (NULL for an empty body) and
 * *out_status the HTTP status; non-2xx replies are returned as errors
 * (mapping above) with *out_body set to the Status object when there is one.
 * Either out pointer may be NULL. */
int stow_kube_request(stow_kube *k, const char *method, const char *path,
		      const char *content_type, const char *body,
		      size_t body_len, json_t **out_body, long *out_status);

/* The URL path of a resource collection or object:
 * /api/v1/namespaces/ns/pods[/name][/sub], /apis/g/v/...; `ns` is ignored
 * for cluster-scoped resources, NULL for namespaced = all namespaces. */
int stow_kube_path(stow_buf *out, const stow_kube_resource *r, const char *ns,
		   const char *name, const char *subresource);

typedef struct stow_kube_list_opts {
	const char *label_selector;
	const char *field_selector;
	long limit;                   /* 0 = server default (no paging) */
	const char *continue_token;
	const char *resource_version; /* list: "0" = any cached; watch: start */
	bool allow_bookmarks;         /* watch only */
	long timeout_seconds;         /* watch only: server-side timeout */
} stow_kube_list_opts;

int stow_kube_get(stow_kube *k, const stow_kube_resource *r, const char *ns,
		  const char *name, json_t **out);
/* One page: *out is the List object (items, metadata.continue). */
int stow_kube_list(stow_kube *k, const stow_kube_resource *r, const char *ns,
		   const stow_kube_list_opts *opts, json_t **out);
/* Every item, page by page (limit from opts, default 500); the callback
 * borrows each item; a nonzero return stops and is returned. A 410 on a
 * continue token restarts the listing once from the beginning is NOT done:
 * it is returned, so callers see a consistent snapshot or an error. */
int stow_kube_list_each(stow_kube *k, const stow_kube_resource *r,
			const char *ns, const stow_kube_list_opts *opts,
			int (*each)(void *ctx, json_t *item), void *ctx,
			char **out_resource_version);
/* Create from `obj` (its metadata.namespace, if any, must match ns). */
int stow_kube_create(stow_kube *k, const stow_kube_resource *r,
		     const char *ns, json_t *obj, json_t **out);
/* PUT; obj carries metadata.resourceVersion; STOW_ECONFLICT when stale.
 * status=true writes the status subresource. */
int stow_kube_update(stow_kube *k, const stow_kube_resource *r,
		     const char *ns, json_t *obj, bool status, json_t **out);

typedef enum stow_kube_patch_type {
	STOW_KUBE_PATCH_MERGE,     /* application/merge-patch+json */
	STOW_KUBE_PATCH_JSON,      /* application/json-patch+json */
	STOW_KUBE_PATCH_STRATEGIC, /* application/strategic-merge-patch+json */
} stow_kube_patch_type;

int stow_kube_patch(stow_kube *k, const stow_kube_resource *r,
		    const char *ns, const char *name, stow_kube_patch_type type,
		    const char *patch, bool status, json_t **out);
/* propagation: NULL (server default), "Orphan", "Background",
 * "Foreground". *out (may be NULL) is the reply: the object (finalizers
 * pending) or a Status. */
int stow_kube_delete(stow_kube *k, const stow_kube_resource *r,
		     const char *ns, const char *name, const char *propagation,
		     json_t **out);

/* ---- watch ------------------------------------------------------------ */

typedef enum stow_kube_event_type {
	STOW_KUBE_ADDED,
	STOW_KUBE_MODIFIED,
	STOW_KUBE_DELETED,
	STOW_KUBE_BOOKMARK,
} stow_kube_event_type;

/* Called for each event; borrows obj; nonzero return stops the watch and is
 * returned by stow_kube_watch. */
typedef int (*stow_kube_watch_fn)(void *ctx, stow_kube_event_type type,
				  json_t *obj);

/* One watch stream from opts->resource_version (required), decoded as it
 * arrives (bounded line buffer, 16 MiB per event). Returns 0 when the
 * server ends the stream (timeout, dropped connection) with
 * *last_rv updated to the newest resourceVersion seen (events and
 * bookmarks) so the caller can resume; STOW_ENOTFOUND with "expired" on 410
 * Gone (relist needed); STOW_EINTR when *stop became nonzero. */
int stow_kube_watch(stow_kube *k, const stow_kube_resource *r, const char *ns,
		    const stow_kube_list_opts *opts, stow_kube_watch_fn fn,
		    void *ctx, const volatile int *stop, char **last_rv);

/* ---- informer --------------------------------------------------------- */

/* A local cache of one resource (optionally one namespace and selector),
 * kept current by list + watch on its own thread: resumes after dropped
 * streams, relists on 410, backs off on errors. Handlers run on the
 * informer thread, in order, after the cache was updated. */
typedef struct stow_kube_informer stow_kube_informer;

typedef struct stow_kube_informer_handler {
	/* old is NULL for ADDED, obj is the last known state for DELETED. */
	void (*on_event)(void *ctx, stow_kube_event_type type,
			 json_t *old_obj, json_t *obj);
	void *ctx;
	long resync_ms; /* >0: on_event(MODIFIED, o, o) for every object
			   every resync_ms */
} stow_kube_informer_handler;

int stow_kube_informer_start(stow_kube_informer **out, stow_kube *k,
			     const stow_kube_resource *r, const char *ns,
			     const char *label_selector,
			     const stow_kube_informer_handler *h);
/* Wait until the first list was loaded; STOW_ETIMEOUT after timeout_ms. */
int stow_kube_informer_wait_synced(stow_kube_informer *inf, long timeout_ms);
/* A new reference (json_decref it) or NULL. */
json_t *stow_kube_informer_get(stow_kube_informer *inf, const char *ns,
			       const char *name);
/* A new JSON array of the cached objects (optionally one namespace). */
json_t *stow_kube_informer_list(stow_kube_informer *inf, const char *ns);
void stow_kube_informer_stop(stow_kube_informer *inf); /* joins; frees */

/* ---- pod exec --------------------------------------------------------- */

typedef struct stow_kube_exec_opts {
	const char *namespace, *pod, *container; /* container NULL = first */
	const char *const *argv;                 /* NULL-terminated */
	const void *stdin_data;                  /* NULL = no stdin */
	size_t stdin_len;
	long timeout_ms;                         /* 0 = client timeout */
	size_t max_output;                       /* per stream; 0 = 16 MiB */
} stow_kube_exec_opts;

typedef struct stow_kube_exec_result {
	int exit_code;   /* the command's status; -1 if it never ran */
	stow_buf out;    /* stdout bytes */
	stow_buf err;    /* stderr bytes */
	char protocol[32]; /* "v5.channel.k8s.io" or "v4.channel.k8s.io" */
	char *message;   /* the Status message for a failure, or NULL */
} stow_kube_exec_result;

/* Run argv in the container over a WebSocket (pods/exec), offering
 * v5.channel.k8s.io then v4.channel.k8s.io. Returns 0 when the command ran
 * (whatever its exit code, in res->exit_code), STOW_ETIMEOUT after the
 * deadline, STOW_ENOTFOUND for a missing pod/container, STOW_EIO for a
 * broken stream. res must be freed with stow_kube_exec_result_free. */
int stow_kube_exec(stow_kube *k, const stow_kube_exec_opts *opts,
		   stow_kube_exec_result *res);
void stow_kube_exec_result_free(stow_kube_exec_result *res);

/* ---- leases and leader election ---------------------------------------- */

typedef struct stow_kube_leader_opts {
	const char *namespace, *name, *identity;
	long lease_duration_ms; /* default 15000 */
	long renew_deadline_ms; /* default 10000 */
	long retry_period_ms;   /* default 2000 */
} stow_kube_leader_opts;

/* One attempt to acquire or renew the Lease (coordination.k8s.io/v1):
 * create it if absent, take it over if expired, renew if ours. *is_leader
 * tells the outcome; optimistic concurrency via resourceVersion. */
int stow_kube_lease_try(stow_kube *k, const stow_kube_leader_opts *opts,
			bool *is_leader);
/* Give the lease up (holderIdentity cleared) if we hold it. */
int stow_kube_lease_release(stow_kube *k, const stow_kube_leader_opts *opts);

/* Block: campaign until leader, call lead(ctx, lost) on a new thread, keep
 * renewing; when renewal fails past renew_deadline set *lost = 1 and wait
 * for lead to return; then campaign again. Returns when *stop != 0
 * (releasing the lease if held). */
int stow_kube_leader_run(stow_kube *k, const stow_kube_leader_opts *opts,
			 void (*lead)(void *ctx, const volatile int *lost),
			 void *ctx, const volatile int *stop);

#endif
