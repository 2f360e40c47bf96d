/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Watch: one streaming GET ?watch=1, decoded as the bytes arrive. libcurl's
 * write callback feeds a line decoder (one JSON event per line, each line
 * capped); the newest resourceVersion seen is kept so the caller can resume.
 *
 * A watch has no overall deadline (a quiet stream is normal) but is not
 * allowed to hang forever on a dead connection: the server is asked to end
 * the stream after timeoutSeconds, and libcurl's low-speed guard gives up
 * when nothing at all arrived for that long plus a margin. Both end the
 * watch with 0, which means "resume from *last_rv".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "kube/kube_internal.h"
#include "kube/ws.h"
#include "util/err.h"

#define ERROR_BODY_MAX ((size_t)1 << 20)
/* client-go's choice: a random server-side timeout in [5, 10) minutes
 * spreads the re-watches of many clients. */
#define WATCH_TIMEOUT_MIN_S 300
#define WATCH_TIMEOUT_SPREAD_S 300
/* Silence tolerated past the server-side timeout before the connection is
 * considered dead. */
#define WATCH_SILENCE_MARGIN_S 60

/* ---- the line decoder -----------------------------------------------------
 */

void stow_kube_watch_decoder_init(stow_kube_watch_decoder *d, size_t max_line)
{
	d->max_line = max_line ? max_line : STOW_KUBE_WATCH_LINE_MAX;
	stow_buf_init(&d->line, d->max_line);
}

void stow_kube_watch_decoder_free(stow_kube_watch_decoder *d)
{
	if (d)
		stow_buf_free(&d->line);
}

static int event_type(const char *t, int *out)
{
	static const struct {
		const char *name;
		int type;
	} types[] = {
	    {"ADDED", STOW_KUBE_ADDED},	      {"MODIFIED", STOW_KUBE_MODIFIED},
	    {"DELETED", STOW_KUBE_DELETED},   {"BOOKMARK", STOW_KUBE_BOOKMARK},
	    {"ERROR", STOW_KUBE_WATCH_ERROR},
	};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(t, types[i].name) == 0) {
			*out = types[i].type;
			return 0;
		}
	return stow_err_set(STOW_ECORRUPT,
			    "watch: unknown event type \"%.64s\"", t);
}

static int decode_line(const char *p, size_t n, stow_kube_watch_line_fn fn,
		       void *ctx)
{
	json_t *ev, *type, *obj;
	json_error_t jerr;
	size_t i = 0;
	int t = 0, rc;

	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))
		i++;
	if (i == n)
		return 0; /* blank line */
	ev = json_loadb(p, n, 0, &jerr);
	if (!ev)
		return stow_err_set(STOW_ECORRUPT,
				    "watch: event is not JSON: %s (line %d)",
				    jerr.text, jerr.line);
	type = json_object_get(ev, "type");
	obj = json_object_get(ev, "object");
	if (!json_is_object(ev) || !json_is_string(type) ||
	    !json_is_object(obj)) {
		json_decref(ev);
		return stow_err_set(
		    STOW_ECORRUPT, "watch: event without a type and an object");
	}
	rc = event_type(json_string_value(type), &t);
	if (rc == 0)
		rc = fn(ctx, t, obj);
	json_decref(ev);
	return rc;
}

static int line_too_long(const stow_kube_watch_decoder *d)
{
	return stow_err_set(STOW_ENOMEM, "watch: event line over %zu bytes",
			    d->max_line);
}

int stow_kube_watch_decoder_feed(stow_kube_watch_decoder *d, const void *p,
				 size_t n, stow_kube_watch_line_fn fn,
				 void *ctx)
{
	const char *s = p;

	while (n > 0) {
		const char *nl = memchr(s, '\n', n);
		size_t part = nl ? (size_t)(nl - s) : n;

		if (d->line.len == 0 && nl) {
			/* The common case: a whole line inside this chunk is
			 * decoded in place, without a copy. */
			int rc;

			if (part > d->max_line)
				return line_too_long(d);
			/* Not STOW_TRY: a handler's positive stop value must
			 * come through too. */
			rc = decode_line(s, part, fn, ctx);
			if (rc)
				return rc;
		} else {
			if (part > d->max_line - d->line.len)
				return line_too_long(d);
			STOW_TRY(stow_buf_append(&d->line, s, part));
			if (nl) {
				int rc = decode_line((const char *)d->line.data,
						     d->line.len, fn, ctx);

				stow_buf_reset(&d->line);
				if (rc)
					return rc;
			}
		}
		if (!nl)
			break;
		s = nl + 1;
		n -= part + 1;
	}
	return 0;
}

int stow_kube_watch_decoder_finish(stow_kube_watch_decoder *d,
				   stow_kube_watch_line_fn fn, void *ctx)
{
	int rc = 0;

	if (d->line.len)
		rc = decode_line((const char *)d->line.data, d->line.len, fn,
				 ctx);
	stow_buf_reset(&d->line);
	return rc;
}

/* ---- the watch ------------------------------------------------------------
 */

typedef struct watch_run {
	CURL *h;
	stow_kube_watch_decoder dec;
	stow_kube_watch_fn fn;
	void *ctx;
	const volatile int *stop;
	const char *what;    /* "watch /api/v1/pods" for messages */
	const char *from_rv; /* the resourceVersion asked for */
	char *rv;	     /* newest resourceVersion seen */
	long status;	     /* HTTP status, once known */
	int rc;		     /* why the write callback stopped the transfer */
	stow_buf errbody;    /* body of a non-200 reply */
} watch_run;

static bool stop_requested(const volatile int *stop)
{
	return stop && __atomic_load_n(stop, __ATOMIC_RELAXED) != 0;
}

/* The Status of an ERROR event as an error: 410 is "expired" (the caller
 * relists), anything else maps as an HTTP reply with that code would. */
static int error_event(watch_run *w, json_t *status)
{
	json_int_t code = json_integer_value(json_object_get(status, "code"));
	const char *msg = json_string_value(json_object_get(status, "message"));
	char *raw;
	int rc;

	if (code == 410)
		return stow_err_set(STOW_ENOTFOUND, "%s: expired: %s", w->what,
				    msg ? msg : "resourceVersion too old");
	raw = json_dumps(status, JSON_COMPACT);
	rc =
	    stow_kube_status_error(code >= 400 && code < 600 ? (long)code : 500,
				   w->what, raw, raw ? strlen(raw) : 0);
	free(raw);
	/* A Status with a 2xx code or none would map to success: an ERROR
	 * event is never that. */
	return rc < 0 ? rc
		      : stow_err_set(STOW_EIO, "%s: watch error: %s", w->what,
				     msg ? msg : "(no message)");
}

static int on_event(void *ctx, int type, json_t *obj)
{
	watch_run *w = ctx;
	const char *rv;
	int rc;

	if (type == STOW_KUBE_WATCH_ERROR)
		return error_event(w, obj);
	rv = json_string_value(json_object_get(json_object_get(obj, "metadata"),
					       "resourceVersion"));
	rc = w->fn(w->ctx, (stow_kube_event_type)type, obj);
	if (rc)
		return rc;
	/* Only after the handler took the event: a resume then starts after
	 * it, never skipping one the handler did not see. */
	if (rv && *rv) {
		char *dup = strdup(rv);

		if (!dup)
			return stow_err_set(STOW_ENOMEM, "out of memory");
		free(w->rv);
		w->rv = dup;
	}
	return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	watch_run *w = ud;
	size_t len = size * n;
	int rc;

	if (!w->status)
		curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &w->status);
	if (w->status != 200) {
		size_t room = ERROR_BODY_MAX - w->errbody.len;

		(void)stow_buf_append(&w->errbody, p, len < room ? len : room);
		return len;
	}
	if (stop_requested(w->stop))
		return 0; /* aborts; reported as STOW_EINTR */
	rc = stow_kube_watch_decoder_feed(&w->dec, p, len, on_event, w);
	if (rc) {
		w->rc = rc;
		return 0;
	}
	return len;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut,
		       curl_off_t un)
{
	watch_run *w = ud;

	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	return stop_requested(w->stop) ? 1 : 0;
}

/* Append the watch query to the collection path in out. */
static int build_query(stow_buf *out, const stow_kube_list_opts *opts,
		       long timeout_s)
{
	STOW_TRY(
	    stow_buf_printf(out, "?watch=1&timeoutSeconds=%ld", timeout_s));
	if (opts->resource_version && *opts->resource_version) {
		STOW_TRY(stow_buf_append_str(out, "&resourceVersion="));
		STOW_TRY(stow_kube_query_escape(out, opts->resource_version));
	}
	if (opts->allow_bookmarks)
		STOW_TRY(stow_buf_append_str(out, "&allowWatchBookmarks=true"));
	if (opts->label_selector && *opts->label_selector) {
		STOW_TRY(stow_buf_append_str(out, "&labelSelector="));
		STOW_TRY(stow_kube_query_escape(out, opts->label_selector));
	}
	if (opts->field_selector && *opts->field_selector) {
		STOW_TRY(stow_buf_append_str(out, "&fieldSelector="));
		STOW_TRY(stow_kube_query_escape(out, opts->field_selector));
	}
	return 0;
}

static void slist_freep(struct curl_slist **l)
{
	curl_slist_free_all(*l);
}

static void curl_freep(CURL **h)
{
	if (*h)
		curl_easy_cleanup(*h);
}

static int watch_perform(stow_kube *k, watch_run *w, const char *path,
			 long timeout_s)
{
	_cleanup_(stow_buf_freep) stow_buf url = {0};
	_cleanup_(stow_buf_freep) stow_buf hdr = {0};
	_cleanup_(slist_freep) struct curl_slist *headers = NULL;
	_cleanup_(curl_freep) CURL *h = NULL;
	_cleanup_free_ char *auth = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *n;
	CURLcode cc;

	stow_buf_init(&url, 0);
	stow_buf_init(&hdr, 0);
	STOW_TRY(stow_kube_url(k, path, &url));
	STOW_TRY(stow_kube_auth_header(k, &auth));
	headers = curl_slist_append(NULL, "Accept: application/json");
	if (!headers)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	if (auth) {
		STOW_TRY(stow_buf_printf(&hdr, "Authorization: %s", auth));
		n = curl_slist_append(headers, (const char *)hdr.data);
		stow_secure_zero(hdr.data, hdr.len);
		if (!n)
			return stow_err_set(STOW_ENOMEM, "out of memory");
		headers = n;
	}
	h = curl_easy_init();
	if (!h)
		return stow_err_set(STOW_ENOMEM, "curl_easy_init failed");
	w->h = h;
	STOW_TRY(stow_kube_curl_setup(k, h));
	curl_easy_setopt(h, CURLOPT_URL, (const char *)url.data);
	curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	/* No overall deadline: the stream is meant to stay open. A dead peer
	 * is caught by TCP keepalive and the low-speed guard instead. */
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 0L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
			 timeout_s + WATCH_SILENCE_MARGIN_S);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 15L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, w);

	stow_kube_rate_wait(k);
	cc = curl_easy_perform(h);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	if (!w->status)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &w->status);
	w->h = NULL;

	if (stop_requested(w->stop) &&
	    (cc == CURLE_ABORTED_BY_CALLBACK || cc == CURLE_WRITE_ERROR ||
	     cc == CURLE_OK))
		return stow_err_set(STOW_EINTR, "%s: stopped", w->what);
	if (w->rc)
		return w->rc;
	if (w->status && w->status != 200) {
		if (w->status == 410)
			return stow_err_set(STOW_ENOTFOUND,
					    "%s: expired: resourceVersion %s "
					    "is too old",
					    w->what,
					    w->rv ? w->rv : w->from_rv);
		return stow_kube_status_error(w->status, w->what,
					      (const char *)w->errbody.data,
					      w->errbody.len);
	}
	if (cc == CURLE_OK) {
		int rc = stow_kube_watch_decoder_finish(&w->dec, on_event, w);

		return rc;
	}
	if (w->status == 200)
		/* The stream broke after it started (a dropped connection,
		 * the low-speed guard): an ordinary end, resume. */
		return 0;
	return stow_err_set(
	    cc == CURLE_OPERATION_TIMEDOUT ? STOW_ETIMEOUT : STOW_EIO, "%s: %s",
	    w->what, errbuf[0] ? errbuf : curl_easy_strerror(cc));
}

int stow_kube_watch(stow_kube *k, const stow_kube_resource *r, const char *ns,
		    const stow_kube_list_opts *opts, stow_kube_watch_fn fn,
		    void *ctx, const volatile int *stop, char **last_rv)
{
	_cleanup_(stow_buf_freep) stow_buf path = {0};
	_cleanup_(stow_buf_freep) stow_buf what = {0};
	watch_run w = {0};
	long timeout_s;
	int rc;

	if (!k || !r || !opts || !fn || !opts->resource_version)
		return stow_err_set(STOW_EINVAL,
				    "watch: client, resource, options with a "
				    "resourceVersion and a handler are "
				    "required");
	timeout_s = opts->timeout_seconds;
	if (timeout_s <= 0) {
		uint8_t rnd[2] = {0, 0};

		(void)stow_random(rnd, sizeof(rnd));
		timeout_s =
		    WATCH_TIMEOUT_MIN_S +
		    (long)((rnd[0] << 8 | rnd[1]) % WATCH_TIMEOUT_SPREAD_S);
	}
	stow_buf_init(&path, 0);
	stow_buf_init(&what, 0);
	STOW_TRY(stow_kube_path(&path, r, ns, NULL, NULL));
	STOW_TRY(stow_buf_append_str(&path, ""));
	STOW_TRY(stow_buf_printf(&what, "watch %s", (const char *)path.data));
	STOW_TRY(build_query(&path, opts, timeout_s));

	w.fn = fn;
	w.ctx = ctx;
	w.stop = stop;
	w.what = (const char *)what.data;
	w.from_rv = opts->resource_version;
	stow_kube_watch_decoder_init(&w.dec, 0);
	stow_buf_init(&w.errbody, ERROR_BODY_MAX);

	if (stop_requested(stop))
		rc = stow_err_set(STOW_EINTR, "%s: stopped", w.what);
	else
		rc = watch_perform(k, &w, (const char *)path.data, timeout_s);

	if (w.rv && last_rv) {
		free(*last_rv);
		*last_rv = STOW_TAKE_PTR(w.rv);
	}
	free(w.rv);
	stow_kube_watch_decoder_free(&w.dec);
	stow_buf_free(&w.errbody);
	return rc;
}
