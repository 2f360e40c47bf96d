/* Leases stored in the repository, so that gc never deletes what a
 * running backup may still reference, across processes and hosts, with no
 * reliance on flock (NFS) or on a host name.
 *
 *   locks/writer-<16 hex>   one per running backup (many may exist)
 *   locks/gc                at most one (exclusive create)
 *
 * Protocol (two flags, each side writes its own then looks for the
 * other's, so at least one of two racing parties sees the other and backs
 * off): a writer creates its lease, then fails with STOW_ELOCKED if
 * locks/gc exists and is live; gc creates locks/gc exclusively, then fails
 * with STOW_ELOCKED if any live writer lease exists. A lease is live until
 * its expiry time; its holder rewrites it every STOW_LEASE_RENEW seconds
 * from a heartbeat thread, pushing the expiry STOW_LEASE_TTL seconds
 * ahead. A crashed holder's lease expires and is then ignored and removed.
 * Expiry compares clocks of different hosts: keep them within a minute
 * (NTP). Lease objects are sealed (kind 4) like all metadata. */
#ifndef STOW_VAULT_LEASE_H
#define STOW_VAULT_LEASE_H

#include "vault/vault.h"

#define STOW_LEASE_TTL 600
#define STOW_LEASE_RENEW 60

typedef struct stow_lease stow_lease;

/* Take a writer lease (for snapshot create). STOW_ELOCKED if gc runs. */
int stow_lease_writer(stow_lease **out, stow_repo *r);
/* Take the gc lease. STOW_ELOCKED if a backup or another gc runs. */
int stow_lease_gc(stow_lease **out, stow_repo *r);
/* Stop the heartbeat and delete the lease object. NULL is fine. */
void stow_lease_release(stow_lease *l);
/* For an interrupted process about to exit: delete every lease object it
 * holds, from whatever thread handles the interruption (not from a signal
 * handler). Leases stay unusable afterwards. */
void stow_lease_abandon_all(void);

#endif
