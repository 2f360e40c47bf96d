#!/usr/bin/env bash
# `stowage server`: Schedules, TTL and GFS expiry, DeleteBackupRequests.
#
# On kubesim with the real kubectl: the velero.io CRDs, namespace velero, a
# filesystem BackupStorageLocation `default` at a temp dir (and a ReadOnly
# one), the server in the background with --garbage-collection-frequency
# 2s. Then, checked from outside with kubectl and the location's files:
#   - Schedule `ttl` (@every 5s, template ttl 12s, template labels and
#     annotations, useOwnerReferencesInBackup): backups named
#     ttl-YYYYMMDDHHMMSS five seconds apart, with the schedule label, the
#     template's labels, an owner reference; they complete and are in the
#     location; status.lastBackup and phase Enabled; paused, it makes no
#     more; after the TTL GC removes them from the cluster and the
#     location.
#   - Schedule `gfs` (@every 3s, ttl 1h, stowage.io/retention "last=2"):
#     of its completed backups only the two newest stay, in the cluster
#     and in the location.
#   - Schedule `later`: created paused, no backups; unpaused with
#     skipImmediately the overdue activation is skipped (lastSkipped set,
#     the spec flag back to false) and the first backup comes one period
#     after the unpause.
#   - Invalid cron expressions and retention annotations: FailedValidation
#     with a message.
#   - A manual DeleteBackupRequest removes a backup, its objects, a Restore
#     made from it with its restores/<name>/ objects, and the requests;
#     requests for a missing backup and for a backup in a ReadOnly
#     location end Processed with the reason in status.errors.
#
# Runs itself under tests/kube/with_kubesim.sh. Skips (exit 0 with a note)
# without kubectl.
set -euo pipefail

if [[ -z ${STOW_KUBESIM_DIR:-} ]]; then
	if ! command -v kubectl >/dev/null 2>&1; then
		echo "NOTE: kubectl not installed: skipping"
		exit 0
	fi
	here=$(cd "$(dirname "$0")" && pwd)
	exec bash "${STOW_TESTS:-$here/..}/kube/with_kubesim.sh" bash "$0" "$@"
fi

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
require_binary

ROOT=$(cd "$TESTS_DIR/.." && pwd)
LOC=$T/location
mkdir -p "$T/home" "$LOC"
export HOME=$T/home # kubectl's discovery cache, never ~/.kube

# k ARGS...: kubectl with a timeout; sets RC, OUT, ERR
k()
{
	set +e
	timeout -k 5 60 kubectl --request-timeout=20s "$@" </dev/null >"$T/.out" 2>"$T/.err"
	RC=$?
	set -e
	OUT=$(cat "$T/.out")
	ERR=$(cat "$T/.err")
	return 0
}

# apply YAML-TEXT: kubectl apply -f - ; dies on failure
apply()
{
	set +e
	printf '%s\n' "$1" | timeout -k 5 60 kubectl --request-timeout=20s apply -f - >"$T/.out" 2>"$T/.err"
	RC=$?
	set -e
	[[ $RC == 0 ]] || { show_output; die "kubectl apply: $(head -c 300 "$T/.err")"; }
}

# get KIND NAME JSONPATH: one field of an object in velero
get()
{
	k -n velero get "$1" "$2" -o "jsonpath=$3"
	printf '%s' "$OUT"
}

# backups SELECTOR: names of the matching Backups, sorted, one a line
backups()
{
	k -n velero get backups -l "$1" -o 'jsonpath={range .items[*]}{.metadata.name}{"\n"}{end}'
	printf '%s\n' "$OUT" | sed '/^$/d' | sort
}

# stored PREFIX: names of the backups with objects under backups/ in the
# location, sorted (the filesystem store leaves empty directories behind)
stored()
{
	if [[ -d $LOC/backups ]]; then
		find "$LOC/backups" -mindepth 2 -type f -path "$LOC/backups/$1*" -printf '%h\n' |
			sed 's|.*/||' | sort -u
	fi
}

# created SCHEDULE: names of the backups the server created for it, sorted
created()
{
	grep -oE "created backup for schedule.* backup=$1-[0-9]+" "$T/server.log" |
		grep -oE "$1-[0-9]+\$" | sort -u
}

# wait_for SECONDS COMMAND...: until COMMAND succeeds; 1 on timeout
wait_for()
{
	local end=$((SECONDS + $1))
	shift
	while ((SECONDS < end)); do
		if "$@"; then return 0; fi
		sleep 0.5
	done
	"$@"
}

# ts_of NAME: Unix time of the YYYYMMDDHHMMSS suffix
ts_of()
{
	local s=${1##*-}
	date -u -d "${s:0:8} ${s:8:2}:${s:10:2}:${s:12:2}" +%s
}

START=$(date +%s)

# ---------------------------------------------------------------- setup
k apply -k "$ROOT/deploy/crds"
[[ $RC == 0 ]] || { show_output; die "kubectl apply -k deploy/crds"; }
k wait --for condition=established --timeout=20s crd -l component=velero
k create namespace velero
[[ $RC == 0 ]] || die "create namespace velero"
apply "apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata:
  name: default
  namespace: velero
spec:
  provider: filesystem
  default: true
  objectStorage:
    bucket: $LOC
---
apiVersion: velero.io/v1
kind: BackupStorageLocation
metadata:
  name: readonly
  namespace: velero
spec:
  provider: filesystem
  accessMode: ReadOnly
  objectStorage:
    bucket: $T/ro-location
---
apiVersion: v1
kind: Namespace
metadata:
  name: app
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: app
data:
  colour: blue"

"$STOWAGE" server -n velero --leader-elect false --log-level debug \
	--garbage-collection-frequency 2s >"$T/server.out" 2>"$T/server.log" &
SERVER=$!
BG_PIDS+=("$SERVER")

# ---------------------------------------------------------------- schedules
T0=$(date -u +%s)
apply "apiVersion: velero.io/v1
kind: Schedule
metadata:
  name: ttl
  namespace: velero
  annotations:
    team.example/owner: ops
spec:
  schedule: '@every 5s'
  useOwnerReferencesInBackup: true
  template:
    metadata:
      labels:
        tier: gold
    includedNamespaces: [app]
    ttl: 12s
---
apiVersion: velero.io/v1
kind: Schedule
metadata:
  name: gfs
  namespace: velero
  annotations:
    stowage.io/retention: last=2
spec:
  schedule: '@every 3s'
  template:
    includedNamespaces: [app]
    ttl: 1h
---
apiVersion: velero.io/v1
kind: Schedule
metadata:
  name: later
  namespace: velero
spec:
  schedule: '@every 4s'
  paused: true
  template:
    includedNamespaces: [app]
    ttl: 1h
---
apiVersion: velero.io/v1
kind: Schedule
metadata:
  name: bad-cron
  namespace: velero
spec:
  schedule: '61 * * * *'
  template: {}
---
apiVersion: velero.io/v1
kind: Schedule
metadata:
  name: bad-policy
  namespace: velero
  annotations:
    stowage.io/retention: dayly=7
spec:
  schedule: '@daily'
  template: {}
---
apiVersion: velero.io/v1
kind: Schedule
metadata:
  name: bad-zone
  namespace: velero
spec:
  schedule: 'CRON_TZ=Mars/Olympus 0 1 * * *'
  template: {}"

# ---- validation
phase_is() { [[ $(get schedule "$1" '{.status.phase}') == "$2" ]]; }
wait_for 20 phase_is bad-cron FailedValidation || true
expect_eq FailedValidation "$(get schedule bad-cron '{.status.phase}')" "bad-cron: phase"
expect_grep '^invalid schedule: .*minute.*61' "$(get schedule bad-cron '{.status.validationErrors[0]}')" \
	"bad-cron: validationErrors names the field"
wait_for 10 phase_is bad-policy FailedValidation || true
expect_eq FailedValidation "$(get schedule bad-policy '{.status.phase}')" "bad-policy: phase"
expect_grep 'stowage.io/retention.*unknown rule "dayly"' "$(get schedule bad-policy '{.status.validationErrors[0]}')" \
	"bad-policy: validationErrors names the rule"
wait_for 10 phase_is bad-zone FailedValidation || true
expect_grep 'Mars/Olympus' "$(get schedule bad-zone '{.status.validationErrors[0]}')" \
	"bad-zone: validationErrors names the zone"
wait_for 10 phase_is ttl Enabled || true
expect_eq Enabled "$(get schedule ttl '{.status.phase}')" "ttl: phase"
expect_eq Enabled "$(get schedule later '{.status.phase}')" "later (paused): validated, phase Enabled"

# ---- ttl: names, labels, owner, completion
two_backups() { (($(backups velero.io/schedule-name=ttl | wc -l) >= 2)); }
wait_for 25 two_backups || true
mapfile -t TTL_NAMES < <(backups velero.io/schedule-name=ttl)
if ((${#TTL_NAMES[@]} >= 2)); then
	pass "ttl: ${#TTL_NAMES[@]} backups after $(($(date -u +%s) - T0)) s"
else
	fail "ttl: expected 2 backups within 25 s, got ${#TTL_NAMES[@]}"
fi
B1=${TTL_NAMES[0]:-none}
B2=${TTL_NAMES[1]:-none}
expect_grep '^ttl-[0-9]{14}$' "$B1" "ttl: backup named <schedule>-YYYYMMDDHHMMSS"
if [[ $B1 != none && $B2 != none ]]; then
	d1=$(($(ts_of "$B1") - T0))
	expect_eq 5 "$(($(ts_of "$B2") - $(ts_of "$B1")))" "ttl: consecutive backups are one period apart"
	if ((d1 >= 3 && d1 <= 7)); then
		pass "ttl: first activation one period after creation ($d1 s)"
	else
		fail "ttl: first activation expected ~5 s after creation, got $d1 s"
	fi
fi
expect_eq ttl "$(get backup "$B1" '{.metadata.labels.velero\.io/schedule-name}')" "ttl: schedule label"
expect_eq gold "$(get backup "$B1" '{.metadata.labels.tier}')" "ttl: template label"
expect_eq ops "$(get backup "$B1" '{.metadata.annotations.team\.example/owner}')" "ttl: schedule annotation"
expect_eq "Schedule/ttl/true" "$(get backup "$B1" '{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}/{.metadata.ownerReferences[0].controller}')" \
	"ttl: ownerReference to the Schedule"
expect_eq 12s "$(get backup "$B1" '{.spec.ttl}')" "ttl: spec from the template"
expect_grep "^$(date -u -d "@$(ts_of "$B2")" +%Y-%m-%dT%H:%M:%SZ)|^$(date -u -d "@$(($(ts_of "$B2") + 5))" +%Y-%m-%dT%H:%M:%SZ)" \
	"$(get schedule ttl '{.status.lastBackup}')" "ttl: status.lastBackup is the latest activation"

completed() { [[ $(get backup "$1" '{.status.phase}') == Completed ]]; }
if wait_for 20 completed "$B1"; then
	pass "ttl: $B1 Completed"
	HAVE_BACKUP_CTL=1
else
	p=$(get backup "$B1" '{.status.phase}')
	if [[ -z $p || $p == New ]]; then
		note "the backup controller did not run $B1 (phase '$p'): only creation is checked"
		HAVE_BACKUP_CTL=0
	else
		fail "ttl: $B1 expected Completed, got '$p'"
		HAVE_BACKUP_CTL=1
	fi
fi
if ((HAVE_BACKUP_CTL)); then
	[[ -f $LOC/backups/$B1/velero-backup.json ]] && pass "ttl: $B1 in the location" ||
		fail "ttl: $LOC/backups/$B1/velero-backup.json missing"
fi

# ---- later: unpause with skipImmediately
sleep 1 # an activation of `later` is overdue by now (created paused > 4 s ago)
k -n velero patch schedule later --type merge -p '{"spec":{"paused":false,"skipImmediately":true}}'
T_UNPAUSE=$(date -u +%s)
expect_eq "" "$(backups velero.io/schedule-name=later)" "later: no backups while paused"
skipped() { [[ -n $(get schedule later '{.status.lastSkipped}') ]]; }
wait_for 10 skipped || true
expect_eq false "$(get schedule later '{.spec.skipImmediately}')" "later: skipImmediately flipped back to false"
expect_grep '^20[0-9-]+T[0-9:]+Z$' "$(get schedule later '{.status.lastSkipped}')" "later: status.lastSkipped set"
one_later() { [[ -n $(backups velero.io/schedule-name=later) ]]; }
wait_for 12 one_later || true
LATER1=$(backups velero.io/schedule-name=later | head -n 1)
if [[ -n $LATER1 ]]; then
	d=$(($(ts_of "$LATER1") - T_UNPAUSE))
	if ((d >= 3 && d <= 6)); then
		pass "later: first backup one period after the unpause ($LATER1, +$d s), the overdue one skipped"
	else
		fail "later: first backup expected 4 s after the unpause, got $LATER1 (+$d s)"
	fi
else
	fail "later: no backup within 12 s of the unpause"
fi
k -n velero patch schedule later --type merge -p '{"spec":{"paused":true}}'

# ---- ttl and gfs: pause, then the TTL and the GFS policy expire backups
k -n velero patch schedule ttl --type merge -p '{"spec":{"paused":true}}'
expect_rc 0 "pause schedule ttl"
sleep 1
mapfile -t AT_PAUSE < <(created ttl)
note "ttl: ${#AT_PAUSE[@]} backups made before the pause: ${AT_PAUSE[*]}"
three_gfs() { (($(created gfs | wc -l) >= 3)); }
wait_for 30 three_gfs || true
k -n velero patch schedule gfs --type merge -p '{"spec":{"paused":true}}'
expect_rc 0 "pause schedule gfs"
if ((HAVE_BACKUP_CTL)); then
	for b in "${AT_PAUSE[@]}"; do wait_for 15 completed "$b" || true; done
fi
ttl_gone() { [[ -z $(backups velero.io/schedule-name=ttl) && -z $(stored ttl-) ]]; }
if wait_for 40 ttl_gone; then
	pass "ttl: every backup expired, gone from the cluster and the location"
else
	fail "ttl: still there after the TTL: cluster [$(backups velero.io/schedule-name=ttl | tr '\n' ' ')] location [$(stored ttl- | tr '\n' ' ')]"
fi
expect_grep 'backup expired, deletion requested.*backup=ttl-' "$(cat "$T/server.log")" "server log: GC requested the deletion"
expect_grep 'reason="?expired: ttl' "$(cat "$T/server.log")" "server log: the reason is the TTL"
expect_grep 'backup expired, deletion requested.* deletebackuprequest=ttl-[0-9]{14}-[a-z0-9]{5}' \
	"$(cat "$T/server.log")" "GC's request is named <backup>-<random> (generateName)"
NEW=$(comm -13 <(printf '%s\n' "${AT_PAUSE[@]}") <(created ttl))
expect_eq "" "$NEW" "ttl: no backup created while paused"

# ---- gfs: last=2
sleep 1
mapfile -t GFS_ALL < <(created gfs)
if ((${#GFS_ALL[@]} >= 3)); then
	pass "gfs: ${#GFS_ALL[@]} backups made"
else
	fail "gfs: expected at least 3 backups, got ${#GFS_ALL[@]}"
fi
WANT=$(printf '%s\n' "${GFS_ALL[@]}" | tail -n 2)
if ((HAVE_BACKUP_CTL)); then
	gfs_settled() { [[ $(backups velero.io/schedule-name=gfs) == "$WANT" && $(stored gfs-) == "$WANT" ]]; }
	wait_for 25 gfs_settled || true
	expect_eq "$(echo $WANT)" "$(echo $(backups velero.io/schedule-name=gfs))" "gfs: the two newest stay in the cluster"
	expect_eq "$(echo $WANT)" "$(echo $(stored gfs-))" "gfs: the two newest stay in the location"
	expect_grep 'reason="?expired: outside GFS policy' "$(cat "$T/server.log")" "server log: GFS reason"
else
	note "gfs: backups never complete without the backup controller; GFS expiry not checked"
fi

# ---------------------------------------------------------------- deletion
apply "apiVersion: velero.io/v1
kind: Backup
metadata:
  name: manual
  namespace: velero
spec:
  includedNamespaces: [app]
  ttl: 1h
---
apiVersion: velero.io/v1
kind: Backup
metadata:
  name: on-readonly
  namespace: velero
spec:
  storageLocation: readonly
  ttl: 1h
---
apiVersion: velero.io/v1
kind: Backup
metadata:
  name: expired-readonly
  namespace: velero
spec:
  storageLocation: readonly
  ttl: 1s"
if ((HAVE_BACKUP_CTL)); then
	wait_for 20 completed manual || true
	expect_eq Completed "$(get backup manual '{.status.phase}')" "manual: Completed"
else
	# Stand in for the backup controller: a finished backup with objects.
	k -n velero patch backup manual --type merge -p '{"status":{"phase":"Completed"}}'
	mkdir -p "$LOC/backups/manual" && echo '{}' >"$LOC/backups/manual/velero-backup.json"
fi
final() { [[ -n $(get backup on-readonly '{.status.phase}') && $(get backup on-readonly '{.status.phase}') != New ]]; }
wait_for 10 final || k -n velero patch backup on-readonly --type merge -p '{"status":{"phase":"FailedValidation"}}'
# A restore made from it, finished, with its objects in the location.
apply "apiVersion: velero.io/v1
kind: Restore
metadata:
  name: manual-restore
  namespace: velero
spec:
  backupName: manual
status:
  phase: Completed"
mkdir -p "$LOC/restores/manual-restore"
echo x | gzip >"$LOC/restores/manual-restore/restore-manual-restore-logs.gz"
[[ -n $(stored manual) ]] || fail "manual: not in the location before the deletion"

apply "apiVersion: velero.io/v1
kind: DeleteBackupRequest
metadata:
  name: delete-manual
  namespace: velero
spec:
  backupName: manual
---
apiVersion: velero.io/v1
kind: DeleteBackupRequest
metadata:
  name: delete-missing
  namespace: velero
spec:
  backupName: no-such-backup
---
apiVersion: velero.io/v1
kind: DeleteBackupRequest
metadata:
  name: delete-on-readonly
  namespace: velero
spec:
  backupName: on-readonly"
manual_gone() { k -n velero get backup manual; [[ $RC != 0 && -z $(stored manual) ]]; }
if wait_for 15 manual_gone; then
	pass "manual: DeleteBackupRequest removed the backup from the cluster and the location"
else
	fail "manual: still there: $(get backup manual '{.status.phase}') / [$(stored manual)]"
fi
k -n velero get restore manual-restore
expect_rc 1 "manual: its Restore is deleted"
LEFT=$(find "$LOC/restores" -type f)
expect_eq "" "$LEFT" "manual: the objects of restores/manual-restore/ are deleted"
k -n velero get deletebackuprequest delete-manual
expect_rc 1 "manual: the processed request is deleted with the backup"

processed() { [[ $(get deletebackuprequest "$1" '{.status.phase}') == Processed ]]; }
wait_for 10 processed delete-missing || true
expect_eq Processed "$(get deletebackuprequest delete-missing '{.status.phase}')" "missing backup: request Processed"
expect_eq "backup not found" "$(get deletebackuprequest delete-missing '{.status.errors[0]}')" "missing backup: the error"
wait_for 10 processed delete-on-readonly || true
expect_eq Processed "$(get deletebackuprequest delete-on-readonly '{.status.phase}')" "read-only location: request Processed"
expect_grep 'read-only mode' "$(get deletebackuprequest delete-on-readonly '{.status.errors[0]}')" "read-only location: the error"
k -n velero get backup on-readonly
expect_rc 0 "read-only location: the backup stays"
gc_failure() { [[ -n $(get backup expired-readonly '{.metadata.labels.velero\.io/gc-failure}') ]]; }
if [[ -n $(get backup expired-readonly '{.status.expiration}') ]]; then
	wait_for 10 gc_failure || true
	expect_eq BSLReadOnly "$(get backup expired-readonly '{.metadata.labels.velero\.io/gc-failure}')" \
		"expired backup in a ReadOnly location: GC skips it and labels it"
	k -n velero get backup expired-readonly
	expect_rc 0 "expired backup in a ReadOnly location: it stays"
else
	note "expired-readonly got no status.expiration from the backup controller: gc-failure not checked"
fi
expect_no_grep '^Deleting$' "$(get backup on-readonly '{.status.phase}')" "read-only location: the backup is not left Deleting"

note "took $(($(date +%s) - START)) s"
kill "$SERVER" 2>/dev/null || true
wait "$SERVER" 2>/dev/null || true
if ((FAILS > 0)); then
	echo "--- server log (last 60 lines) ---"
	tail -n 60 "$T/server.log"
fi
finish
