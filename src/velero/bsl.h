/* BackupStorageLocations (velero-spec §1.4): their storage, their
 * controller, and small helpers the other controllers share.
 *
 * Providers:
 *   aws, velero.io/aws         S3 (storage/s3.h) with the bucket of
 *                              spec.objectStorage and Velero's config keys
 *                              (region, s3Url, s3ForcePathStyle,
 *                              insecureSkipTLSVerify, profile, publicUrl,
 *                              ...); credentials from spec.credential (a
 *                              Secret key in the server's namespace holding
 *                              an AWS credentials file) or else the server's
 *                              own ($AWS_SHARED_CREDENTIALS_FILE, as Velero's
 *                              mounted cloud-credentials secret sets it);
 *                              CA from objectStorage.caCert / caCertRef.
 *   filesystem,                spec.objectStorage.bucket (or config.path)
 *   stowage.io/filesystem      is a directory under the server's --fs-root
 *                              (a local disk or an NFS mount in the pod).
 * In both, spec.objectStorage.prefix is the location's prefix (layout.h).
 *
 * Stores are cached per BSL name and spec (and, for validation, the
 * credentials Secret's resourceVersion); a store superseded by a change
 * stays open until the process exits, so a location handed out by
 * stow_velero_server_location() stays valid for as long as the server
 * runs: callers borrow it and never close it.
 *
 * Thread-safe. */
#ifndef STOW_VELERO_BSL_H
#define STOW_VELERO_BSL_H

#include <jansson.h>
#include <time.h>

#include "velero/server.h"

#define STOW_VELERO_BSL_PLURAL "backupstoragelocations"
/* Label Velero puts on Backups (and we on synced ones). */
#define STOW_VELERO_LABEL_STORAGE_LOCATION "velero.io/storage-location"

typedef enum stow_velero_provider {
	STOW_VELERO_PROVIDER_UNKNOWN,
	STOW_VELERO_PROVIDER_AWS,
	STOW_VELERO_PROVIDER_FS,
} stow_velero_provider;

/* spec.provider of a BSL object. */
stow_velero_provider stow_velero_bsl_provider(const json_t *bsl);

/* 1 when writes to the location are allowed: spec.accessMode is not
 * "ReadOnly" (Velero's default is ReadWrite). Callers that write
 * (backups, deletions, GC) refuse ReadOnly locations themselves. */
int stow_velero_location_writable(const json_t *bsl);

/* 1 when status.phase is "Available". */
int stow_velero_location_available(const json_t *bsl);

/* A presigned GET URL (valid ttl_s seconds) of key, a key of the
 * location as layout.h builds them, for an S3 BSL; publicUrl from the
 * BSL's config replaces s3Url in the URL when set, as in Velero.
 * STOW_EUNSUPPORTED for a filesystem BSL; errors as
 * stow_velero_server_location(). *url is the caller's (free()). */
int stow_velero_location_presign(stow_velero_server *srv, const char *bsl_name,
				 const char *key, long ttl_s, char **url);

/* The name of the default BSL: the one with spec.default, else the one
 * named by --default-backup-storage-location if it exists. NULL when
 * there is none (caller frees). */
char *stow_velero_default_location(stow_velero_server *srv);

/* The BackupStorageLocation controller: validation (phase, message,
 * lastValidationTime, accessMode) every --store-validation-frequency or
 * spec.validationFrequency, one default location. */
const stow_velero_controller *stow_velero_ctl_bsl(void);

/* RFC 3339 UTC ("2026-11-25T17:09:12Z") as Kubernetes writes metav1.Time. */
void stow_velero_time_format(time_t t, char out[32]);
/* Parse one (fractions and numeric offsets accepted). STOW_EINVAL. */
int stow_velero_time_parse(const char *s, time_t *out);

#endif
