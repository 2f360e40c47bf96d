/* Snapshot manifests: what a snapshot is (source, time, tags, root tree,
 * statistics), stored as sealed JSON at snapshots/<64 hex ID>. */
#ifndef STOW_VAULT_SNAPSHOT_H
#define STOW_VAULT_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include "vault/vault.h"

#define STOW_SNAPSHOT_TAGS_MAX 256

typedef struct stow_tag {
	char *key, *value;
} stow_tag;

typedef struct stow_snapshot_stats {
	uint64_t files, dirs, symlinks, others;
	uint64_t bytes;          /* total size of regular files */
	uint64_t files_reused;   /* unchanged since the parent: not read */
	uint64_t bytes_read;     /* file bytes actually read */
	uint64_t blobs_new;
	uint64_t bytes_new_raw;  /* plaintext of new blobs */
	uint64_t bytes_new_stored; /* what they cost in packs */
	uint64_t errors;         /* entries skipped (unreadable) */
	double seconds;
} stow_snapshot_stats;

typedef struct stow_snapshot {
	char id[65];          /* 64 hex */
	int64_t time_sec;     /* start, unix */
	uint32_t time_nsec;
	int64_t end_sec;
	char *host;
	char *path;           /* absolute source path */
	stow_tag *tags;
	size_t ntags;
	uint8_t root[STOW_ID_LEN];
	char parent[65];      /* "" if none */
	bool partial;
	stow_snapshot_stats stats;
	char **errors;        /* first few skipped-entry messages */
	size_t nerrors;
} stow_snapshot;

void stow_snapshot_free(stow_snapshot *s);
/* Serialise to / parse from the JSON stored inside the sealed object.
 * Parsing validates every field (hostile input). */
int stow_snapshot_to_json(const stow_snapshot *s, stow_buf *out);
int stow_snapshot_from_json(stow_snapshot *s, const uint8_t *json,
			    size_t len);

/* Write a new snapshot (s->id is filled with a fresh random ID). */
int stow_snapshot_save(stow_repo *r, stow_snapshot *s);
/* Load one by full ID. */
int stow_snapshot_load(stow_repo *r, const char *id, stow_snapshot *s);
/* Load all, sorted by time (oldest first). Damaged manifests are skipped
 * and counted in *damaged (may be NULL). */
int stow_snapshot_load_all(stow_repo *r, stow_snapshot **out, size_t *n,
			   size_t *damaged);
void stow_snapshot_free_all(stow_snapshot *v, size_t n);
/* Resolve "latest", a full ID or a unique prefix (>= 4 hex) to a full ID.
 * STOW_ENOTFOUND, or STOW_EINVAL when a prefix is ambiguous. */
int stow_snapshot_resolve(stow_repo *r, const char *ref, char id[65]);
int stow_snapshot_delete(stow_repo *r, const char *id);

/* Newest snapshot of the same host and path, for incremental reuse.
 * STOW_ENOTFOUND if none. */
int stow_snapshot_find_parent(stow_repo *r, const char *host,
			      const char *path, stow_snapshot *s);

/* Parse "k=v" into a tag (STOW_EINVAL naming the problem). */
int stow_tag_parse(const char *kv, stow_tag *t);

#endif
