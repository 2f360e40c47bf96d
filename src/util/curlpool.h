/* A pool of libcurl easy handles for one client (an S3 store, a
 * Kubernetes client): a thread takes a handle, uses it alone and gives it
 * back, so connections are reused without a handle ever being used by two
 * threads; all handles share one DNS cache and the TLS sessions through a
 * locked CURLSH. libcurl's global initialisation happens once, here.
 *
 * Thread safety: every function may be called from any thread. */
#ifndef STOW_UTIL_CURLPOOL_H
#define STOW_UTIL_CURLPOOL_H

#include <curl/curl.h>
#include <stddef.h>

typedef struct stow_curl_pool stow_curl_pool;

/* At most max_idle handles are kept for reuse. STOW_EIO when libcurl
 * cannot be initialised, STOW_ENOMEM otherwise. */
int stow_curl_pool_new(stow_curl_pool **out, size_t max_idle);
/* Cleans up the idle handles; taken handles must have been given back. */
void stow_curl_pool_free(stow_curl_pool *p);

/* A handle for the caller alone (an idle one, else a new one); NULL when
 * libcurl cannot make one. */
CURL *stow_curl_pool_take(stow_curl_pool *p);
/* Give it back (kept if there is room, else cleaned up). NULL is fine. */
void stow_curl_pool_give(stow_curl_pool *p, CURL *h);
/* Reset every option of h for a new request (its connections stay) and
 * attach the pool's shared DNS cache and TLS sessions. */
void stow_curl_pool_reset(stow_curl_pool *p, CURL *h);
/* Attach the shared DNS cache and TLS sessions to any handle (also one
 * the caller made itself, e.g. for a long-lived stream). */
void stow_curl_pool_share(stow_curl_pool *p, CURL *h);

#endif
