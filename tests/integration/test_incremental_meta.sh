#!/usr/bin/env bash
# Incremental snapshots take unchanged files' xattrs from the parent
# snapshot (ctime older than the parent's start); a metadata-only change
# (xattr, chmod) must still reach the next snapshot.
set -euo pipefail
: "${STOWAGE:?STOWAGE must point at the binary}"
T=$(mktemp -d /tmp/stow-incmeta.XXXXXX)
trap 'rm -rf "$T"' EXIT
export STOWAGE_PASSWORD=pw STOWAGE_REPO=$T/repo
fails=0
check() { # check WHAT EXPECTED GOT
	if [[ $2 == "$3" ]]; then echo "ok: $1"; else echo "FAIL: $1: expected '$2', got '$3'"; fails=$((fails + 1)); fi
}
mkdir -p "$T/src"
echo data >"$T/src/a"
echo more >"$T/src/b"
if ! setfattr -n user.k -v v1 "$T/src/a" 2>/dev/null; then
	echo "FAIL: this filesystem ($T) does not support user xattrs; the test needs them"
	exit 1
fi
setfattr -n user.keep -v same "$T/src/b"
sleep 1.2 # ctimes strictly older than the first snapshot's start
"$STOWAGE" vault init --kdf-log-n 10 >/dev/null
"$STOWAGE" vault snapshot create "$T/src" -q >/dev/null
# Metadata-only changes: ctime moves, mtime and size do not.
setfattr -n user.k -v v2 "$T/src/a"
chmod 0640 "$T/src/b"
"$STOWAGE" vault snapshot create "$T/src" -q >/dev/null
"$STOWAGE" vault restore latest "$T/out1" -q
check "changed xattr reaches the next snapshot" v2 "$(getfattr --only-values -n user.k "$T/out1/a")"
check "chmod reaches the next snapshot" 640 "$(stat -c %a "$T/out1/b")"
check "unchanged xattr kept" same "$(getfattr --only-values -n user.keep "$T/out1/b")"
# A third snapshot after the ctimes are old: xattrs come from the parent.
sleep 1.2
"$STOWAGE" vault snapshot create "$T/src" -q >/dev/null
"$STOWAGE" vault restore latest "$T/out2" -q
check "xattr copied from the parent" v2 "$(getfattr --only-values -n user.k "$T/out2/a")"
check "other xattr copied from the parent" same "$(getfattr --only-values -n user.keep "$T/out2/b")"
if ((fails)); then
	echo "test_incremental_meta.sh: $fails checks FAILED"
	exit 1
fi
echo "test_incremental_meta.sh: all checks passed"
