#!/usr/bin/env bash
# Concurrency: several `vault snapshot create` of different trees with
# shared content, started together into one repository (an existing one and
# fresh ones), must all succeed, restore exactly, and leave check
# --read-data clean. Also snapshot create racing gc over data that gc
# wants to delete and snapshot wants to reuse, and a restore running while
# a snapshot is written.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_binary

echo "== fixtures"
mkfixture bulk "$T/shared" --mb 40 --small-files 100 --seed 7 --prefix shared_
for t in A B C; do
	mkdir -p "$T/tree$t"
	cp -a "$T/shared" "$T/tree$t/shared"
done
mkfixture bulk "$T/treeA/own" --mb 20 --small-files 50 --seed 11 --prefix a_
mkfixture bulk "$T/treeB/own" --mb 20 --small-files 50 --seed 12 --prefix b_
mkfixture bulk "$T/treeC/own" --mb 20 --small-files 50 --seed 13 --prefix c_
# A file that is identical in all trees but in different places.
for t in A B C; do cp "$T/shared/shared_random_00.bin" "$T/tree$t/same_$t.bin"; done

# start NAME REPO DIR: snapshot create in the background.
declare -A PIDS
start()
{
	local name=$1 repo=$2 dir=$3
	"$STOWAGE" vault snapshot create "$dir" --repo "$repo" </dev/null \
		>"$T/$name.out" 2>"$T/$name.err" &
	PIDS[$name]=$!
	BG_PIDS+=("$!")
}

# finish_one NAME DIR REPO: wait, check exit/ID, restore and compare.
finish_one()
{
	local name=$1 dir=$2 repo=$3 rc id
	set +e
	wait "${PIDS[$name]}"
	rc=$?
	set -e
	if ((rc == 0)); then
		pass "$name: concurrent snapshot create succeeded"
	else
		fail "$name: concurrent snapshot create: expected exit 0, got $rc"
		sed 's/^/  | /' "$T/$name.err" | clip 10
		return 0
	fi
	id=$(grep -E '^[0-9a-f]{64}$' "$T/$name.out" | tail -n 1 || true)
	if [[ -z $id ]]; then
		fail "$name: expected a snapshot ID on stdout, got '$(head -c 200 "$T/$name.out")'"
		return 0
	fi
	IDS+=("$id")
	rm -rf "$T/restore_$name"
	restore_cmp "$repo" "$id" "$T/restore_$name" "$dir"
	rm -rf "$T/restore_$name"
}

count_snapshots()
{
	v snapshot list -o json --repo "$1"
	printf '%s\n' "$OUT" >"$T/list.json"
	repotool snaplist "$T/list.json" 2>/dev/null | grep -c '^id=' || true
}

echo "== two at once into an existing repository"
R=$T/repo
new_repo "$R"
snap "$R" "$T/treeC"
IDS=()
start A "$R" "$T/treeA"
start B "$R" "$T/treeB"
finish_one A "$T/treeA" "$R"
finish_one B "$T/treeB" "$R"
BG_PIDS=()
expect_eq 3 "$(count_snapshots "$R")" "snapshot count after two concurrent snapshots"
check_clean "$R" --read-data

echo "== two (and three) at once into fresh repositories"
for round in 1 2 3 4; do
	R=$T/fresh$round
	new_repo "$R"
	IDS=()
	start A "$R" "$T/treeA"
	start B "$R" "$T/treeB"
	if ((round == 4)); then start C "$R" "$T/treeC"; fi
	finish_one A "$T/treeA" "$R"
	finish_one B "$T/treeB" "$R"
	n=2
	if ((round == 4)); then
		finish_one C "$T/treeC" "$R"
		n=3
	fi
	BG_PIDS=()
	expect_eq "$n" "$(count_snapshots "$R")" "round $round: snapshot count"
	if ((round == 1 || round == 4)); then
		check_clean "$R" --read-data
	else
		check_clean "$R"
	fi
	rm -rf "$R"
done

echo "== snapshot create racing gc"
# Data that gc may delete (its snapshot is gone) while a new snapshot of
# the same tree wants to reuse it. gc may refuse (exit 7, locked); the
# snapshot must succeed (or be refused with 7) and the repository stay
# sound.
for round in 1 2 3; do
	R=$T/gc$round
	new_repo "$R"
	snap "$R" "$T/treeA"
	snap "$R" "$T/treeC"
	victim=$SNAP
	[[ -n $victim ]] || continue
	v snapshot delete "$victim" --repo "$R"
	expect_rc 0 "gc round $round: snapshot delete"
	IDS=()
	# Rounds 1-2: gc starts while the snapshot is still reading (a
	# deduplicating run of this tree takes a few tenths of a second).
	# Round 3: gc first, the snapshot right behind it.
	if ((round < 3)); then
		start C "$R" "$T/treeC"
		sleep "0.0$((round * 3))"
	fi
	"$STOWAGE" vault gc --repo "$R" </dev/null >"$T/gc.out" 2>"$T/gc.err" &
	gcpid=$!
	BG_PIDS+=("$gcpid")
	if ((round == 3)); then
		sleep 0.01
		start C "$R" "$T/treeC"
	fi
	set +e
	wait "${PIDS[C]}"
	crc=$?
	wait "$gcpid"
	grc=$?
	set -e
	BG_PIDS=()
	note "gc round $round: gc said: $(head -n 1 "$T/gc.out") $(head -n 1 "$T/gc.err")"
	if ((grc == 0 || grc == 7)); then
		pass "gc round $round: gc exit $grc (0 or 7 locked)"
	else
		fail "gc round $round: gc expected exit 0 or 7, got $grc"
		sed 's/^/  | /' "$T/gc.err" | clip 10
	fi
	if ((crc == 0)); then
		pass "gc round $round: snapshot create succeeded alongside gc"
		id=$(grep -E '^[0-9a-f]{64}$' "$T/C.out" | tail -n 1 || true)
		check_clean "$R" --read-data
		if [[ -n $id ]]; then
			restore_cmp "$R" "$id" "$T/gcrestore$round" "$T/treeC"
		else
			fail "gc round $round: expected a snapshot ID, got '$(head -c 200 "$T/C.out")'"
		fi
	elif ((crc == 7)); then
		pass "gc round $round: snapshot create refused while gc held the lock (exit 7)"
		check_clean "$R" --read-data
	else
		fail "gc round $round: snapshot create: expected exit 0 (or 7), got $crc"
		sed 's/^/  | /' "$T/C.err" | clip 10
	fi
	# The first snapshot (treeA) must be untouched by gc.
	v snapshot list -o json --repo "$R"
	printf '%s\n' "$OUT" >"$T/list.json"
	first=$(repotool snaplist "$T/list.json" 2>/dev/null | sed -n '1s/^id=\([^ ]*\).*/\1/p' || true)
	if [[ -n $first ]]; then
		restore_cmp "$R" "$first" "$T/gcrestoreA$round" "$T/treeA"
	else
		fail "gc round $round: expected the treeA snapshot to be listed, got none"
	fi
	rm -rf "$R" "$T"/gcrestore*
done

echo "== restore while a snapshot is being written"
R=$T/rw
new_repo "$R"
snap "$R" "$T/treeA"
first=$SNAP
IDS=()
start B "$R" "$T/treeB"
if [[ -n $first ]]; then
	v restore "$first" "$T/rw_restore" --repo "$R"
	expect_rc 0 "restore during a concurrent snapshot create"
	treecmp "$T/treeA" "$T/rw_restore"
fi
finish_one B "$T/treeB" "$R"
BG_PIDS=()
check_clean "$R" --read-data

finish
