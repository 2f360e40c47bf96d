/* Presigned S3 URLs (presign.h): the canonical request of a presigned
 * GET differs from a header-signed one only in where the authentication
 * parameters travel (the query) and in the payload hash
 * (UNSIGNED-PAYLOAD), so sigv4.c signs it unchanged: we hand it the
 * X-Amz-* query parameters and the host header, then move the signature
 * from the Authorization value it returns into the query. */
#include "storage/presign.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "storage/sigv4.h"
#include "util/err.h"

#define ALGORITHM "AWS4-HMAC-SHA256"
#define URL_MAX ((size_t)16 << 10)

/* The pieces of a URL for key: "scheme://authority" (base), the Host
 * header value (no default port) and the raw path. */
typedef struct target {
	stow_buf base, host, path;
} target;

static void target_free(target *t)
{
	stow_buf_free(&t->base);
	stow_buf_free(&t->host);
	stow_buf_free(&t->path);
}

static int build_target(const stow_s3_config *cfg, const char *ep,
			const char *key, target *t)
{
	bool https = strncasecmp(ep, "https://", 8) == 0;
	const char *auth;
	size_t alen, hostlen;
	bool vhost;

	if (!https && strncasecmp(ep, "http://", 7) != 0)
		return stow_err_set(STOW_EINVAL,
				    "presign: endpoint \"%.200s\" is not "
				    "http:// or https://",
				    ep);
	auth = ep + (https ? 8 : 7);
	alen = strcspn(auth, "/?#");
	if (alen == 0 || memchr(auth, '@', alen))
		return stow_err_set(STOW_EINVAL,
				    "presign: endpoint \"%.200s\" has no "
				    "usable host",
				    ep);
	hostlen = alen;
	if (https && alen > 4 && !memcmp(auth + alen - 4, ":443", 4))
		hostlen -= 4;
	else if (!https && alen > 3 && !memcmp(auth + alen - 3, ":80", 3))
		hostlen -= 3;
	vhost = stow_s3_virtual_host(cfg, auth, https);
	{
		/* The endpoint's own path (a gateway under /s3), without
		 * trailing slashes. */
		const char *epath = auth + alen;
		size_t elen = strcspn(epath, "?#");
		const char *pfx = cfg->prefix ? cfg->prefix : "";

		while (elen && epath[elen - 1] == '/')
			elen--;
		if (vhost) {
			STOW_TRY(stow_buf_printf(&t->base, "%s://%s.%.*s",
						 https ? "https" : "http",
						 cfg->bucket, (int)alen, auth));
			STOW_TRY(stow_buf_printf(&t->host, "%s.%.*s",
						 cfg->bucket, (int)hostlen,
						 auth));
			STOW_TRY(stow_buf_printf(&t->path, "%.*s/%s%s%s",
						 (int)elen, epath, pfx,
						 *pfx ? "/" : "", key));
		} else {
			STOW_TRY(stow_buf_printf(&t->base, "%s://%.*s",
						 https ? "https" : "http",
						 (int)alen, auth));
			STOW_TRY(stow_buf_printf(&t->host, "%.*s", (int)hostlen,
						 auth));
			STOW_TRY(stow_buf_printf(&t->path, "%.*s/%s/%s%s%s",
						 (int)elen, epath, cfg->bucket,
						 pfx, *pfx ? "/" : "", key));
		}
	}
	/* Host names are case-insensitive and signed lowercased. */
	for (size_t i = 0; i < t->host.len; i++)
		if (t->host.data[i] >= 'A' && t->host.data[i] <= 'Z')
			t->host.data[i] =
			    (uint8_t)(t->host.data[i] - 'A' + 'a');
	return 0;
}

int stow_s3_presign(const stow_s3_config *cfg, const char *endpoint,
		    const char *method, const char *key, time_t now,
		    long expires_s, stow_buf *url)
{
	_cleanup_(stow_buf_freep) stow_buf auth = {0}, curi = {0}, q = {0};
	target t = {0};
	char date[STOW_SIGV4_DATE_LEN], credential[512], expires[24];
	const char *sig;
	stow_sigv4_kv params[7];
	size_t np = 0;
	int rc;

	if (!cfg || !cfg->bucket || !cfg->region || !url || !method || !key)
		return stow_err_set(STOW_EINVAL, "presign: missing argument");
	if (!endpoint || !*endpoint)
		endpoint = cfg->endpoint;
	if (!endpoint)
		return stow_err_set(STOW_EINVAL, "presign: no endpoint");
	if (!cfg->access_key || !cfg->secret_key)
		return stow_err_set(STOW_EINVAL,
				    "presign: no credentials (resolve them "
				    "first)");
	if (!stow_store_key_valid(key))
		return stow_err_set(STOW_EINVAL,
				    "presign: invalid key \"%.200s\"", key);
	if (expires_s < 1 || expires_s > STOW_S3_PRESIGN_MAX_S)
		return stow_err_set(STOW_EINVAL,
				    "presign: expiry %ld s is not within 1 s "
				    "and 7 days",
				    expires_s);
	STOW_TRY(stow_sigv4_amz_date(now, date));
	if ((size_t)snprintf(credential, sizeof(credential),
			     "%s/%.8s/%s/s3/aws4_request", cfg->access_key,
			     date, cfg->region) >= sizeof(credential))
		return stow_err_set(STOW_EINVAL,
				    "presign: access key too long");
	snprintf(expires, sizeof(expires), "%ld", expires_s);

	stow_buf_init(&auth, 4096);
	stow_buf_init(&curi, URL_MAX);
	stow_buf_init(&q, URL_MAX);
	stow_buf_init(&t.base, URL_MAX);
	stow_buf_init(&t.host, URL_MAX);
	stow_buf_init(&t.path, URL_MAX);
	rc = build_target(cfg, endpoint, key, &t);
	if (rc < 0)
		goto out;

	params[np++] = (stow_sigv4_kv){"X-Amz-Algorithm", ALGORITHM};
	params[np++] = (stow_sigv4_kv){"X-Amz-Credential", credential};
	params[np++] = (stow_sigv4_kv){"X-Amz-Date", date};
	params[np++] = (stow_sigv4_kv){"X-Amz-Expires", expires};
	params[np++] = (stow_sigv4_kv){"X-Amz-SignedHeaders", "host"};
	if (cfg->session_token && *cfg->session_token)
		params[np++] =
		    (stow_sigv4_kv){"X-Amz-Security-Token", cfg->session_token};
	{
		stow_sigv4_kv host = {"host", (const char *)t.host.data};
		stow_sigv4_signer k = {cfg->access_key, cfg->secret_key,
				       cfg->region, "s3"};
		stow_sigv4_request req = {
		    .method = method,
		    .path = (const char *)t.path.data,
		    .query = params,
		    .nquery = np,
		    .headers = &host,
		    .nheaders = 1,
		    .payload_hash = "UNSIGNED-PAYLOAD",
		    .normalize_path = false,
		};

		rc = stow_sigv4_sign(&k, &req, date, &auth, NULL);
	}
	if (rc < 0)
		goto out;
	/* "..., Signature=<64 hex>" ends the Authorization value. */
	sig = auth.len ? strstr((const char *)auth.data, "Signature=") : NULL;
	if (!sig || strlen(sig + 10) != 64) {
		rc =
		    stow_err_set(STOW_EINVAL, "presign: no signature produced");
		goto out;
	}
	/* The parameters in the order botocore writes them (the
	 * signature covers their sorted form, so any order verifies; this
	 * one makes our URLs byte-identical to botocore's), signature last. */
	params[np++] = (stow_sigv4_kv){"X-Amz-Signature", sig + 10};
	rc = stow_sigv4_canonical_uri(&curi, (const char *)t.path.data, false);
	for (size_t i = 0; rc == 0 && i < np; i++) {
		rc = stow_buf_printf(&q, "%s%s=", i ? "&" : "", params[i].name);
		if (rc == 0)
			rc = stow_sigv4_uri_encode(&q, params[i].value,
						   strlen(params[i].value),
						   false);
	}
	if (rc == 0)
		rc = stow_buf_printf(url, "%s%s?%s", (const char *)t.base.data,
				     (const char *)curi.data,
				     (const char *)q.data);
out:
	target_free(&t);
	return rc;
}
