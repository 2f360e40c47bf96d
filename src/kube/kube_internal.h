/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared between the files of src/kube only: what the WebSocket (exec) and
 * watch code need from the request core in client.c.
 */
#ifndef STOW_KUBE_KUBE_INTERNAL_H
#define STOW_KUBE_KUBE_INTERNAL_H

#include <curl/curl.h>
#include <time.h>

#include "kube/kube.h"

/* Apply the client's TLS settings (CA, client certificate, verification,
 * SNI), timeouts and User-Agent to a libcurl handle the caller owns.
 * (Only the connect timeout: the total one is the caller's, as watches run
 * long. SNI needs the URL from stow_kube_url.) */
int stow_kube_curl_setup(stow_kube *k, CURL *h);
/* The current "Authorization" header value ("Bearer …" / "Basic …"),
 * refreshing a token file or exec-plugin token when due; *out = NULL when
 * the client authenticates by certificate only. Caller frees *out. */
int stow_kube_auth_header(stow_kube *k, char **out);
/* Block until the client-side rate limiter admits one more request. */
void stow_kube_rate_wait(stow_kube *k);
/* Map an HTTP status and the reply body (a Status object or anything) to a
 * STOW_E* code with the message set ("<verb> <path>: <Status.message>"). */
int stow_kube_status_error(long http_status, const char *what,
			   const char *body, size_t body_len);

/* ---- additions for config.c, client.c, discovery.c and rest.c ---------- */

/* The URL of `path` ("/api/v1/...", query included) on the client's server.
 * With tls-server-name set the URL carries that name (curl sends it as SNI
 * and verifies the certificate against it) and stow_kube_curl_setup routes
 * the connection to the real host; code that builds its own URLs from
 * cfg->server misses that, so use this. */
int stow_kube_url(stow_kube *k, const char *path, stow_buf *out);

/* stow_kube_request with knobs: max_attempts (0 = the default, 1 = no
 * retry), accept (NULL = "application/json"), max_body (0 = 64 MiB). */
typedef struct stow_kube_req_opts {
	int max_attempts;
	const char *accept;
	size_t max_body;
} stow_kube_req_opts;
int stow_kube_request_ex(stow_kube *k, const char *method, const char *path,
			 const char *content_type, const char *body,
			 size_t body_len, const stow_kube_req_opts *o,
			 json_t **out_body, long *out_status);

/* Parse one kubeconfig held in memory, as if read from the file `name`
 * (whose directory anchors relative paths), then resolve opts' context and
 * namespace (opts->kubeconfig is ignored; opts may be NULL). For tests and
 * the fuzzer; stow_kube_config_load is this over files. */
int stow_kube_config_parse(stow_kube_config **out, const char *data,
			   size_t len, const char *name,
			   const stow_kube_load_opts *opts);
/* A deep copy (stow_kube_new keeps one). */
int stow_kube_config_dup(stow_kube_config **out, const stow_kube_config *cfg);

/* What an exec credential plugin returned. */
typedef struct stow_kube_exec_cred {
	char *token;     /* bearer token, or NULL */
	char *cert_pem;  /* client certificate and key, or NULL */
	char *key_pem;
	time_t expires;  /* 0 = no expiry given: valid until a 401 */
} stow_kube_exec_cred;

/* Run cfg->exec (no shell; stdin /dev/null; KUBERNETES_EXEC_INFO set) and
 * parse its ExecCredential. STOW_ENOTFOUND when the command is missing,
 * STOW_EDENIED when it fails or prints no usable credential, STOW_ETIMEOUT
 * after timeout_ms. */
int stow_kube_exec_cred_run(const stow_kube_config *cfg, long timeout_ms,
			    stow_kube_exec_cred *out);
void stow_kube_exec_cred_clear(stow_kube_exec_cred *c);

/* Read a whole regular file of at most `max` bytes (NUL-terminated, the
 * NUL not counted); messages start with `what` and the path. */
int stow_kube_read_file(const char *path, size_t max, const char *what,
			char **out, size_t *len);

/* Strict base64 (RFC 4648, padding optional, whitespace skipped). Caller
 * frees *out, which is NUL-terminated (not counted in *len). */
int stow_kube_b64_decode(const char *in, size_t in_len, char **out,
			 size_t *len);
int stow_kube_b64_encode(const void *in, size_t len, char **out);
/* RFC 3339 "2006-01-02T15:04:05[.frac](Z|+hh:mm)" to a time_t. */
int stow_kube_parse_time(const char *s, time_t *out);

/* The discovery cache (discovery.c), owned by the client. */
typedef struct stow_kube_disco stow_kube_disco;
int stow_kube_disco_new(stow_kube_disco **out);
void stow_kube_disco_free(stow_kube_disco *d);
stow_kube_disco *stow_kube_disco_of(stow_kube *k);

#endif
