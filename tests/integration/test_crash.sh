#!/usr/bin/env bash
# Crash safety: kill -9 `vault snapshot create` at random moments (>= 10
# trials, each into a fresh repository, plus trials that add new data to a
# repository that already holds snapshots). After each crash `vault check`
# must be clean, any snapshot listed must be complete, and a new snapshot
# must succeed and restore to the source. SIGINT/SIGTERM must exit 130 and
# leave no snapshot behind.
#
# CRASH_TRIALS (default 10), CRASH_MB (default 256) and CRASH_SEED
# (default: random, printed) tune it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_binary

TRIALS=${CRASH_TRIALS:-10}
MB=${CRASH_MB:-256}
SEED=${CRASH_SEED:-$RANDOM}
echo "seed $SEED (set CRASH_SEED=$SEED to repeat the same delays)"
RANDOM=$SEED

SRC=$T/src
mkfixture bulk "$SRC" --mb "$MB" --small-files 300 --seed "$SEED"
echo "source: $(du -sh "$SRC" | cut -f1), $(find "$SRC" -type f | wc -l) files"

now() { date +%s.%N; }
# rand_delay LO HI: uniform in [LO, HI) seconds, 3 decimals.
rand_delay()
{
	$PY -c "import random,sys; random.seed(int(sys.argv[3])); print('%.3f' % random.uniform(float(sys.argv[1]), float(sys.argv[2])))" \
		"$1" "$2" "$RANDOM$RANDOM"
}

echo "== one full run, to time it"
new_repo "$T/ref"
t0=$(now)
snap "$T/ref" "$SRC"
t1=$(now)
[[ -n $SNAP ]] || die "the reference snapshot failed; crash trials would mean nothing"
FULL=$($PY -c "print('%.3f' % ($t1 - $t0))")
echo "a full snapshot takes ${FULL}s"
restore_cmp "$T/ref" "$SNAP" "$T/ref_restore" "$SRC"
rm -rf "$T/ref_restore" "$T/ref"

# crash_run REPO DELAY SIGNAL: start snapshot create, send SIGNAL after
# DELAY; sets KRC to its exit status.
crash_run()
{
	local repo=$1 delay=$2 sig=$3 pid
	# Background jobs of a script start with SIGINT ignored unless job
	# control is on (then they get their own process group instead).
	set -m
	"$STOWAGE" vault snapshot create "$SRC" --repo "$repo" </dev/null \
		>"$T/crash.out" 2>"$T/crash.err" &
	pid=$!
	set +m
	BG_PIDS+=("$pid")
	sleep "$delay"
	kill -s "$sig" "$pid" 2>/dev/null || true
	set +e
	wait "$pid" 2>/dev/null
	KRC=$?
	set -e
	BG_PIDS=()
}

# after_crash REPO LABEL [EXPECT-NO-SNAPSHOT]: the checks after a crash.
after_crash()
{
	local repo=$1 label=$2 strict=${3:-0} n id
	v check --repo "$repo"
	if [[ $RC == 0 ]] && grep -q 'no errors were found' <<<"$OUT"; then
		pass "$label: vault check is clean"
	else
		fail "$label: vault check: expected exit 0 and 'no errors were found', got exit $RC"
		show_output
	fi
	v snapshot list -o json --repo "$repo"
	printf '%s\n' "$OUT" >"$T/list.json"
	if ! repotool snaplist "$T/list.json" >"$T/list.txt" 2>&1; then
		fail "$label: snapshot list -o json: expected a JSON array, got exit $RC: $(head -c 300 "$T/list.json")"
		return 0
	fi
	n=$(grep -c '^id=' "$T/list.txt" || true)
	if ((strict)) && ((n != BEFORE)); then
		fail "$label: interrupted run: expected $BEFORE snapshots (none added), got $n"
	fi
	# A snapshot that became visible must be complete.
	if ((n > BEFORE)); then
		id=$(sed -n 's/^id=\([^ ]*\).*/\1/p' "$T/list.txt" | tail -n 1)
		note "$label: the killed run had saved snapshot ${id:0:12}; restoring it"
		rm -rf "$T/visible"
		restore_cmp "$repo" "$id" "$T/visible" "$SRC"
		rm -rf "$T/visible"
	fi
}

# gc_after_crash REPO LABEL: gc must clean up what the killed run left
# (orphan packs, index objects) without touching anything referenced. The
# killed run's writer lease stays live until it expires (docs/FORMAT.md 8),
# so gc may refuse with 7 at first; the test then deletes the leases, as
# expiry would, and gc must succeed.
gc_after_crash()
{
	local repo=$1 label=$2
	v gc --repo "$repo"
	if ((RC == 7)); then
		note "$label: gc refused while the killed run's lease is live (exit 7); deleting locks/writer-* as expiry would"
		rm -f "$repo"/locks/writer-*
		v gc --repo "$repo"
	fi
	expect_rc 0 "$label: gc after the crash"
}

KILLED=0
ATTEMPTS=0
MAXLO=$($PY -c "print(max(0.06, 0.75 * $FULL))")
echo "== kill -9 trials (fresh repository each)"
while ((KILLED < TRIALS && ATTEMPTS < 2 * TRIALS)); do
	ATTEMPTS=$((ATTEMPTS + 1))
	repo=$T/repo$ATTEMPTS
	new_repo "$repo"
	delay=$(rand_delay 0.05 "$MAXLO")
	crash_run "$repo" "$delay" KILL
	label="trial $ATTEMPTS (kill -9 after ${delay}s)"
	if ((KRC == 137)); then
		KILLED=$((KILLED + 1))
	elif ((KRC == 0)); then
		# Run times vary (page cache, load): aim the next kills earlier.
		FULL=$($PY -c "print('%.3f' % min($FULL, $delay))")
		MAXLO=$($PY -c "print(max(0.06, 0.75 * $FULL))")
		note "$label: the run finished before the kill; kills now within ${MAXLO}s"
	else
		fail "$label: snapshot create exited $KRC before the kill"
		sed 's/^/  | /' "$T/crash.err" | clip 10
	fi
	BEFORE=0
	after_crash "$repo" "$label"
	gc_after_crash "$repo" "$label"
	t0=$(now)
	snap "$repo" "$SRC"
	t1=$(now)
	# After gc this was a full run into an empty repository: track the
	# fastest one, so kills keep landing inside a run.
	FULL=$($PY -c "print('%.3f' % min($FULL, $t1 - $t0))")
	MAXLO=$($PY -c "print(max(0.06, 0.75 * $FULL))")
	if [[ -n $SNAP ]]; then
		restore_cmp "$repo" "$SNAP" "$T/restore" "$SRC"
	fi
	rm -rf "$T/restore"
	if ((ATTEMPTS % 3 == 1)); then
		check_clean "$repo" --read-data
	fi
	rm -rf "$repo"
done
if ((KILLED >= TRIALS)); then
	pass "$KILLED runs were killed mid-way"
else
	fail "kill -9 trials: expected $TRIALS runs killed mid-way, got $KILLED in $ATTEMPTS attempts"
fi

echo "== kill -9 while adding new data to a repository with snapshots"
repo=$T/shared
new_repo "$repo"
snap "$repo" "$SRC"
BEFORE=1
for i in 1 2 3; do
	mkfixture bulk "$SRC/new$i" --mb 20 --small-files 50 --seed $((SEED + i)) --prefix "n$i"
	delay=$(rand_delay 0.05 "$($PY -c "print(max(0.06, 0.3 * $FULL))")")
	crash_run "$repo" "$delay" KILL
	label="incremental trial $i (kill -9 after ${delay}s, exit $KRC)"
	after_crash "$repo" "$label"
	gc_after_crash "$repo" "$label"
	check_clean "$repo"
	snap "$repo" "$SRC"
	if [[ -n $SNAP ]]; then
		restore_cmp "$repo" "$SNAP" "$T/restore" "$SRC"
	fi
	rm -rf "$T/restore"
	v snapshot list -o json --repo "$repo"
	printf '%s\n' "$OUT" >"$T/list.json"
	BEFORE=$(repotool snaplist "$T/list.json" 2>/dev/null | grep -c '^id=' || true)
done
check_clean "$repo" --read-data
rm -rf "$repo" "$SRC"/new*

echo "== SIGINT / SIGTERM"
for sig in INT TERM; do
	repo=$T/sig_$sig
	new_repo "$repo"
	delay=$(rand_delay "$($PY -c "print(max(0.02, 0.1 * $FULL))")" "$($PY -c "print(max(0.03, 0.5 * $FULL))")")
	crash_run "$repo" "$delay" "$sig"
	label="SIG$sig after ${delay}s"
	BEFORE=0
	if ((KRC == 130)); then
		pass "$label: snapshot create exited 130"
		after_crash "$repo" "$label" 1
		# A clean interrupt releases its writer lease, so gc can run.
		left=$(find "$repo/locks" -type f 2>/dev/null | sed "s#^$repo/##" | xargs)
		expect_eq "" "$left" "$label: no lease left behind in locks/"
		v gc --repo "$repo"
		expect_rc 0 "$label: gc right after the interrupted run"
		check_clean "$repo" --read-data
	elif ((KRC == 0)); then
		note "$label: the run finished before the signal"
		after_crash "$repo" "$label"
	else
		fail "$label: expected exit 130, got $KRC"
		sed 's/^/  | /' "$T/crash.err" | clip 10
		after_crash "$repo" "$label"
	fi
	snap "$repo" "$SRC"
	if [[ -n $SNAP ]]; then
		restore_cmp "$repo" "$SNAP" "$T/restore" "$SRC"
	fi
	rm -rf "$T/restore" "$repo"
done

finish
