#!/usr/bin/env bash
# The documented CLI (docs/cli.md): --help on every command, usage errors
# (exit 2), a missing repository (exit 5), password sources, global option
# placement, key slots (add, change, remove, list; exit 4 for a rejected
# password), a partial snapshot (exit 3), snapshot delete, ID prefixes and
# `latest`, stats, gc and benchmark.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_binary

PW1=$STOWAGE_PASSWORD

echo "== --help on every command"
# "command words|options its help must mention"
HELP_CASES=(
	"init|--compression --hash --cipher --chunk-min --chunk-avg --chunk-max --kdf --kdf-memory --kdf-passes --kdf-log-n"
	"snapshot create|--tag --compression --host"
	"snapshot list|-o --tag"
	"snapshot delete|"
	"restore|--path"
	"ls|-l"
	"diff|"
	"check|--read-data"
	"key list|"
	"key add|--kdf --kdf-memory --kdf-passes --kdf-log-n"
	"key change|--kdf --kdf-memory --kdf-passes --kdf-log-n"
	"key remove|--force"
	"stats|-o"
	"benchmark|"
	"gc|--dry-run"
)
unset STOWAGE_PASSWORD
for c in "${HELP_CASES[@]}"; do
	words=${c%%|*}
	opts=${c#*|}
	# shellcheck disable=SC2086
	v $words --help
	expect_rc 0 "vault $words --help"
	last=${words##* }
	expect_grep "(^|[^a-z-])$last([^a-z-]|$)" "$OUT" "vault $words --help mentions '$last' on stdout"
	for o in $opts; do
		if grep -qF -- "$o" <<<"$OUT"; then
			pass "vault $words --help documents $o"
		else
			fail "vault $words --help: expected it to document $o, got:"
			head -n 15 <<<"$OUT" | sed 's/^/  | /'
		fi
	done
done
v --help
expect_rc 0 "vault --help"
for w in init snapshot restore ls diff check key stats benchmark gc; do
	if grep -qE "(^|[^a-z-])$w([^a-z-]|$)" <<<"$OUT"; then
		pass "vault --help lists $w"
	else
		fail "vault --help: expected the command '$w' listed, got:"
		head -n 20 <<<"$OUT" | sed 's/^/  | /'
	fi
done
for sub in snapshot key; do
	v $sub --help
	expect_rc 0 "vault $sub --help"
done
sw --help
expect_rc 0 "stowage --help"
expect_grep 'vault' "$OUT" "stowage --help mentions vault"
export STOWAGE_PASSWORD=$PW1
[[ -z $(find "$T" -mindepth 1 -maxdepth 1 ! -name ".*") ]] && pass "--help created no files" ||
	fail "--help: expected no files created, got: $(ls -A "$T")"

echo "== usage errors exit 2"
R=$T/repo
USAGE_CASES=(
	"vault frobnicate"
	"vault snapshot frobnicate"
	"vault key frobnicate"
	"vault snapshot list --frobnicate"
	"vault check --frobnicate"
	"vault init --repo $R --compression"
	"vault restore"
	"vault restore latest"
	"vault snapshot create"
	"vault diff onlyone"
	"vault snapshot list --repo"
)
for c in "${USAGE_CASES[@]}"; do
	# shellcheck disable=SC2086
	sw $c
	expect_rc 2 "stowage $c"
	if [[ -n $ERR ]]; then
		pass "stowage $c: explains on stderr ($(head -n 1 <<<"$ERR" | cut -c1-80))"
	else
		fail "stowage $c: expected a message on stderr, got none"
	fi
done
[[ ! -e $R ]] && pass "usage errors created no repository" ||
	fail "usage errors: expected no repository at $R, got one"
for c in "vault init --repo $R --compression bogus" "vault init --repo $R --hash md5" \
	"vault init --repo $R --cipher rot13" "vault init --repo $R --chunk-avg 12Q"; do
	# shellcheck disable=SC2086
	sw $c
	if ((RC == 1 || RC == 2)) && [[ -n $ERR ]]; then
		pass "stowage $c: rejected (exit $RC)"
	else
		fail "stowage $c: expected exit 1 or 2 with a message, got $RC"
		show_output
	fi
done
[[ ! -e $R/config ]] && pass "invalid init options created no repository" ||
	fail "invalid init options: expected no repository config, got one"

echo "== missing repository exits 5"
mkdir -p "$T/emptydir"
for loc in "$T/nope" "file://$T/nope" "$T/emptydir"; do
	v snapshot list --repo "$loc"
	expect_rc 5 "snapshot list --repo $loc (no repository)"
	expect_grep 'vault init' "$ERR" "missing repository message mentions 'vault init'"
done
STOWAGE_REPO=$T/nope v check
expect_rc 5 "check with STOWAGE_REPO pointing nowhere"
[[ ! -e $T/nope ]] && pass "opening a missing repository created nothing" ||
	fail "opening a missing repository: expected $T/nope not created, got it"
v snapshot list
if ((RC != 0)) && grep -qi 'repo' <<<"$ERR"; then
	pass "no --repo and no STOWAGE_REPO: fails mentioning the repository (exit $RC)"
else
	fail "no repository given: expected a non-zero exit and a message about the repository, got $RC"
	show_output
fi

echo "== init, password sources, global option placement"
new_repo "$R"
expect_grep "^created repository [0-9a-f]+ at .*repo" "$OUT" "init prints the repository ID and location"
v init --repo "$R" --kdf-log-n 10
if ((RC != 0)) && [[ -n $ERR ]]; then
	pass "init over an existing repository is refused (exit $RC)"
else
	fail "init over an existing repository: expected a non-zero exit, got $RC"
fi
v snapshot list --repo "$R"
expect_rc 0 "the repository still opens with the first password after the refused re-init"
STOWAGE_REPO=$R v snapshot list
expect_rc 0 "STOWAGE_REPO selects the repository"
v --repo "$R" snapshot list
expect_rc 0 "--repo before the verb"
sw vault snapshot --repo "$R" list
expect_rc 0 "--repo between the verbs"
STOWAGE_REPO=$T/nope v snapshot list --repo "$R"
expect_rc 0 "--repo wins over STOWAGE_REPO"
printf '%s\n' "$PW1" >"$T/pwfile"
STOWAGE_PASSWORD=wrong v snapshot list --repo "$R" --password-file "$T/pwfile"
expect_rc 0 "--password-file (trailing newline stripped) wins over STOWAGE_PASSWORD"
(
	unset STOWAGE_PASSWORD
	v snapshot list --repo "$R"
	echo "$RC" >"$T/rc.nopw"
	printf '%s' "$ERR" >"$T/err.nopw"
)
RC=$(cat "$T/rc.nopw")
ERR=$(cat "$T/err.nopw")
if ((RC != 0)) && grep -qi 'password' <<<"$ERR"; then
	pass "no password source (stdin not a terminal): fails mentioning the password (exit $RC)"
else
	fail "no password source: expected a non-zero exit and a message about the password, got $RC: $ERR"
fi
STOWAGE_NEW_PASSWORD=init-new-pw STOWAGE_PASSWORD=init-old-pw v init --repo "$T/repo_np" --kdf-log-n 10
expect_rc 0 "init with STOWAGE_NEW_PASSWORD"
STOWAGE_PASSWORD=init-new-pw v snapshot list --repo "$T/repo_np"
expect_rc 0 "init used STOWAGE_NEW_PASSWORD as the password"
STOWAGE_PASSWORD=init-old-pw v snapshot list --repo "$T/repo_np"
expect_rc 4 "init did not use STOWAGE_PASSWORD when a new password was given"
printf 'filepw\n' >"$T/newpwfile"
v init --repo "file://$T/repo_file" --kdf-log-n 10 --new-password-file "$T/newpwfile"
expect_rc 0 "init of a file:// location with --new-password-file"
STOWAGE_PASSWORD=filepw v snapshot list --repo "$T/repo_file"
expect_rc 0 "--new-password-file set the password (plain path opens the file:// repo)"

echo "== snapshots: create, list, prefixes, latest, delete"
SRC=$T/src
mkdir -p "$SRC/sub"
echo one >"$SRC/one.txt"
echo two >"$SRC/sub/two.txt"
head -c 300000 /dev/urandom >"$SRC/sub/rand.bin"
v restore latest "$T/r_empty" --repo "$R"
expect_rc 5 "restore latest in an empty repository"
v snapshot list -o json --repo "$R"
expect_rc 0 "snapshot list -o json of an empty repository"
printf '%s\n' "$OUT" >"$T/l.json"
expect_eq 0 "$(repotool snaplist "$T/l.json" 2>/dev/null | grep -c '^id=' || true)" "empty repository lists no snapshots"

snap "$R" "$SRC" --tag app=cli
S1=$SNAP
sw vault snapshot create "$SRC" --repo "$R" --parallel 1 --tag app=cli2
expect_rc 0 "snapshot create --parallel 1"
S2=$(grep -E '^[0-9a-f]{64}$' <<<"$OUT" | tail -n 1 || true)
v snapshot list --repo "$R"
expect_rc 0 "snapshot list"
expect_grep '^ *ID +TIME +HOST +PATH +FILES +SIZE +TAGS' "$OUT" "snapshot list table header"
expect_grep "app=cli2" "$OUT" "snapshot list shows tags"

if [[ -n $S1 && -n $S2 ]]; then
	p=${S2:0:4}
	if [[ ${S1:0:4} != "$p" ]]; then
		v restore "$p" "$T/r_prefix" --repo "$R"
		expect_rc 0 "restore by a 4-digit ID prefix"
		treecmp "$SRC" "$T/r_prefix"
	else
		note "S1 and S2 share a 4-digit prefix; prefix restore not checked"
	fi
	v ls "${S1:0:3}" --repo "$R"
	if ((RC != 0)); then pass "a 3-digit prefix is not accepted (exit $RC)"; else fail "ls with a 3-digit prefix: expected an error, got exit 0"; fi
	v restore ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000ffff0000 "$T/r_none" --repo "$R"
	expect_rc 5 "restore of an unknown snapshot ID"
	v ls deadbeef --repo "$R"
	[[ ${S1:0:8} == deadbeef || ${S2:0:8} == deadbeef ]] || expect_rc 5 "ls of an unknown prefix"
	v diff "$S1" "$S2" --repo "$R"
	expect_rc 0 "diff of two snapshots of the same tree"
	v restore latest "$T/r_latest" --repo "$R" --parallel 1
	expect_rc 0 "restore latest --parallel 1"
	treecmp "$SRC" "$T/r_latest"

	v snapshot delete "$S1" --repo "$R"
	expect_rc 0 "snapshot delete"
	expect_grep "^deleted ${S1}\$" "$OUT" "snapshot delete prints 'deleted <id>'"
	v snapshot list -o json --repo "$R"
	printf '%s\n' "$OUT" >"$T/l.json"
	ids=$(repotool snaplist "$T/l.json" 2>/dev/null | sed -n 's/^id=\([^ ]*\).*/\1/p' | xargs)
	expect_eq "$S2" "$ids" "after deleting S1 only S2 is listed"
	v snapshot delete "$S1" --repo "$R"
	expect_rc 5 "deleting an already deleted snapshot"
	v restore "$S1" "$T/r_deleted" --repo "$R"
	expect_rc 5 "restoring a deleted snapshot"
	v restore "$S2" "$T/r_after_delete" --repo "$R"
	expect_rc 0 "the other snapshot restores after a delete"
	treecmp "$SRC" "$T/r_after_delete"
fi

echo "== stats"
v stats --repo "$R"
expect_rc 0 "stats"
expect_grepi 'snapshot' "$OUT" "stats table mentions snapshots"
v stats -o json --repo "$R"
expect_rc 0 "stats -o json"
printf '%s\n' "$OUT" >"$T/stats.json"
sn=$(repotool jsonfind "$T/stats.json" '^snapshots?(_count)?$' | clip 1 | sed 's/.*=//')
expect_eq 1 "$sn" "stats -o json counts 1 snapshot"

echo "== gc"
head -c 2000000 /dev/urandom >"$T/unique.bin"
mkdir -p "$T/src_gc"
cp "$T/unique.bin" "$T/src_gc/"
snap "$R" "$T/src_gc"
SG=$SNAP
if [[ -n $SG ]]; then
	v snapshot delete "$SG" --repo "$R"
	expect_rc 0 "delete the snapshot holding unique data"
	before_files=$(find "$R" -type f | sort | md5sum)
	before_size=$(du -sb "$R" | cut -f1)
	v gc --dry-run --repo "$R"
	expect_rc 0 "gc --dry-run"
	expect_eq "$before_files" "$(find "$R" -type f | sort | md5sum)" "gc --dry-run deleted nothing"
	[[ -n $OUT ]] && pass "gc --dry-run prints a summary: $(head -n 1 <<<"$OUT")" ||
		fail "gc --dry-run: expected a summary on stdout, got nothing"
	v gc --repo "$R"
	expect_rc 0 "gc"
	after_size=$(du -sb "$R" | cut -f1)
	if ((after_size < before_size - 1000000)); then
		pass "gc freed the deleted snapshot's data ($before_size -> $after_size bytes)"
	else
		fail "gc: expected the repository to shrink by ~2 MB, got $before_size -> $after_size bytes"
	fi
	check_clean "$R" --read-data
	v restore "$S2" "$T/r_after_gc" --repo "$R"
	expect_rc 0 "the remaining snapshot restores after gc"
	treecmp "$SRC" "$T/r_after_gc"
fi

echo "== key slots"
v key list --repo "$R"
expect_rc 0 "key list"
expect_grep '^ *ID +CREATED +HOST +KDF' "$OUT" "key list header"
expect_eq 1 "$(tail -n +2 <<<"$OUT" | grep -c . || true)" "a new repository has one key slot"
SLOT1=$(tail -n +2 <<<"$OUT" | awk 'NF{print $1; exit}')

STOWAGE_NEW_PASSWORD=second-password v key add --repo "$R"
expect_rc 0 "key add (STOWAGE_NEW_PASSWORD)"
SLOT2=$(tail -n 1 <<<"$OUT" | tr -d '[:space:]')
[[ -n $SLOT2 && $SLOT2 != "$SLOT1" ]] && pass "key add prints the new slot ID $SLOT2" ||
	fail "key add: expected a new slot ID on stdout, got '$OUT'"
v key list --repo "$R"
expect_eq 2 "$(tail -n +2 <<<"$OUT" | grep -c . || true)" "two key slots after key add"
expect_grep "^ *$SLOT2( |$)" "$OUT" "key list shows the new slot"
# new_repo's --kdf-log-n alone selects scrypt (as before Argon2id); key add
# without KDF options writes the default, Argon2id 16 MiB, 6 passes.
expect_grep "^ *$SLOT1 .* scrypt N=2\^10 r=8 p=1( |$)" "$OUT" "key list: the --kdf-log-n 10 slot is scrypt N=2^10"
expect_grep "^ *$SLOT2 .* argon2id m=16MiB t=6 p=1( |$)" "$OUT" "key list: key add's default slot is Argon2id m=16MiB t=6"
v key list --repo "$R" -o json
expect_rc 0 "key list -o json"
if python3 -c '
import json, sys
slots = {k["id"]: k for k in json.load(sys.stdin)}
a, b = slots[sys.argv[1]], slots[sys.argv[2]]
assert (a["kdf"], a["log_n"], a["r"], a["p"]) == ("scrypt", 10, 8, 1), a
assert (b["kdf"], b["memory_kib"], b["passes"], b["lanes"]) == ("argon2id", 16384, 6, 1), b
' "$SLOT1" "$SLOT2" <<<"$OUT"; then
	pass "key list -o json gives each slot's KDF and parameters"
else
	fail "key list -o json: KDF fields, got:"
	show_output
fi
for bad in "--kdf bcrypt" "--kdf-memory 3" "--kdf-memory 2048" "--kdf-passes 0" "--kdf-passes 33" \
	"--kdf scrypt --kdf-memory 4" "--kdf argon2id --kdf-log-n 12" "--kdf-log-n 12 --kdf-passes 2"; do
	# shellcheck disable=SC2086
	STOWAGE_NEW_PASSWORD=unused v key add --repo "$R" $bad
	expect_rc 2 "key add $bad is a usage error"
done
v snapshot list --repo "$R"
expect_rc 0 "the first password still opens"
STOWAGE_PASSWORD=second-password v snapshot list --repo "$R"
expect_rc 0 "the added password opens"
printf 'third-password\n' >"$T/pw3"
STOWAGE_NEW_PASSWORD=ignored v key add --repo "$R" --new-password-file "$T/pw3" --kdf-memory 1 --kdf-passes 2
expect_rc 0 "key add --new-password-file"
SLOT3=$(tail -n 1 <<<"$OUT" | tr -d '[:space:]')
v key list --repo "$R"
expect_grep "^ *$SLOT3 .* argon2id m=1MiB t=2 p=1( |$)" "$OUT" "key add --kdf-memory 1 --kdf-passes 2 is in key list"
STOWAGE_PASSWORD=third-password v snapshot list --repo "$R"
expect_rc 0 "--new-password-file wins over STOWAGE_NEW_PASSWORD"

STOWAGE_PASSWORD=second-password STOWAGE_NEW_PASSWORD=changed-password v key change --repo "$R"
expect_rc 0 "key change"
SLOTC=$(tail -n 1 <<<"$OUT" | tr -d '[:space:]')
[[ -n $SLOTC && $SLOTC != "$SLOT2" ]] && pass "key change prints a new slot ID $SLOTC" ||
	fail "key change: expected a new slot ID on stdout, got '$OUT'"
STOWAGE_PASSWORD=second-password v snapshot list --repo "$R"
expect_rc 4 "the changed (old) password is rejected"
expect_grepi 'password' "$ERR" "rejected password message mentions the password"
STOWAGE_PASSWORD=changed-password v snapshot list --repo "$R"
expect_rc 0 "the new password from key change opens"
v snapshot list --repo "$R"
expect_rc 0 "the first password is unaffected by key change"
v key list --repo "$R"
expect_no_grep "^ *$SLOT2( |$)" "$OUT" "the changed slot is gone from key list"
expect_eq 3 "$(tail -n +2 <<<"$OUT" | grep -c . || true)" "three key slots (1, 3, changed)"

# Removing the slot in use needs --force; the last slot never goes.
STOWAGE_PASSWORD=third-password v key remove "$SLOT3" --repo "$R"
if ((RC != 0)); then pass "key remove of the slot in use without --force is refused (exit $RC)"; else fail "key remove of the slot in use: expected a refusal, got exit 0"; fi
STOWAGE_PASSWORD=third-password v key remove "$SLOT3" --repo "$R" --force
expect_rc 0 "key remove --force of the slot in use"
expect_grep "^removed $SLOT3\$" "$OUT" "key remove prints 'removed <slot-id>'"
STOWAGE_PASSWORD=third-password v snapshot list --repo "$R"
expect_rc 4 "a removed slot's password is rejected"
STOWAGE_PASSWORD=changed-password v key remove "$SLOT1" --repo "$R"
expect_rc 0 "key remove of another slot"
v snapshot list --repo "$R"
expect_rc 4 "the first password is rejected after its slot was removed"
STOWAGE_PASSWORD=changed-password v key list --repo "$R"
expect_eq 1 "$(tail -n +2 <<<"$OUT" | grep -c . || true)" "one key slot left"
STOWAGE_PASSWORD=changed-password v key remove "$SLOTC" --repo "$R" --force
if ((RC != 0)); then pass "removing the last key slot is refused even with --force (exit $RC)"; else fail "key remove of the last slot: expected a refusal, got exit 0"; fi
STOWAGE_PASSWORD=changed-password v restore latest "$T/r_after_keys" --repo "$R"
expect_rc 0 "data restores with the changed password"
treecmp "$SRC" "$T/r_after_keys"
export STOWAGE_PASSWORD=changed-password

echo "== partial snapshot: unreadable files exit 3"
PSRC=$T/psrc
PR=$T/prepo
mkdir -p "$PSRC/locked_dir"
echo readable >"$PSRC/readable.txt"
echo secret >"$PSRC/unreadable.txt"
echo hidden >"$PSRC/locked_dir/inside.txt"
chmod 000 "$PSRC/unreadable.txt" "$PSRC/locked_dir"
RUN_AS=()
if is_root; then
	if command -v setpriv >/dev/null; then
		RUN_AS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
		chown -R 65534:65534 "$PSRC"
		mkdir -p "$PR"
		chown 65534:65534 "$PR"
	else
		note "running as root without setpriv: root reads unreadable files; partial snapshot not checked"
	fi
fi
if ! is_root || ((${#RUN_AS[@]})); then
	set +e
	"${RUN_AS[@]}" "$STOWAGE" vault init --repo "$PR" --kdf-log-n 10 </dev/null >"$T/.out" 2>"$T/.err"
	RC=$?
	set -e
	expect_rc 0 "init as an unprivileged user"
	set +e
	"${RUN_AS[@]}" "$STOWAGE" vault snapshot create "$PSRC" --repo "$PR" </dev/null >"$T/.out" 2>"$T/.err"
	RC=$?
	set -e
	OUT=$(cat "$T/.out")
	ERR=$(cat "$T/.err")
	expect_rc 3 "snapshot create with an unreadable file and directory"
	expect_grep 'unreadable\.txt' "$ERR" "stderr names the unreadable file"
	expect_grep 'locked_dir' "$ERR" "stderr names the unreadable directory"
	PID_=$(grep -E '^[0-9a-f]{64}$' <<<"$OUT" | tail -n 1 || true)
	[[ -n $PID_ ]] && pass "the partial snapshot's ID is printed" ||
		fail "partial snapshot: expected its ID on stdout, got '$OUT'"
	v snapshot list -o json --repo "$PR"
	printf '%s\n' "$OUT" >"$T/l.json"
	expect_eq "$PID_" "$(repotool snaplist "$T/l.json" 2>/dev/null | sed -n 's/^id=\([^ ]*\).*/\1/p' | xargs)" \
		"the partial snapshot is listed"
	v restore latest "$T/r_partial" --repo "$PR"
	expect_rc 0 "restore of the partial snapshot"
	expect_eq readable "$(cat "$T/r_partial/readable.txt" 2>/dev/null || true)" "the readable file was saved"
fi

echo "== benchmark"
SW_TIMEOUT=120 v benchmark
expect_rc 0 "benchmark"
for w in aes-256-gcm chacha20-poly1305 hmac-sha256 blake2b zstd lz4 gzip chunk; do
	expect_grepi "$w" "$OUT" "benchmark reports $w"
done

finish
