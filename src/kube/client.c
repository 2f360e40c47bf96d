/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The request core of the Kubernetes client: libcurl handles, TLS and
 * credentials, the client-side rate limiter, retries with backoff, and the
 * mapping of HTTP statuses to STOW_E* codes. Design note:
 * docs/kube-client.md.
 *
 * - Connections: a small pool of curl easy handles; a request takes one,
 *   uses it alone and gives it back, so each thread in effect keeps its own
 *   kept-alive connection and no handle is ever used by two threads at
 *   once. DNS and TLS sessions are shared through a locked CURLSH.
 * - Every call has one deadline (cfg->timeout_ms); attempts, backoff sleeps
 *   and Retry-After waits all fit inside it. 429 (after Retry-After), 5xx
 *   (but 501/505) and transport failures are retried with exponential
 *   backoff and jitter; other 4xx never are. A 401 with a token file or an
 *   exec plugin re-reads the credential once and tries again.
 * - Reply bodies are capped (64 MiB by default) and parsed with jansson.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "crypto/crypto.h"
#include "kube/kube_internal.h"
#include "util/clock.h"
#include "util/curlpool.h"
#include "util/err.h"

#define POOL_MAX 16
#define BODY_MAX_DEFAULT ((size_t)64 << 20)
#define ERR_BODY_MAX ((size_t)1 << 20)
#define MAX_ATTEMPTS_DEFAULT 10
#define BACKOFF_BASE_MS 200
#define BACKOFF_CAP_MS 8000
#define CONNECT_TIMEOUT_MS 10000
#define TOKEN_FILE_MAX ((size_t)1 << 20)
#define TOKEN_FILE_TTL_MS 60000

#if defined(__x86_64__)
#define STOW_ARCH "amd64"
#elif defined(__aarch64__)
#define STOW_ARCH "arm64"
#elif defined(__i386__)
#define STOW_ARCH "386"
#else
#define STOW_ARCH "unknown"
#endif

struct stow_kube {
	stow_kube_config *cfg;
	char *user_agent;
	char *url_base; /* cfg->server, with tls-server-name as its host */
	struct curl_slist *connect_to; /* routes that name to the server */
	stow_curl_pool *pool; /* handles, shared DNS cache and TLS sessions */
	/* token bucket */
	pthread_mutex_t rate_mu;
	double qps, burst, tokens;
	uint64_t rate_last_us;
	/* credentials that change */
	pthread_mutex_t cred_mu;
	char *file_token;
	uint64_t file_token_at_ms;
	stow_kube_exec_cred exec;
	bool exec_valid;
	stow_kube_disco *disco;
};

/* ---- small helpers ------------------------------------------------------ */

static void secret_free(char *s)
{
	if (s)
		stow_secure_zero(s, strlen(s));
	free(s);
}

/* ---- curl plumbing ------------------------------------------------------ */

static int set_blob(CURL *h, CURLoption opt, const char *pem)
{
	struct curl_blob b = {(void *)pem, strlen(pem), CURL_BLOB_COPY};

	return curl_easy_setopt(h, opt, &b) == CURLE_OK ? 0 : -1;
}

int stow_kube_curl_setup(stow_kube *k, CURL *h)
{
	const stow_kube_config *c = k->cfg;
	long ct = c->timeout_ms > 0 && c->timeout_ms < CONNECT_TIMEOUT_MS
		      ? c->timeout_ms
		      : CONNECT_TIMEOUT_MS;
	int bad = 0;

	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ct);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 15L);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(h, CURLOPT_PROTOCOLS,
			 (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(h, CURLOPT_USERAGENT, k->user_agent);
	stow_curl_pool_share(k->pool, h);
	if (k->connect_to)
		curl_easy_setopt(h, CURLOPT_CONNECT_TO, k->connect_to);
	if (c->insecure_skip_tls_verify) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (c->ca_pem) {
		/* The kubeconfig's CA replaces the system bundle, as in
		 * client-go. */
		curl_easy_setopt(h, CURLOPT_CAINFO, NULL);
		curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
		bad |= set_blob(h, CURLOPT_CAINFO_BLOB, c->ca_pem);
	}
	pthread_mutex_lock(&k->cred_mu);
	if (k->exec_valid && k->exec.cert_pem) {
		bad |= set_blob(h, CURLOPT_SSLCERT_BLOB, k->exec.cert_pem);
		bad |= set_blob(h, CURLOPT_SSLKEY_BLOB, k->exec.key_pem);
	} else if (c->client_cert_pem && c->client_key_pem) {
		bad |= set_blob(h, CURLOPT_SSLCERT_BLOB, c->client_cert_pem);
		bad |= set_blob(h, CURLOPT_SSLKEY_BLOB, c->client_key_pem);
	}
	pthread_mutex_unlock(&k->cred_mu);
	curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
	curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	if (bad)
		return stow_err_set(STOW_EUNSUPPORTED,
				    "libcurl refused in-memory TLS material "
				    "(needs libcurl 7.77+ with OpenSSL)");
	return 0;
}

int stow_kube_url(stow_kube *k, const char *path, stow_buf *out)
{
	return stow_buf_printf(out, "%s%s", k->url_base, path);
}

/* ---- credentials -------------------------------------------------------- */

/* Called with cred_mu held. */
static int token_file_current(stow_kube *k, bool force, const char **tok)
{
	uint64_t now = stow_now_ms();
	char *t = NULL;
	size_t len;
	int rc;

	if (k->file_token && !force &&
	    now - k->file_token_at_ms < TOKEN_FILE_TTL_MS) {
		*tok = k->file_token;
		return 0;
	}
	rc = stow_kube_read_file(k->cfg->token_file, TOKEN_FILE_MAX,
				 "token file", &t, &len);
	if (rc < 0) {
		/* A rotating token may be briefly absent; keep the old one. */
		if (k->file_token) {
			*tok = k->file_token;
			return 0;
		}
		return rc;
	}
	while (len && (t[len - 1] == '\n' || t[len - 1] == '\r' ||
		       t[len - 1] == ' ' || t[len - 1] == '\t'))
		t[--len] = '\0';
	{
		/* Surrounding white space is not part of the token. */
		size_t lead = strspn(t, " \t\r\n");

		memmove(t, t + lead, len - lead + 1);
		len -= lead;
	}
	if (!len) {
		free(t);
		return stow_err_set(STOW_EDENIED, "token file %s is empty",
				    k->cfg->token_file);
	}
	secret_free(k->file_token);
	k->file_token = t;
	k->file_token_at_ms = now;
	*tok = t;
	return 0;
}

/* Called with cred_mu held. */
static int exec_current(stow_kube *k, long timeout_ms, bool force)
{
	if (k->exec_valid && !force &&
	    (k->exec.expires == 0 || time(NULL) < k->exec.expires))
		return 0;
	stow_kube_exec_cred_clear(&k->exec);
	k->exec_valid = false;
	STOW_TRY(stow_kube_exec_cred_run(k->cfg, timeout_ms, &k->exec));
	k->exec_valid = true;
	return 0;
}

/* A credential goes into a header line: no control bytes, or a hostile
 * token file could add headers of its own. */
static bool header_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static int auth_header(stow_kube *k, long timeout_ms, bool force, char **out)
{
	const stow_kube_config *c = k->cfg;
	_cleanup_(stow_buf_freep) stow_buf b = {0};
	const char *tok = NULL;
	int rc = 0;

	*out = NULL;
	stow_buf_init(&b, TOKEN_FILE_MAX + 64);
	if (c->token) {
		tok = c->token;
	} else if (c->token_file || c->exec.command) {
		pthread_mutex_lock(&k->cred_mu);
		if (c->token_file)
			rc = token_file_current(k, force, &tok);
		else if ((rc = exec_current(k, timeout_ms, force)) == 0)
			tok = k->exec.token; /* NULL: a certificate */
		if (rc == 0 && tok && !header_safe(tok))
			rc = stow_err_set(STOW_EINVAL,
					  "the bearer token from %s contains "
					  "control characters",
					  c->token_file ? c->token_file
							: "the exec plugin");
		if (rc == 0 && tok)
			rc = stow_buf_printf(&b, "Bearer %s", tok);
		pthread_mutex_unlock(&k->cred_mu);
		STOW_TRY(rc);
		if (!tok)
			return 0;
		*out = (char *)stow_buf_steal(&b, NULL);
		return 0;
	} else if (c->username) {
		_cleanup_free_ char *b64 = NULL;

		if (!header_safe(c->username) ||
		    (c->password && !header_safe(c->password)))
			return stow_err_set(STOW_EINVAL,
					    "the user's username or password "
					    "contains control characters");
		STOW_TRY(stow_buf_printf(&b, "%s:%s", c->username,
					 c->password ? c->password : ""));
		rc = stow_kube_b64_encode(b.data, b.len, &b64);
		stow_secure_zero(b.data, b.len);
		STOW_TRY(rc);
		stow_buf_reset(&b);
		rc = stow_buf_printf(&b, "Basic %s", b64);
		stow_secure_zero(b64, strlen(b64));
		STOW_TRY(rc);
		*out = (char *)stow_buf_steal(&b, NULL);
		return 0;
	}
	if (!tok)
		return 0;
	if (!header_safe(tok))
		return stow_err_set(STOW_EINVAL, "the user's token contains "
						 "control characters");
	STOW_TRY(stow_buf_printf(&b, "Bearer %s", tok));
	*out = (char *)stow_buf_steal(&b, NULL);
	return 0;
}

int stow_kube_auth_header(stow_kube *k, char **out)
{
	if (!k || !out)
		return stow_err_set(STOW_EINVAL, "stow_kube_auth_header: "
						 "missing argument");
	return auth_header(k, k->cfg->timeout_ms, false, out);
}

/* ---- rate limiter ------------------------------------------------------- */

void stow_kube_rate_wait(stow_kube *k)
{
	uint64_t now, wait_us = 0;

	if (k->qps <= 0)
		return;
	pthread_mutex_lock(&k->rate_mu);
	now = stow_now_us();
	k->tokens += (double)(now - k->rate_last_us) / 1e6 * k->qps;
	if (k->tokens > k->burst)
		k->tokens = k->burst;
	k->rate_last_us = now;
	/* Take the token now, even into debt: whoever comes next waits for
	 * the debt to be paid, so waiters are served in arrival order. */
	k->tokens -= 1;
	if (k->tokens < 0)
		wait_us = (uint64_t)(-k->tokens / k->qps * 1e6);
	pthread_mutex_unlock(&k->rate_mu);
	if (wait_us)
		stow_sleep_ms((wait_us + 999) / 1000);
}

/* ---- errors ------------------------------------------------------------- */

static void printable_copy(char *dst, size_t n, const char *src, size_t len)
{
	size_t j = 0;

	for (size_t i = 0; i < len && j + 1 < n; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[j++] = (c >= 0x20 && c != 0x7f) ? (char)c : ' ';
	}
	dst[j] = '\0';
}

int stow_kube_status_error(long st, const char *what, const char *body,
			   size_t body_len)
{
	json_t *j = NULL;
	const char *msg = NULL, *reason = "";
	char snippet[200] = "";
	int code;

	if (body && body_len)
		j = json_loadb(body, body_len, 0, NULL);
	if (json_is_object(j)) {
		json_t *m = json_object_get(j, "message");
		json_t *r = json_object_get(j, "reason");

		if (json_is_string(m) && *json_string_value(m))
			msg = json_string_value(m);
		if (json_is_string(r))
			reason = json_string_value(r);
	}
	if (!msg && body && body_len)
		printable_copy(snippet, sizeof(snippet), body, body_len);
	switch (st) {
	case 404: code = STOW_ENOTFOUND; break;
	case 409:
		code = !strcmp(reason, "AlreadyExists") ? STOW_EEXIST
							: STOW_ECONFLICT;
		break;
	case 401:
	case 403: code = STOW_EDENIED; break;
	case 400:
	case 422: code = STOW_EINVAL; break;
	case 410: code = STOW_ENOTFOUND; break;
	case 405: code = STOW_EUNSUPPORTED; break;
	default:
		code = (st >= 400 && st < 500 && st != 429) ? STOW_EINVAL
							    : STOW_EIO;
		break;
	}
	if (st == 410 && !(msg && strstr(msg, "expired")))
		stow_err_set(code, "%s: expired (HTTP 410 Gone)%s%s", what,
			     msg || snippet[0] ? ": " : "",
			     msg ? msg : snippet);
	else if (msg)
		stow_err_set(code, "%s: %s", what, msg);
	else
		stow_err_set(code, "%s: HTTP %ld%s%s", what, st,
			     snippet[0] ? ": " : "", snippet);
	json_decref(j);
	return code;
}

/* ---- requests ----------------------------------------------------------- */

typedef struct resp {
	stow_buf body;
	long retry_after_ms; /* -1: none */
	bool too_big;
} resp;

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
	resp *r = ud;
	size_t len = size * n;
	char line[256];
	char *v;

	printable_copy(line, sizeof(line), buf, len);
	if (!strncmp(line, "HTTP/", 5)) {
		r->retry_after_ms = -1;
		return len;
	}
	if (strncasecmp(line, "Retry-After:", 12) != 0)
		return len;
	v = line + 12;
	while (*v == ' ' || *v == '\t')
		v++;
	for (char *e = v + strlen(v); e > v && e[-1] == ' '; e--)
		e[-1] = '\0';
	if (*v >= '0' && *v <= '9') {
		char *end;
		long s = strtol(v, &end, 10);

		if (!*end && s >= 0 && s < 86400)
			r->retry_after_ms = s * 1000;
	} else if (*v) {
		time_t t = curl_getdate(v, NULL);

		if (t > 0) {
			time_t d = t - time(NULL);

			r->retry_after_ms = d > 0 && d < 86400 ? d * 1000 : 0;
		}
	}
	return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *ud)
{
	resp *r = ud;
	size_t len = size * n;

	if (stow_buf_append(&r->body, buf, len) < 0) {
		r->too_big = true;
		return 0;
	}
	return len;
}

typedef enum outcome {
	OUT_DONE,  /* an HTTP reply */
	OUT_RETRY, /* transient; error recorded */
	OUT_FAIL,  /* final; error recorded */
} outcome;

static outcome transport_failure(stow_kube *k, const char *what, CURLcode cc,
				 const char *errbuf, int *code)
{
	const char *detail = *errbuf ? errbuf : curl_easy_strerror(cc);

	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		*code = stow_err_set(STOW_ETIMEOUT, "%s: timed out (%s)", what,
				     detail);
		return OUT_RETRY;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		*code =
		    stow_err_set(STOW_EIO, "%s: connection to %s failed: %s",
				 what, k->cfg->server, detail);
		return OUT_RETRY;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
		*code = stow_err_set(STOW_EIO,
				     "%s: TLS with %s failed: %s (check the "
				     "cluster's certificate-authority and "
				     "tls-server-name%s)",
				     what, k->cfg->server, detail,
				     k->cfg->client_cert_pem
					 ? " and the user's client certificate"
					 : "");
		return OUT_FAIL;
	case CURLE_OUT_OF_MEMORY:
		*code = stow_err_set(STOW_ENOMEM, "%s: out of memory", what);
		return OUT_FAIL;
	default:
		*code = stow_err_set(STOW_EIO, "%s: %s", what, detail);
		return OUT_FAIL;
	}
}

static int add_header(struct curl_slist **sl, const char *name, const char *v)
{
	_cleanup_(stow_buf_freep) stow_buf b = {0};
	struct curl_slist *n;

	stow_buf_init(&b, 0);
	STOW_TRY(stow_buf_printf(&b, "%s%s", name, v));
	n = curl_slist_append(*sl, (char *)b.data);
	stow_secure_zero(b.data, b.len);
	if (!n)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	*sl = n;
	return 0;
}

typedef struct attempt {
	const char *method, *path, *content_type, *body, *accept;
	size_t body_len;
	const char *what;
	uint64_t deadline_ms;
	bool force_cred;
} attempt;

static outcome perform_once(stow_kube *k, const attempt *a, resp *r,
			    long *status, int *code)
{
	_cleanup_(stow_buf_freep) stow_buf url = {0};
	_cleanup_free_ char *authz = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *sl = NULL;
	uint64_t now = stow_now_ms(), left;
	CURLcode cc;
	CURL *h;
	int rc;

	*status = 0;
	left = a->deadline_ms > now ? a->deadline_ms - now : 1;
	stow_buf_init(&url, 0);
	if ((rc = stow_kube_url(k, a->path, &url)) < 0 ||
	    (rc = auth_header(k, (long)left, a->force_cred, &authz)) < 0) {
		*code = rc;
		return OUT_FAIL;
	}
	rc = add_header(&sl, "Accept: ", a->accept);
	if (rc == 0 && a->content_type)
		rc = add_header(&sl, "Content-Type: ", a->content_type);
	if (rc == 0 && authz)
		rc = add_header(&sl, "Authorization: ", authz);
	if (rc == 0)
		rc = add_header(&sl, "Expect:", "");
	if (authz)
		stow_secure_zero(authz, strlen(authz));
	if (rc < 0) {
		curl_slist_free_all(sl);
		*code = rc;
		return OUT_FAIL;
	}
	h = stow_curl_pool_take(k->pool);
	if (!h) {
		curl_slist_free_all(sl);
		*code = stow_err_set(STOW_ENOMEM, "curl_easy_init failed");
		return OUT_FAIL;
	}
	curl_easy_reset(h);
	if ((rc = stow_kube_curl_setup(k, h)) < 0) {
		curl_slist_free_all(sl);
		stow_curl_pool_give(k->pool, h);
		*code = rc;
		return OUT_FAIL;
	}
	curl_easy_setopt(h, CURLOPT_URL, (char *)url.data);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, sl);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)left);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	if (!strcmp(a->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (a->body || strcmp(a->method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, a->body ? a->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)(a->body ? a->body_len : 0));
	}
	if (strcmp(a->method, "GET") != 0 && strcmp(a->method, "POST") != 0 &&
	    strcmp(a->method, "HEAD") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, a->method);
	if (!strcmp(a->method, "GET") && a->body)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "GET");
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(sl);
	stow_curl_pool_give(k->pool, h);
	if (r->too_big) {
		*code =
		    stow_err_set(STOW_ENOMEM, "%s: reply larger than %zu bytes",
				 a->what, r->body.max);
		return OUT_FAIL;
	}
	if (cc != CURLE_OK)
		return transport_failure(k, a->what, cc, errbuf, code);
	return OUT_DONE;
}

static bool retryable_status(long st)
{
	return st == 429 || (st >= 500 && st != 501 && st != 505);
}

int stow_kube_request_ex(stow_kube *k, const char *method, const char *path,
			 const char *content_type, const char *body,
			 size_t body_len, const stow_kube_req_opts *o,
			 json_t **out_body, long *out_status)
{
	char what[300];
	uint64_t start = stow_now_ms();
	int max_attempts =
	    o && o->max_attempts > 0 ? o->max_attempts : MAX_ATTEMPTS_DEFAULT;
	size_t max_body = o && o->max_body ? o->max_body : BODY_MAX_DEFAULT;
	attempt a = {0};
	int made = 0, code = 0;
	bool refreshed = false;
	long status = 0;

	if (out_body)
		*out_body = NULL;
	if (out_status)
		*out_status = 0;
	if (!k || !method || !path || path[0] != '/' || (!body && body_len) ||
	    !*method ||
	    strspn(method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(method))
		return stow_err_set(STOW_EINVAL,
				    "stow_kube_request: bad argument");
	for (const char *p = path; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return stow_err_set(STOW_EINVAL,
					    "stow_kube_request: the path "
					    "contains a space or control byte");
	snprintf(what, sizeof(what), "%s %.280s", method, path);
	a.method = method;
	a.path = path;
	a.content_type = content_type;
	a.body = body;
	a.body_len = body_len;
	a.accept = o && o->accept ? o->accept : "application/json";
	a.what = what;
	a.deadline_ms =
	    start +
	    (uint64_t)(k->cfg->timeout_ms > 0 ? k->cfg->timeout_ms : 30000);
	for (;;) {
		resp r = {.retry_after_ms = -1};
		uint64_t delay, cap, now;
		outcome oc;

		stow_kube_rate_wait(k);
		stow_buf_init(&r.body, max_body);
		oc = perform_once(k, &a, &r, &status, &code);
		made++;
		a.force_cred = false;
		if (oc == OUT_DONE && status >= 200 && status < 300) {
			int rc = 0;

			if (out_status)
				*out_status = status;
			if (out_body) {
				json_decref(*out_body);
				*out_body = NULL;
			}
			if (out_body && r.body.len) {
				json_error_t jerr;

				*out_body =
				    json_loadb((const char *)r.body.data,
					       r.body.len, 0, &jerr);
				if (!*out_body)
					rc = stow_err_set(
					    STOW_ECORRUPT,
					    "%s: the reply is not JSON "
					    "(line %d: %s)",
					    what, jerr.line, jerr.text);
			}
			stow_buf_free(&r.body);
			return rc;
		}
		if (oc == OUT_DONE) {
			code = stow_kube_status_error(status, what,
						      (const char *)r.body.data,
						      r.body.len);
			if (status == 401 && !refreshed && !k->cfg->token &&
			    (k->cfg->token_file || k->cfg->exec.command)) {
				/* The credential may have rotated or been
				 * revoked early: fetch it again, once. */
				refreshed = true;
				a.force_cred = true;
				stow_buf_free(&r.body);
				continue;
			}
			oc = retryable_status(status) ? OUT_RETRY : OUT_FAIL;
			/* The last error reply's Status goes to the caller. */
			if (out_body) {
				json_decref(*out_body);
				*out_body =
				    r.body.len
					? json_loadb((const char *)r.body.data,
						     r.body.len, 0, NULL)
					: NULL;
				if (*out_body && !json_is_object(*out_body)) {
					json_decref(*out_body);
					*out_body = NULL;
				}
			}
			if (out_status)
				*out_status = status;
		} else if (out_body) {
			/* A transport failure after an HTTP error: the
			 * Status no longer describes the outcome. */
			json_decref(*out_body);
			*out_body = NULL;
		}
		stow_buf_free(&r.body);
		if (oc == OUT_FAIL)
			return code;
		/* Exponential backoff with jitter: half fixed, half random,
		 * so a crowd of clients spreads out but none retries at
		 * once; raised to the server's Retry-After. */
		cap = made < 16 ? (uint64_t)BACKOFF_BASE_MS << (made - 1)
				: BACKOFF_CAP_MS;
		if (cap > BACKOFF_CAP_MS)
			cap = BACKOFF_CAP_MS;
		delay = cap / 2 + stow_jitter(cap / 2);
		if (r.retry_after_ms >= 0 && (uint64_t)r.retry_after_ms > delay)
			delay = (uint64_t)r.retry_after_ms;
		now = stow_now_ms();
		if (made >= max_attempts || now + delay >= a.deadline_ms)
			break;
		stow_sleep_ms(delay);
	}
	/* code is STOW_EIO (5xx, 429, transport) or STOW_ETIMEOUT (the last
	 * attempt ran out of time). */
	return stow_err_wrap(code, "gave up after %d attempt%s in %llu ms%s",
			     made, made == 1 ? "" : "s",
			     (unsigned long long)(stow_now_ms() - start),
			     made >= max_attempts ? "" : " (the deadline)");
}

int stow_kube_request(stow_kube *k, const char *method, const char *path,
		      const char *content_type, const char *body,
		      size_t body_len, json_t **out_body, long *out_status)
{
	return stow_kube_request_ex(k, method, path, content_type, body,
				    body_len, NULL, out_body, out_status);
}

/* ---- the client --------------------------------------------------------- */

/* With tls-server-name the URL names that host (curl uses the URL's host
 * for SNI and for checking the certificate) and CONNECT_TO sends the
 * connection to the server's real address. */
static int routing(stow_kube *k)
{
	const char *srv = k->cfg->server, *sni = k->cfg->tls_server_name;
	const char *auth = strstr(srv, "://"), *host_end, *port_p, *path;
	_cleanup_(stow_buf_freep) stow_buf b = {0};
	struct curl_slist *sl;
	char port[8] = "443";
	size_t host_len;

	stow_buf_init(&b, 0);
	if (!sni) {
		k->url_base = strdup(srv);
		return k->url_base ? 0
				   : stow_err_set(STOW_ENOMEM, "out of memory");
	}
	if (!auth)
		return stow_err_set(STOW_EINVAL, "server %s has no scheme",
				    srv);
	auth += 3;
	path = auth + strcspn(auth, "/?#");
	if (*auth == '[') {
		host_end = memchr(auth, ']', (size_t)(path - auth));
		if (!host_end)
			return stow_err_set(STOW_EINVAL,
					    "server %s: bad IPv6 address", srv);
		host_end++;
	} else {
		host_end = memchr(auth, ':', (size_t)(path - auth));
		if (!host_end)
			host_end = path;
	}
	host_len = (size_t)(host_end - auth);
	port_p = host_end;
	if (*port_p == ':' && path - port_p > 1 && path - port_p < 7)
		snprintf(port, sizeof(port), "%.*s", (int)(path - port_p - 1),
			 port_p + 1);
	else if (!strncmp(srv, "http://", 7))
		snprintf(port, sizeof(port), "80");
	for (const char *p = sni; *p; p++)
		if (!(*p == '.' || *p == '-' || (*p >= '0' && *p <= '9') ||
		      (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
			return stow_err_set(STOW_EINVAL,
					    "tls-server-name \"%.64s\" is not "
					    "a host name",
					    sni);
	STOW_TRY(stow_buf_printf(&b, "%.*s%s:%s%s", (int)(auth - srv), srv, sni,
				 port, path));
	k->url_base = (char *)stow_buf_steal(&b, NULL);
	STOW_TRY(stow_buf_printf(&b, "%s:%s:%.*s:%s", sni, port, (int)host_len,
				 auth, port));
	sl = curl_slist_append(NULL, (char *)b.data);
	if (!sl)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	k->connect_to = sl;
	return 0;
}

int stow_kube_new(stow_kube **out, const stow_kube_config *cfg)
{
	stow_kube *k;
	int rc;

	if (!out || !cfg)
		return stow_err_set(STOW_EINVAL, "stow_kube_new: missing "
						 "argument");
	*out = NULL;
	if (!cfg->server)
		return stow_err_set(STOW_EINVAL,
				    "kube client: no server in the "
				    "configuration");
	k = calloc(1, sizeof(*k));
	if (!k)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	pthread_mutex_init(&k->rate_mu, NULL);
	pthread_mutex_init(&k->cred_mu, NULL);
	rc = stow_curl_pool_new(&k->pool, POOL_MAX);
	if (rc < 0)
		goto fail;
	rc = stow_kube_config_dup(&k->cfg, cfg);
	if (rc < 0)
		goto fail;
	if (k->cfg->timeout_ms <= 0)
		k->cfg->timeout_ms = 30000;
	if (k->cfg->qps == 0)
		k->cfg->qps = 20;
	if (k->cfg->burst <= 0)
		k->cfg->burst =
		    k->cfg->qps > 20 ? (int)(k->cfg->qps * 2 + 1) : 40;
	k->qps = k->cfg->qps;
	k->burst = k->cfg->burst;
	k->tokens = k->burst;
	k->rate_last_us = stow_now_us();
	if (!k->cfg->user_agent &&
	    !(k->cfg->user_agent =
		  strdup("stowage/" STOW_VERSION " (linux/" STOW_ARCH ")"))) {
		rc = stow_err_set(STOW_ENOMEM, "out of memory");
		goto fail;
	}
	k->user_agent = k->cfg->user_agent;
	if ((rc = routing(k)) < 0 || (rc = stow_kube_disco_new(&k->disco)) < 0)
		goto fail;
	*out = k;
	return 0;
fail:
	stow_kube_free(k);
	return rc;
}

void stow_kube_free(stow_kube *k)
{
	if (!k)
		return;
	stow_curl_pool_free(k->pool);
	curl_slist_free_all(k->connect_to);
	free(k->url_base);
	secret_free(k->file_token);
	stow_kube_exec_cred_clear(&k->exec);
	stow_kube_disco_free(k->disco);
	stow_kube_config_free(k->cfg);
	pthread_mutex_destroy(&k->rate_mu);
	pthread_mutex_destroy(&k->cred_mu);
	free(k);
}

const stow_kube_config *stow_kube_config_of(const stow_kube *k)
{
	return k ? k->cfg : NULL;
}

stow_kube_disco *stow_kube_disco_of(stow_kube *k)
{
	return k->disco;
}
