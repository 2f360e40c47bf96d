/* Long operations of the vault: snapshot, restore, check, and the
 * read-only views (ls, diff, stats). Each reports progress through an
 * optional callback and returns the error model's codes. */
#ifndef STOW_VAULT_OPS_H
#define STOW_VAULT_OPS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "vault/snapshot.h"
#include "vault/tree.h"
#include "vault/vault.h"

/* Progress, called at most a few times per second from any thread
 * (serialised by the caller of the op). done=1 on the final call. */
typedef struct stow_progress {
	uint64_t files_done, bytes_done;
	uint64_t files_total, bytes_total; /* 0 if unknown */
	uint64_t errors;
	double elapsed;
	bool done;
} stow_progress;
typedef void (*stow_progress_cb)(void *ctx, const stow_progress *p);

/* Problems that do not stop an operation (an unreadable file, a damaged
 * blob during restore) are reported here, one message each. */
typedef void (*stow_warn_cb)(void *ctx, const char *msg);

typedef struct stow_backup_opts {
	const char *path;  /* source directory */
	const char *host;  /* NULL: gethostname() */
	stow_tag *tags;
	size_t ntags;
	const stow_comp_spec *comp; /* NULL: the repository's default */
	bool no_parent;    /* read every file even if unchanged */
	stow_progress_cb progress;
	stow_warn_cb warn;
	void *cb_ctx;
} stow_backup_opts;

/* Snapshot opts->path. On success *snap holds the saved manifest.
 * Returns 0, or STOW_EPARTIAL when some entries were skipped (the snapshot
 * is saved and marked partial), or a negative error (nothing saved). */
int stow_vault_backup(stow_repo *r, const stow_backup_opts *o,
		      stow_snapshot *snap);

typedef struct stow_restore_opts {
	const char *target;  /* created if missing; must be empty or new */
	const char *subpath; /* NULL or "" for all; else a path in the snapshot */
	bool owner;          /* restore uid/gid (default: when root) */
	stow_progress_cb progress;
	stow_warn_cb warn;
	void *cb_ctx;
} stow_restore_opts;

typedef struct stow_restore_stats {
	uint64_t files, dirs, symlinks, others, bytes, errors;
} stow_restore_stats;

/* Restore snapshot `snap_id` (full ID). Damaged blobs skip the affected
 * files with a warning and give STOW_EPARTIAL; unaffected files are
 * restored intact. */
int stow_vault_restore(stow_repo *r, const char *snap_id,
		       const stow_restore_opts *o, stow_restore_stats *st);

typedef struct stow_check_opts {
	bool read_data;
	stow_warn_cb problem; /* each problem found, one message */
	stow_progress_cb progress;
	void *cb_ctx;
} stow_check_opts;

/* Verify the repository. *problems receives the number found. Returns 0
 * even when problems are found (unless the check itself could not run). */
int stow_vault_check(stow_repo *r, const stow_check_opts *o,
		     uint64_t *problems);

/* Call cb for each entry of the directory `path` ("" or "/" for the root)
 * in snapshot snap_id. */
typedef int (*stow_ls_cb)(void *ctx, const char *path, const stow_node *n);
int stow_vault_ls(stow_repo *r, const char *snap_id, const char *path,
		  bool recursive, stow_ls_cb cb, void *ctx);

/* Differences between two snapshots: cb(ctx, '+'|'-'|'M', path), in
 * path order. */
typedef int (*stow_diff_cb)(void *ctx, char what, const char *path);
int stow_vault_diff(stow_repo *r, const char *id_a, const char *id_b,
		    stow_diff_cb cb, void *ctx);

typedef struct stow_repo_stats {
	uint64_t snapshots, packs, data_packs, meta_packs, blobs, data_blobs,
		tree_blobs, stored_bytes, raw_bytes, pack_bytes, index_objects;
	uint64_t logical_bytes; /* sum of file sizes over all snapshots */
} stow_repo_stats;
int stow_vault_stats(stow_repo *r, stow_repo_stats *s);

/* Delete packs no snapshot references (and rewrite nothing: packs are
 * removed whole only when every blob in them is unreferenced). */
typedef struct stow_gc_stats {
	uint64_t packs_deleted, bytes_freed, packs_kept;
} stow_gc_stats;
int stow_vault_gc(stow_repo *r, bool dry_run, stow_gc_stats *st);

#endif
