/* The request kinds the CLI creates and waits on (velero-spec §1.10,
 * §1.11):
 *
 * DownloadRequest: spec.target {kind, name} -> status.downloadURL for the
 * object of that backup or restore in its location, phase Processed,
 * expiration now + 10 min; expired requests are deleted. S3 locations
 * answer with a presigned GET URL (storage/presign.h). Filesystem
 * locations have no URL the CLI's machine could fetch, so objects up to
 * INLINE_MAX come inline as an RFC 2397 data: URL (base64 of the stored
 * bytes, still gzip where the object is); bigger ones get
 * "stowage-fs://<bsl>/<key>", which only a CLI that sees the same
 * directory can read (docs/server-locations.md).
 *
 * ServerStatusRequest: phase Processed, serverVersion, processedTimestamp,
 * plugins (our built-in object stores, as Velero lists its plugins);
 * deleted one minute after processing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/err.h"
#include "velero/bsl.h"
#include "velero/controllers.h"
#include "velero/layout.h"

#define DR_PLURAL "downloadrequests"
#define SSR_PLURAL "serverstatusrequests"
/* Velero's persistence.DownloadURLTTL. */
#define DOWNLOAD_TTL_S 600
/* Velero's ServerStatusRequest TTL. */
#define SSR_TTL_S 60
/* Largest object put inline into a DownloadRequest: its base64 (4/3) must
 * keep the object well under etcd's 1.5 MiB request limit. */
#define INLINE_MAX ((size_t)768 << 10)

static const char *jstr(const json_t *o, const char *a, const char *b)
{
	const json_t *v = json_object_get(o, a);

	return json_string_value(b ? json_object_get(v, b) : v);
}

static int requeue_ms(long s)
{
	if (s < 1)
		s = 1;
	if (s > 86400)
		s = 86400;
	return (int)(s * 1000);
}

static int patch_status(stow_velero_server *srv, const char *plural,
			const char *ns, const char *name, json_t *status)
{
	const stow_kube_resource *r = stow_velero_server_res(srv, plural);
	json_t *patch = json_pack("{s:o}", "status", status);
	char *body = patch ? json_dumps(patch, JSON_COMPACT) : NULL;
	int rc;

	json_decref(patch);
	if (!body)
		return stow_err_set(STOW_ENOMEM, "out of memory");
	if (!r) {
		free(body);
		return stow_err_set(STOW_ENOTFOUND,
				    "the CRD of %s.velero.io is not installed",
				    plural);
	}
	/* No status subresource on Velero's CRDs: a merge patch of the
	 * object, as Velero writes status. */
	rc = stow_kube_patch(stow_velero_server_kube(srv), r, ns, name,
			     STOW_KUBE_PATCH_MERGE, body, false, NULL);
	free(body);
	return rc == STOW_ENOTFOUND ? 0 : rc;
}

static int delete_obj(stow_velero_server *srv, const char *plural,
		      const char *ns, const char *name)
{
	const stow_kube_resource *r = stow_velero_server_res(srv, plural);
	int rc;

	if (!r)
		return 0;
	rc = stow_kube_delete(stow_velero_server_kube(srv), r, ns, name, NULL,
			      NULL);
	return rc == STOW_ENOTFOUND ? 0 : rc;
}

/* --- DownloadRequest ---------------------------------------------------- */

static char *base64(const uint8_t *p, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
		*o++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? tab[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

/* The URL of key in a filesystem location: inline when small enough. */
static int fs_url(const stow_velero_location *loc, const char *bsl_name,
		  const char *key, char **url)
{
	uint64_t size = 0;
	stow_buf b;
	char *enc;
	int rc;

	rc = stow_store_stat(loc->store, key, &size);
	if (rc == 0 && size <= INLINE_MAX) {
		stow_buf_init(&b, INLINE_MAX);
		rc = stow_store_get(loc->store, key, 0, STOW_RANGE_END, &b);
		if (rc < 0) {
			stow_buf_free(&b);
			return rc;
		}
		enc = base64(b.data, b.len);
		stow_buf_free(&b);
		if (!enc || asprintf(url,
				     "data:application/octet-stream;"
				     "base64,%s",
				     enc) < 0) {
			free(enc);
			*url = NULL;
			return stow_err_set(STOW_ENOMEM, "out of memory");
		}
		free(enc);
		return 0;
	}
	if (rc < 0 && rc != STOW_ENOTFOUND)
		return rc;
	/* Missing (the CLI reports it) or too big to pass through the
	 * API: name it for a CLI that sees the directory. */
	if (asprintf(url, "stowage-fs://%s/%s", bsl_name, key) < 0) {
		*url = NULL;
		return stow_err_set(STOW_ENOMEM, "out of memory");
	}
	return 0;
}

/* The download URL of one target. */
static int download_url(stow_velero_server *srv, const char *ns,
			const char *kind, const char *target, char **url)
{
	const char *backup_name = target;
	json_t *restore = NULL, *backup, *bsl = NULL;
	_cleanup_free_ char *bsl_name = NULL;
	char key[STOW_VELERO_KEY_MAX];
	stow_velero_location loc;
	int rc;

	if (!strncmp(kind, "Restore", 7)) {
		restore = stow_velero_server_get(srv, "restores", ns, target);
		if (!restore)
			return stow_err_set(STOW_ENOTFOUND,
					    "restore %s/%s not found", ns,
					    target);
		backup_name = jstr(restore, "spec", "backupName");
		if (!backup_name || !*backup_name) {
			json_decref(restore);
			return stow_err_set(STOW_EINVAL,
					    "restore %s/%s names no backup", ns,
					    target);
		}
	}
	backup = stow_velero_server_get(srv, "backups", ns, backup_name);
	if (!backup) {
		rc = stow_err_set(STOW_ENOTFOUND, "backup %s/%s not found", ns,
				  backup_name);
		json_decref(restore);
		return rc;
	}
	{
		const char *l = jstr(backup, "spec", "storageLocation");

		bsl_name =
		    l && *l ? strdup(l) : stow_velero_default_location(srv);
	}
	json_decref(backup);
	json_decref(restore);
	if (!bsl_name)
		return stow_err_set(STOW_ENOTFOUND,
				    "backup %s/%s has no storage location and "
				    "there is no default one",
				    ns, backup_name);
	rc = stow_velero_server_location(srv, bsl_name, &loc, &bsl);
	if (rc == 0)
		rc = stow_velero_download_key(&loc, kind, target, key,
					      sizeof(key));
	if (rc == 0 &&
	    stow_velero_bsl_provider(bsl) == STOW_VELERO_PROVIDER_AWS)
		rc = stow_velero_location_presign(srv, bsl_name, key,
						  DOWNLOAD_TTL_S, url);
	else if (rc == 0)
		rc = fs_url(&loc, bsl_name, key, url);
	json_decref(bsl);
	return rc;
}

static int reconcile_download(stow_velero_server *srv, void *ctx,
			      const char *ns, const char *name)
{
	json_t *dr = stow_velero_server_get(srv, DR_PLURAL, ns, name);
	const char *phase, *exp_s, *kind, *target;
	char *url = NULL;
	char exp_buf[32];
	time_t now = time(NULL), exp = 0;
	int rc;

	(void)ctx;
	if (!dr)
		return 0;
	phase = jstr(dr, "status", "phase");
	exp_s = jstr(dr, "status", "expiration");
	if (exp_s && stow_velero_time_parse(exp_s, &exp) == 0) {
		if (exp <= now) {
			/* Expired, whatever the phase (Velero's rule). */
			json_decref(dr);
			return delete_obj(srv, DR_PLURAL, ns, name);
		}
		if (phase && !strcmp(phase, "Processed")) {
			json_decref(dr);
			return requeue_ms((long)(exp - now) + 1);
		}
	}
	kind = json_string_value(json_object_get(
	    json_object_get(json_object_get(dr, "spec"), "target"), "kind"));
	target = json_string_value(json_object_get(
	    json_object_get(json_object_get(dr, "spec"), "target"), "name"));
	if (!kind || !target)
		rc = stow_err_set(STOW_EINVAL,
				  "spec.target needs a kind and a name");
	else
		rc = download_url(srv, ns, kind, target, &url);
	stow_velero_time_format(time(NULL) + DOWNLOAD_TTL_S, exp_buf);
	if (rc < 0) {
		/* Give the request an expiration so that it goes away like
		 * any other, and retry (with backoff) until then. */
		char msg[512];

		snprintf(msg, sizeof(msg), "%s", stow_err_msg());
		if (!exp_s)
			(void)patch_status(
			    srv, DR_PLURAL, ns, name,
			    json_pack("{s:s}", "expiration", exp_buf));
		json_decref(dr);
		return stow_err_set(rc, "download request %s/%s: %s", ns, name,
				    msg);
	}
	rc = patch_status(srv, DR_PLURAL, ns, name,
			  json_pack("{s:s, s:s, s:s}", "phase", "Processed",
				    "downloadURL", url, "expiration", exp_buf));
	free(url);
	if (rc == 0)
		stow_velero_log(srv, STOW_VLOG_INFO, "download-request",
				"download request processed", "downloadrequest",
				name, "kind", kind, "target", target, NULL);
	json_decref(dr);
	return rc < 0 ? rc : requeue_ms(DOWNLOAD_TTL_S + 1);
}

static stow_velero_controller dr_ctl = {
    .name = "download-request",
    .resource = DR_PLURAL,
    .workers = 2,
    /* Catches expirations missed while not leading. */
    .resync_ms = 60000,
    .reconcile = reconcile_download,
};

const stow_velero_controller *stow_velero_ctl_download_request(void)
{
	return &dr_ctl;
}

/* --- ServerStatusRequest --------------------------------------------- */

static int reconcile_ssr(stow_velero_server *srv, void *ctx, const char *ns,
			 const char *name)
{
	json_t *ssr = stow_velero_server_get(srv, SSR_PLURAL, ns, name);
	const char *phase;
	char now_s[32];
	time_t now = time(NULL), processed = 0;
	int rc;

	(void)ctx;
	if (!ssr)
		return 0;
	phase = jstr(ssr, "status", "phase");
	if (phase && !strcmp(phase, "Processed")) {
		rc = stow_velero_time_parse(
		    jstr(ssr, "status", "processedTimestamp"), &processed);
		json_decref(ssr);
		if (rc == 0 && processed + SSR_TTL_S > now)
			return requeue_ms((long)(processed + SSR_TTL_S - now));
		return delete_obj(srv, SSR_PLURAL, ns, name);
	}
	json_decref(ssr);
	stow_velero_time_format(now, now_s);
	rc = patch_status(
	    srv, SSR_PLURAL, ns, name,
	    json_pack("{s:s, s:s, s:s, s:[{s:s, s:s}, {s:s, s:s}]}", "phase",
		      "Processed", "serverVersion", STOW_VERSION,
		      "processedTimestamp", now_s, "plugins", "name",
		      "velero.io/aws", "kind", "ObjectStore", "name",
		      "stowage.io/filesystem", "kind", "ObjectStore"));
	return rc < 0 ? rc : requeue_ms(SSR_TTL_S);
}

static stow_velero_controller ssr_ctl = {
    .name = "server-status-request",
    .resource = SSR_PLURAL,
    .workers = 1,
    .resync_ms = 60000,
    .reconcile = reconcile_ssr,
};

const stow_velero_controller *stow_velero_ctl_server_status_request(void)
{
	return &ssr_ctl;
}
