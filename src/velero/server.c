/* stowage server: leader election, informers, work queues, workers
 * (server.h). The controllers themselves live in their own files and are
 * listed in controllers.c. */
#include "velero/server.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/err.h"
#include "velero/controllers.h"
#include "velero/server_metrics.h"
#include "velero/workqueue.h"

#define MAX_CONTROLLERS 32
#define MAX_RESOURCES 16
#define SYNC_TIMEOUT_MS 120000

typedef struct watched {
	const char *plural;
	const stow_kube_resource *res;
	stow_kube_informer *inf;
	stow_velero_server *srv;
} watched;

typedef struct ctl_state {
	const stow_velero_controller *c;
	stow_workqueue *q;
	pthread_t threads[8];
	int nthreads;
	uint64_t next_resync_ms;
	stow_velero_server *srv;
	/* consecutive failures per key, for the backoff; small list */
	struct failure {
		char *key;
		unsigned n;
	} *fails;
	size_t nfails;
	pthread_mutex_t fail_mu;
} ctl_state;

struct stow_velero_server {
	stow_kube *k;
	stow_velero_server_opts o;
	const volatile int *stop;
	const volatile int *lost;
	stow_log *log;
	watched res[MAX_RESOURCES];
	size_t nres;
	ctl_state ctls[MAX_CONTROLLERS];
	size_t nctls;
	stow_velero_metrics *metrics; /* server_metrics.h; every replica */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void stow_velero_server_opts_init(stow_velero_server_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->namespace = "velero";
	o->default_bsl = "default";
	o->default_backup_ttl_s = 720L * 3600;
	o->backup_sync_period_s = 60;
	o->store_validation_period_s = 60;
	o->gc_period_s = 3600;
	o->metrics_address = ":8085";
	o->leader_elect = true;
	o->lease_name = "stowage-server";
	o->log_level = STOW_VLOG_INFO;
	o->fs_root = "/";
}

/* --- logging ------------------------------------------------------------ */

void stow_velero_log(stow_velero_server *srv, int level,
		     const char *controller, const char *msg, ...)
{
	stow_log_field f[33];
	size_t n = 0;
	const char *k;
	va_list ap;

	if (controller)
		f[n++] = (stow_log_field){"controller", controller};
	va_start(ap, msg);
	while (n < 33 && (k = va_arg(ap, const char *)))
		f[n++] = (stow_log_field){k, va_arg(ap, const char *)};
	va_end(ap);
	stow_log_writev(srv->log, (stow_log_level)level, NULL, 0, msg, f, n);
}

stow_log *stow_velero_server_logger(stow_velero_server *srv)
{
	return srv->log;
}

stow_metrics *stow_velero_server_metrics(stow_velero_server *srv)
{
	return stow_velero_metrics_registry(srv->metrics);
}

/* --- accessors ------------------------------------------------------------ */

stow_kube *stow_velero_server_kube(stow_velero_server *srv)
{
	return srv->k;
}

const stow_velero_server_opts *stow_velero_server_opts_of(
    stow_velero_server *srv)
{
	return &srv->o;
}

static watched *find_res(stow_velero_server *srv, const char *plural)
{
	for (size_t i = 0; i < srv->nres; i++)
		if (strcmp(srv->res[i].plural, plural) == 0)
			return &srv->res[i];
	return NULL;
}

const stow_kube_resource *stow_velero_server_res(stow_velero_server *srv,
						 const char *plural)
{
	watched *w = find_res(srv, plural);
	const stow_kube_resource *r = NULL;
	char name[128];

	if (w && w->res)
		return w->res;
	snprintf(name, sizeof(name), "%s.velero.io", plural);
	if (stow_kube_resource_lookup(srv->k, name, &r) < 0)
		return NULL;
	return r;
}

json_t *stow_velero_server_get(stow_velero_server *srv, const char *plural,
			       const char *ns, const char *name)
{
	watched *w = find_res(srv, plural);

	if (w && w->inf)
		return stow_kube_informer_get(w->inf, ns, name);
	/* Not informed: ask the API server. */
	{
		const stow_kube_resource *r = stow_velero_server_res(srv, plural);
		json_t *obj = NULL;

		if (r && stow_kube_get(srv->k, r, ns, name, &obj) == 0)
			return obj;
		return NULL;
	}
}

json_t *stow_velero_server_list(stow_velero_server *srv, const char *plural)
{
	watched *w = find_res(srv, plural);

	if (w && w->inf)
		return stow_kube_informer_list(w->inf, NULL);
	return json_array();
}

static ctl_state *find_ctl(stow_velero_server *srv, const char *name)
{
	for (size_t i = 0; i < srv->nctls; i++)
		if (strcmp(srv->ctls[i].c->name, name) == 0)
			return &srv->ctls[i];
	return NULL;
}

static void queue_key(ctl_state *cs, const char *ns, const char *name,
		      long delay_ms)
{
	char key[600];

	if (!cs->q)
		return;
	snprintf(key, sizeof(key), "%s/%s", ns ? ns : "", name);
	(void)stow_workqueue_add(cs->q, key, delay_ms);
}

void stow_velero_server_enqueue(stow_velero_server *srv,
				const char *controller, const char *ns,
				const char *name, long delay_ms)
{
	ctl_state *cs = find_ctl(srv, controller);

	if (cs)
		queue_key(cs, ns, name, delay_ms);
}

int stow_velero_server_stopping(stow_velero_server *srv)
{
	return *srv->stop || (srv->lost && *srv->lost);
}

/* --- informers feed the queues ----------------------------------------- */

static void on_event(void *ctx, stow_kube_event_type type, json_t *old_obj,
		     json_t *obj)
{
	watched *w = ctx;
	stow_velero_server *srv = w->srv;
	json_t *md = json_object_get(obj, "metadata");
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *name = json_string_value(json_object_get(md, "name"));

	(void)type;
	(void)old_obj;
	if (!name)
		return;
	for (size_t i = 0; i < srv->nctls; i++)
		if (srv->ctls[i].c->resource &&
		    strcmp(srv->ctls[i].c->resource, w->plural) == 0)
			queue_key(&srv->ctls[i], ns, name, 0);
}

static void queue_all(ctl_state *cs)
{
	json_t *all, *o;
	size_t i;

	if (!cs->c->resource)
		return;
	all = stow_velero_server_list(cs->srv, cs->c->resource);
	json_array_foreach(all, i, o)
	{
		json_t *md = json_object_get(o, "metadata");

		queue_key(cs,
			  json_string_value(json_object_get(md, "namespace")),
			  json_string_value(json_object_get(md, "name")), 0);
	}
	json_decref(all);
}

/* --- workers ------------------------------------------------------------ */

static unsigned failure_count(ctl_state *cs, const char *key, int delta)
{
	unsigned n = 0;
	size_t i;

	pthread_mutex_lock(&cs->fail_mu);
	for (i = 0; i < cs->nfails; i++)
		if (strcmp(cs->fails[i].key, key) == 0)
			break;
	if (delta > 0) {
		if (i == cs->nfails) {
			void *nf = realloc(cs->fails,
					   (cs->nfails + 1) * sizeof(*cs->fails));
			char *k = strdup(key);

			if (nf)
				cs->fails = nf;
			if (nf && k) {
				cs->fails[cs->nfails++] =
				    (struct failure){k, 0};
			} else {
				free(k);
				i = SIZE_MAX;
			}
		}
		if (i != SIZE_MAX)
			n = ++cs->fails[i].n;
	} else if (i < cs->nfails) {
		free(cs->fails[i].key);
		cs->fails[i] = cs->fails[--cs->nfails];
	}
	pthread_mutex_unlock(&cs->fail_mu);
	return n ? n : 1;
}

static void *worker_main(void *arg)
{
	ctl_state *cs = arg;
	stow_velero_server *srv = cs->srv;
	char *key;

	while ((key = stow_workqueue_get(cs->q))) {
		char *slash = strchr(key, '/');
		const char *ns = key, *name = slash ? slash + 1 : key;
		int rc;

		if (slash)
			*slash = '\0';
		stow_err_clear();
		rc = cs->c->reconcile(srv, cs->c->ctx, *ns ? ns : NULL, name);
		if (slash)
			*slash = '/';
		if (rc < 0 && !stow_velero_server_stopping(srv)) {
			unsigned n = failure_count(cs, key, 1);
			long delay = stow_workqueue_backoff_ms(n);
			char attempt[16], retry[32];

			snprintf(attempt, sizeof(attempt), "%u", n);
			snprintf(retry, sizeof(retry), "%lds", delay / 1000);
			stow_velero_log(srv, STOW_VLOG_ERROR, cs->c->name,
					"reconcile failed", "key", key,
					"error", stow_err_msg(), "attempt",
					attempt, "retryIn", retry, NULL);
			stow_workqueue_add(cs->q, key, delay);
		} else {
			failure_count(cs, key, -1);
			if (rc > 0)
				stow_workqueue_add(cs->q, key, rc);
		}
		stow_workqueue_done(cs->q, key);
		free(key);
	}
	return NULL;
}

/* --- leading --------------------------------------------------------- */

static int start_informers(stow_velero_server *srv)
{
	for (size_t i = 0; i < srv->nres; i++) {
		watched *w = &srv->res[i];
		stow_kube_informer_handler h = {on_event, w, 0};
		char name[128];
		int rc;

		snprintf(name, sizeof(name), "%s.velero.io", w->plural);
		rc = stow_kube_resource_lookup(srv->k, name, &w->res);
		if (rc < 0) {
			/* Refresh once: CRDs may have been installed since. */
			(void)stow_kube_discover(srv->k, true);
			rc = stow_kube_resource_lookup(srv->k, name, &w->res);
		}
		if (rc < 0)
			return stow_err_wrap(rc,
					     "the CRD of %s is not installed "
					     "(kubectl apply -k deploy/crds)",
					     name);
		rc = stow_kube_informer_start(&w->inf, srv->k, w->res,
					      srv->o.namespace, NULL, &h);
		if (rc < 0)
			return stow_err_wrap(rc, "watching %s", name);
	}
	for (size_t i = 0; i < srv->nres; i++) {
		int rc = stow_kube_informer_wait_synced(srv->res[i].inf,
							SYNC_TIMEOUT_MS);

		if (rc < 0)
			return stow_err_wrap(rc, "listing %s.velero.io",
					     srv->res[i].plural);
	}
	return 0;
}

static void stop_all(stow_velero_server *srv)
{
	for (size_t i = 0; i < srv->nctls; i++)
		stow_workqueue_shutdown(srv->ctls[i].q);
	for (size_t i = 0; i < srv->nctls; i++) {
		ctl_state *cs = &srv->ctls[i];

		for (int t = 0; t < cs->nthreads; t++)
			pthread_join(cs->threads[t], NULL);
		cs->nthreads = 0;
		stow_workqueue_free(cs->q);
		cs->q = NULL;
	}
	for (size_t i = 0; i < srv->nres; i++) {
		stow_kube_informer_stop(srv->res[i].inf);
		srv->res[i].inf = NULL;
	}
}

static void lead(void *ctx, const volatile int *lost)
{
	stow_velero_server *srv = ctx;
	int rc;

	srv->lost = lost;
	stow_velero_log(srv, STOW_VLOG_INFO, NULL, "leading: starting controllers",
			"identity", srv->o.identity, NULL);
	rc = start_informers(srv);
	for (size_t i = 0; rc == 0 && i < srv->nctls; i++) {
		ctl_state *cs = &srv->ctls[i];
		int workers = cs->c->workers > 0 ? cs->c->workers : 1;

		if (workers > 8)
			workers = 8;
		rc = stow_workqueue_new(&cs->q);
		if (rc == 0 && cs->c->start)
			rc = cs->c->start(srv, cs->c->ctx);
		if (rc < 0) {
			rc = stow_err_wrap(rc, "starting controller %s",
					   cs->c->name);
			break;
		}
		for (int t = 0; t < workers; t++)
			if (pthread_create(&cs->threads[cs->nthreads], NULL,
					   worker_main, cs) == 0)
				cs->nthreads++;
		cs->next_resync_ms =
		    cs->c->resync_ms > 0 ? now_ms() + (uint64_t)cs->c->resync_ms
					 : 0;
		queue_all(cs);
	}
	if (rc < 0)
		stow_velero_log(srv, STOW_VLOG_ERROR, NULL,
				"cannot start controllers", "error",
				stow_err_msg(), NULL);
	/* Tick: resyncs, and notice the end of leadership or a stop. A
	 * failed start waits here too, then gives the lease up so another
	 * replica (or this one, later) can try. */
	for (int waited = 0; !stow_velero_server_stopping(srv); waited++) {
		uint64_t now = now_ms();

		if (rc < 0 && waited >= 50)
			break;
		for (size_t i = 0; rc == 0 && i < srv->nctls; i++) {
			ctl_state *cs = &srv->ctls[i];

			if (cs->next_resync_ms && now >= cs->next_resync_ms) {
				cs->next_resync_ms =
				    now + (uint64_t)cs->c->resync_ms;
				queue_all(cs);
			}
		}
		usleep(200 * 1000);
	}
	stop_all(srv);
	stow_velero_log(srv, STOW_VLOG_INFO, NULL,
			*srv->stop ? "stopped" : "controllers stopped",
			"identity", srv->o.identity, NULL);
	srv->lost = NULL;
}

static int add_resource(stow_velero_server *srv, const char *plural)
{
	if (find_res(srv, plural))
		return 0;
	if (srv->nres == MAX_RESOURCES)
		return stow_err_set(STOW_EINVAL, "too many watched resources");
	srv->res[srv->nres] = (watched){plural, NULL, NULL, srv};
	srv->nres++;
	return 0;
}

int stow_velero_server_run(stow_kube *k, const stow_velero_server_opts *o,
			   const volatile int *stop)
{
	stow_velero_server *srv = calloc(1, sizeof(*srv));
	const stow_velero_controller *const *list;
	char ident[300];
	int rc = 0;

	if (!srv)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	srv->k = k;
	srv->o = *o;
	srv->stop = stop;
	rc = stow_log_new(&srv->log,
			  o->log_json ? STOW_LOG_JSON : STOW_LOG_LOGFMT,
			  (stow_log_level)o->log_level);
	if (rc < 0) {
		free(srv);
		return rc;
	}
	stow_log_set_file(srv->log, stderr);
	if (!srv->o.identity || !*srv->o.identity) {
		char host[256] = "stowage";

		(void)gethostname(host, sizeof(host) - 1);
		snprintf(ident, sizeof(ident), "%s_%ld", host, (long)getpid());
		srv->o.identity = ident;
	}
	list = stow_velero_controllers();
	for (size_t i = 0; list[i] && rc == 0; i++) {
		ctl_state *cs;

		if (srv->nctls == MAX_CONTROLLERS) {
			rc = stow_err_set(STOW_EINVAL, "too many controllers");
			break;
		}
		cs = &srv->ctls[srv->nctls++];
		cs->c = list[i];
		cs->srv = srv;
		pthread_mutex_init(&cs->fail_mu, NULL);
		if (list[i]->resource)
			rc = add_resource(srv, list[i]->resource);
	}
	/* Metrics (server_metrics.c) start before the campaign: every
	 * replica serves /metrics, leader or not; an address that does not
	 * parse is fatal. */
	if (rc == 0)
		rc = stow_velero_metrics_start(&srv->metrics, srv);
	if (rc == 0) {
		stow_velero_log(srv, STOW_VLOG_INFO, NULL, "server starting",
				"namespace", srv->o.namespace, "identity",
				srv->o.identity, "leaderElect",
				srv->o.leader_elect ? "true" : "false", NULL);
		if (srv->o.leader_elect) {
			stow_kube_leader_opts lo = {
			    .namespace = srv->o.namespace,
			    .name = srv->o.lease_name,
			    .identity = srv->o.identity,
			};

			rc = stow_kube_leader_run(k, &lo, lead, srv, stop);
		} else {
			static const volatile int never;

			lead(srv, &never);
		}
	}
	for (size_t i = 0; i < srv->nctls; i++) {
		for (size_t j = 0; j < srv->ctls[i].nfails; j++)
			free(srv->ctls[i].fails[j].key);
		free(srv->ctls[i].fails);
		pthread_mutex_destroy(&srv->ctls[i].fail_mu);
	}
	stow_velero_metrics_stop(srv->metrics);
	stow_log_free(srv->log);
	free(srv);
	return rc == STOW_EINTR ? 0 : rc;
}
