#!/usr/bin/env bash
# A/B timing of two (or more) stowage builds on one tree, interleaved so
# that both see the same machine: for each round and build, a fresh
# repository, an initial backup and a full restore, each timed with GNU
# time (wall, user, system, peak RSS). For quick comparisons of a change;
# bench/run.sh is the benchmark of record.
#
#   bench/ab.sh [--rounds N] [--work DIR] DATA-DIR STOWAGE-A STOWAGE-B...
#
# Finished repositories and restores are moved into DIR/.trash and deleted
# at exit, not between runs: on a journal-less ext4 creating files soon
# after deleting many is slow at random (see bench/run.sh).
set -euo pipefail

rounds=2 work=${TMPDIR:-/tmp}/stowage-ab
while [[ $# -gt 0 ]]; do
	case $1 in
	--rounds) rounds=$2; shift 2 ;;
	--work) work=$2; shift 2 ;;
	-h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) break ;;
	esac
done
if [[ $# -lt 2 ]]; then
	echo "usage: bench/ab.sh [--rounds N] [--work DIR] DATA-DIR STOWAGE..." >&2
	exit 2
fi
data=$(realpath "$1")
shift
[[ -d $data ]] || { echo "ab.sh: no directory $data" >&2; exit 2; }
mkdir -p "$work/.trash"
trap 'rm -rf "$work/.trash"' EXIT
export STOWAGE_PASSWORD=ab-benchmark
aside() { [[ ! -e $1 ]] || mv "$1" "$work/.trash/$(date +%s%N)-$(basename "$1")"; }

for ((i = 1; i <= rounds; i++)); do
	for bin in "$@"; do
		aside "$work/repo"
		aside "$work/restore"
		"$bin" vault init --repo "$work/repo" >/dev/null
		sync
		sleep 10 # let writeback of the previous round finish
		/usr/bin/time -f "round $i $bin backup:  %e s wall %U s user %S s sys %M KiB" \
			"$bin" vault snapshot create --repo "$work/repo" "$data" \
			2>&1 >/dev/null | tail -n 1
		sleep 5
		/usr/bin/time -f "round $i $bin restore: %e s wall %U s user %S s sys %M KiB" \
			"$bin" vault restore latest "$work/restore" --repo "$work/repo" \
			2>&1 >/dev/null | tail -n 1
	done
done
aside "$work/repo"
aside "$work/restore"
