/* Velero's object-store layout over a blob store (velero-spec §2).
 *
 * A BackupStorageLocation is a store plus a prefix inside it: every key
 * below is "<prefix>/backups/<name>/..." or "<prefix>/restores/<name>/..."
 * (no prefix: at the store's root). This module names the objects, reads
 * and writes the metadata objects in Velero's encodings (gzjson.h), lists
 * the backups of a location, deletes a backup's objects, and validates a
 * location's top level. The tarball is tarball.h.
 *
 * Names: backup and restore names are Kubernetes object names, DNS-1123
 * subdomains (lowercase alphanumerics, '-' and '.', at most 253, starting
 * and ending alphanumeric); anything else is STOW_EINVAL, so a name can
 * never form a path ("..", "/", empty).
 *
 * Untrusted input: everything read back from the location (velero-backup
 * .json, gzip JSON, listings) is hostile; reads are capped and bad bytes
 * are STOW_ECORRUPT.
 *
 * Thread safety: a location is immutable after init and may be shared;
 * the functions are as thread-safe as the store. */
#ifndef STOW_VELERO_LAYOUT_H
#define STOW_VELERO_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "storage/storage.h"

#define STOW_VELERO_NAME_MAX 253
#define STOW_VELERO_PREFIX_MAX 256
/* Longest key the layout builds; the store caps keys at 1024 too. */
#define STOW_VELERO_KEY_MAX 1024
/* Cap on velero-backup.json as read back. */
#define STOW_VELERO_BACKUP_JSON_MAX ((size_t)16 << 20)

typedef struct stow_velero_location {
	stow_store *store;		     /* borrowed */
	char prefix[STOW_VELERO_PREFIX_MAX]; /* "" or "a/b/" */
} stow_velero_location;

/* The objects of backups/<name>/ (§2.2). */
typedef enum stow_velero_backup_obj {
	STOW_VELERO_BACKUP_METADATA,	  /* velero-backup.json */
	STOW_VELERO_BACKUP_CONTENTS,	  /* <name>.tar.gz */
	STOW_VELERO_BACKUP_LOG,		  /* <name>-logs.gz */
	STOW_VELERO_BACKUP_RESULTS,	  /* <name>-results.gz */
	STOW_VELERO_BACKUP_RESOURCE_LIST, /* <name>-resource-list.json.gz */
	STOW_VELERO_BACKUP_PODVOLUMEBACKUPS,
	STOW_VELERO_BACKUP_VOLUMESNAPSHOTS,
	STOW_VELERO_BACKUP_ITEMOPERATIONS,
	STOW_VELERO_BACKUP_VOLUMEINFO,
	/* Legacy, read only (written by Velero before 1.17/1.18). */
	STOW_VELERO_BACKUP_CSI_VOLUMESNAPSHOTS,
	STOW_VELERO_BACKUP_CSI_VOLUMESNAPSHOTCONTENTS,
	STOW_VELERO_BACKUP_CSI_VOLUMESNAPSHOTCLASSES,
	STOW_VELERO_BACKUP_OBJ_COUNT
} stow_velero_backup_obj;

/* The objects of restores/<name>/ (§2.3). */
typedef enum stow_velero_restore_obj {
	STOW_VELERO_RESTORE_LOG,	   /* restore-<name>-logs.gz */
	STOW_VELERO_RESTORE_RESULTS,	   /* restore-<name>-results.gz */
	STOW_VELERO_RESTORE_RESOURCE_LIST, /* restore-<name>-resource-list.json.gz
					    */
	STOW_VELERO_RESTORE_ITEMOPERATIONS,
	STOW_VELERO_RESTORE_VOLUMEINFO, /* <name>-volumeinfo.json.gz (no prefix)
					 */
	STOW_VELERO_RESTORE_OBJ_COUNT
} stow_velero_restore_obj;

/* 1 if name is a DNS-1123 subdomain of at most 253 characters. */
int stow_velero_name_valid(const char *name);

/* Bind a location to a store and a prefix. Slashes around the prefix are
 * trimmed; NULL or "" is the store's root; the rest must be a valid store
 * key of at most STOW_VELERO_PREFIX_MAX - 2 characters, else STOW_EINVAL. */
int stow_velero_location_init(stow_velero_location *loc, stow_store *store,
			      const char *prefix);

/* Key of one object of a backup or restore into out (outsz bytes).
 * STOW_EINVAL for a bad name or object, or when out is too small. */
int stow_velero_backup_key(const stow_velero_location *loc, const char *name,
			   stow_velero_backup_obj obj, char *out, size_t outsz);
int stow_velero_restore_key(const stow_velero_location *loc, const char *name,
			    stow_velero_restore_obj obj, char *out,
			    size_t outsz);
/* Key of a DownloadRequest target: kind as in Velero's
 * DownloadTargetKind ("BackupLog", "BackupContents", "BackupResults",
 * "BackupResourceList", "BackupVolumeSnapshots", "BackupItemOperations",
 * "BackupVolumeInfos", "CSIBackupVolumeSnapshots",
 * "CSIBackupVolumeSnapshotContents", "RestoreLog", "RestoreResults",
 * "RestoreResourceList", "RestoreItemOperations", "RestoreVolumeInfo").
 * STOW_EINVAL for an unknown kind. */
int stow_velero_download_key(const stow_velero_location *loc, const char *kind,
			     const char *name, char *out, size_t outsz);

/* Write velero-backup.json: the Backup object as indented JSON with
 * apiVersion "velero.io/v1" and kind "Backup" first (set when missing,
 * STOW_EINVAL when different). Not gzipped (§2.2). */
int stow_velero_put_backup_json(const stow_velero_location *loc,
				const char *name, const json_t *backup);
/* Read it back: STOW_ENOTFOUND when the backup does not exist,
 * STOW_ECORRUPT when it is not a JSON object of kind Backup. *out is the
 * caller's reference. */
int stow_velero_get_backup_json(const stow_velero_location *loc,
				const char *name, json_t **out);

/* Write or read any gzip JSON object by key (see gzjson.h). max_out 0
 * means STOW_VELERO_GZ_MAX_OUT. */
int stow_velero_put_gzjson(const stow_velero_location *loc, const char *key,
			   const json_t *v);
int stow_velero_get_gzjson(const stow_velero_location *loc, const char *key,
			   size_t max_out, json_t **out);

/* Backups present in the location, for backup sync: every valid name
 * under backups/, in byte order, once, with has_metadata set when its
 * velero-backup.json exists (Velero treats only those as backups).
 * Non-conforming names are skipped. A negative return from cb stops the
 * walk and is returned. Memory: the names, not the objects. Cost: one
 * delimiter listing of backups/ and one stat per backup. */
typedef int (*stow_velero_backup_list_cb)(void *ctx, const char *name,
					  int has_metadata);
int stow_velero_list_backups(const stow_velero_location *loc,
			     stow_velero_backup_list_cb cb, void *ctx);

/* Delete every object under backups/<name>/ (or restores/<name>/).
 * Objects that vanish meanwhile are not errors. *deleted (may be NULL)
 * counts the objects removed. A backup with no objects is not an error:
 * *deleted is 0. */
int stow_velero_delete_backup(const stow_velero_location *loc, const char *name,
			      size_t *deleted);
int stow_velero_delete_restore(const stow_velero_location *loc,
			       const char *name, size_t *deleted);

/* Validate a location (§2.1): its top level may hold only the prefixes
 * backups/ restores/ restic/ metadata/ plugins/ kopia/ (objects directly
 * at the top are ignored, as Velero lists common prefixes only). Returns
 * 0 and sets reason[0] = '\0' when valid; 0 with a reason ("unexpected
 * top-level prefix \"x/\" ...") when not; a negative code when the store
 * cannot be listed. Cost: one delimiter listing of the location's top
 * level (stow_store_list_shallow), whatever lies below. */
int stow_velero_location_validate(const stow_velero_location *loc, char *reason,
				  size_t reasonsz);

/* Results objects ({"errors": Result, "warnings": Result}, Result =
 * {velero: [], cluster: [], namespaces: {ns: []}}). Go writes every
 * member with omitempty, so an empty Result is {} and members appear
 * with their first message. */
json_t *stow_velero_results_new(void);
typedef enum stow_velero_result_scope {
	STOW_VELERO_SCOPE_VELERO,
	STOW_VELERO_SCOPE_CLUSTER,
	STOW_VELERO_SCOPE_NAMESPACE,
} stow_velero_result_scope;
/* Append msg to errors (warning 0) or warnings (warning 1) under scope;
 * ns names the namespace for STOW_VELERO_SCOPE_NAMESPACE. */
int stow_velero_results_add(json_t *results, int warning,
			    stow_velero_result_scope scope, const char *ns,
			    const char *msg);
/* Number of messages in errors or warnings; tolerant of missing members
 * (results read back are untrusted: wrong shapes count as 0). */
size_t stow_velero_results_count(const json_t *results, int warning);

/* Resource lists: "<apiVersion>/<Kind>" -> sorted ["ns/name" | "name"].
 * add appends one entry (action non-NULL for restores: "ns/name(created)");
 * finish sorts every list and removes duplicates, ready to write. */
json_t *stow_velero_resource_list_new(void);
int stow_velero_resource_list_add(json_t *list, const char *api_version,
				  const char *kind, const char *ns,
				  const char *name, const char *action);
int stow_velero_resource_list_finish(json_t *list);

#endif
