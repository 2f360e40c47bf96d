/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared between the files of src/kube only: what the WebSocket (exec) and
 * watch code need from the request core in client.c.
 */
#ifndef STOW_KUBE_KUBE_INTERNAL_H
#define STOW_KUBE_KUBE_INTERNAL_H

#include <curl/curl.h>

#include "kube/kube.h"

/* Apply the client's TLS settings (CA, client certificate, verification,
 * SNI), timeouts and User-Agent to a libcurl handle the caller owns. */
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

#endif
