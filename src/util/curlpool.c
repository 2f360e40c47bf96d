/* The libcurl handle pool (curlpool.h). */
#include "util/curlpool.h"

#include <pthread.h>
#include <stdlib.h>

#include "util/err.h"

struct stow_curl_pool {
	pthread_mutex_t mu;
	CURL **idle;
	size_t nidle, max_idle;
	CURLSH *share;
	pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *ud)
{
	stow_curl_pool *p = ud;

	(void)h;
	(void)a;
	if ((int)d >= 0 && (int)d < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&p->share_mu[d]);
}

static void share_unlock(CURL *h, curl_lock_data d, void *ud)
{
	stow_curl_pool *p = ud;

	(void)h;
	if ((int)d >= 0 && (int)d < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&p->share_mu[d]);
}

int stow_curl_pool_new(stow_curl_pool **out, size_t max_idle)
{
	stow_curl_pool *p;

	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return stow_err_set(STOW_EIO, "curl_global_init: %s",
				    curl_easy_strerror(global_rc));
	p = calloc(1, sizeof(*p));
	if (!p)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	pthread_mutex_init(&p->mu, NULL);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&p->share_mu[i], NULL);
	p->max_idle = max_idle;
	p->idle = calloc(max_idle ? max_idle : 1, sizeof(*p->idle));
	p->share = curl_share_init();
	if (!p->idle || !p->share ||
	    curl_share_setopt(p->share, CURLSHOPT_LOCKFUNC, share_lock) !=
		CURLSHE_OK ||
	    curl_share_setopt(p->share, CURLSHOPT_UNLOCKFUNC, share_unlock) !=
		CURLSHE_OK ||
	    curl_share_setopt(p->share, CURLSHOPT_USERDATA, p) != CURLSHE_OK ||
	    curl_share_setopt(p->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) !=
		CURLSHE_OK ||
	    curl_share_setopt(p->share, CURLSHOPT_SHARE,
			      CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
		stow_curl_pool_free(p);
		return stow_err_set(STOW_ENOMEM, "curl_share_init failed");
	}
	*out = p;
	return 0;
}

void stow_curl_pool_free(stow_curl_pool *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nidle; i++)
		curl_easy_cleanup(p->idle[i]);
	free(p->idle);
	/* After the handles: a share in use cannot be cleaned up. */
	if (p->share)
		curl_share_cleanup(p->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&p->share_mu[i]);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

CURL *stow_curl_pool_take(stow_curl_pool *p)
{
	CURL *h = NULL;

	pthread_mutex_lock(&p->mu);
	if (p->nidle)
		h = p->idle[--p->nidle];
	pthread_mutex_unlock(&p->mu);
	return h ? h : curl_easy_init();
}

void stow_curl_pool_give(stow_curl_pool *p, CURL *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&p->mu);
	if (p->nidle < p->max_idle) {
		p->idle[p->nidle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&p->mu);
	if (h)
		curl_easy_cleanup(h);
}

void stow_curl_pool_share(stow_curl_pool *p, CURL *h)
{
	curl_easy_setopt(h, CURLOPT_SHARE, p->share);
}

void stow_curl_pool_reset(stow_curl_pool *p, CURL *h)
{
	curl_easy_reset(h);
	stow_curl_pool_share(p, h);
}
