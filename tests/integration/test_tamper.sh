#!/usr/bin/env bash
# Damage each kind of repository object (flip a byte in the middle,
# truncate, delete) in a copy of a repository and check that:
#  - `vault check --read-data` exits 6 and names the damaged object (and,
#    for data, the affected snapshots and the file path);
#  - restore never produces a wrong file silently: exit 0 means the tree is
#    identical; exit 3 means every differing path was named on stderr;
#    unaffected files are byte-identical;
#  - nothing crashes (no exit >= 128).
# Also: a wrong password exits 4 with a message about the password.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_binary

R=$T/repo
SRC=$T/src
mkdir -p "$SRC/docs" "$SRC/cfg/sub"
head -c $((8 * 1024 * 1024)) /dev/urandom >"$SRC/big.bin"
for i in $(seq 1 10); do head -c 2000 /dev/urandom >"$SRC/docs/doc$i.dat"; done
for i in $(seq 1 10); do echo "config line $i" >"$SRC/cfg/sub/c$i.conf"; done
echo "plain text" >"$SRC/readme.txt"

new_repo "$R"
snap "$R" "$SRC" --tag n=1
S1=$SNAP
echo "added later" >"$SRC/later.txt"
snap "$R" "$SRC" --tag n=2
S2=$SNAP
[[ -n $S1 && -n $S2 ]] || die "could not make the two snapshots the damage cases need"
check_clean "$R" --read-data

echo "== repository layout"
repotool objects "$R" | sort | tee "$T/objects.txt" | sed 's/^/  /'
for kind in data meta index snapshots keys; do
	if grep -q "^$kind " "$T/objects.txt"; then
		pass "layout: objects under $kind/"
	else
		fail "layout: expected objects under $kind/ (docs/FORMAT.md, src/vault/vault.h), got none"
	fi
done

# The largest object of a kind (for data: the pack holding most of big.bin).
largest()
{
	grep "^$1 " "$T/objects.txt" | sort -k2,2n | tail -n 1 | cut -d' ' -f3- || true
}
# The object ID as messages would print it: the file name.
obj_id()
{
	basename "$1"
}

no_crash()
{
	if ((RC >= 128 && RC != 130)); then
		fail "$*: expected a clean exit, got $RC (killed by signal $((RC - 128)))"
		show_output
	fi
}

# expect_named TEXT ID DESC: TEXT mentions ID (or at least its first 12
# hex digits).
expect_named()
{
	local text=$1 id=$2
	shift 2
	if grep -qF -- "$id" <<<"$text" || grep -qF -- "${id:0:12}" <<<"$text"; then
		pass "$*"
	else
		fail "$*: expected '${id:0:12}...' in the output, got:"
		printf '%s\n' "$text" | clip 20 | cat -v | sed 's/^/  | /'
	fi
}

# restore_verdict CASE-REPO SNAP TARGET ALLOWED-EXITS DESC
restore_verdict()
{
	local repo=$1 id=$2 target=$3 allowed=$4
	shift 4
	v restore "$id" "$target" --repo "$repo"
	no_crash "$* restore"
	expect_rc_in "$allowed" "$* restore"
	local rerr=$ERR rrc=$RC diffs
	if [[ ! -d $target ]]; then
		if ((rrc == 0 || rrc == 3)); then
			fail "$* restore: exit $rrc but no target directory was created"
		fi
		return 0
	fi
	diffs=$(treecmp_py "$SRC_AT" "$target" --paths-only || true)
	if [[ -z $diffs ]]; then
		pass "$* restore: every file is byte-identical"
		return 0
	fi
	if ((rrc == 0)); then
		fail "$* restore: exit 0, but the restored tree differs in:"
		sed 's/^/  | /' <<<"$diffs" | clip 20
		return 0
	fi
	if ((rrc != 3)); then
		pass "$* restore failed as a whole (exit $rrc); differences not checked"
		return 0
	fi
	# exit 3: each differing path (or an ancestor directory) is named.
	local p q named unnamed=""
	while IFS= read -r p; do
		named=0
		q=$p
		while [[ -n $q ]]; do
			if grep -qF -- "$q" <<<"$rerr"; then
				named=1
				break
			fi
			[[ $q == */* ]] && q=${q%/*} || q=
		done
		((named)) || unnamed+="$p "
	done <<<"$diffs"
	if [[ -z $unnamed ]]; then
		pass "$* restore: the $(wc -l <<<"$diffs") differing path(s) are all reported on stderr"
	else
		fail "$* restore: expected every damaged file reported on stderr, got unreported differences: $unnamed"
		printf '%s\n' "$rerr" | clip 10 | sed 's/^/  | /'
	fi
	RESTORE_DIFFS=$diffs
}

# A copy of the repository to damage.
fresh_copy()
{
	rm -rf "$T/case"
	cp -a "$R" "$T/case"
}

DATA=$(largest data)
META=$(largest meta)
INDEX=$(largest index)
SNAPOBJ=$(grep -E "^snapshots [0-9]+ snapshots/$S1\$" "$T/objects.txt" | cut -d' ' -f3- || true)
[[ -n $SNAPOBJ ]] || SNAPOBJ=$(largest snapshots)

# The source tree as of S2, for restores of S2; S1 lacks later.txt.
SRC_AT=$SRC

echo "== data pack: flip a byte"
if [[ -n $DATA ]]; then
	fresh_copy
	off=$(repotool flip "$T/case/$DATA")
	echo "flipped byte $off of $DATA"
	v check --read-data --repo "$T/case"
	no_crash "check after data flip"
	expect_rc 6 "check --read-data after flipping a byte of a data pack"
	all="$OUT"$'\n'"$ERR"
	expect_named "$all" "$(obj_id "$DATA")" "check names the damaged data pack"
	expect_named "$all" "$S1" "check names the affected snapshot S1"
	expect_named "$all" "$S2" "check names the affected snapshot S2"
	expect_grep '[1-9][0-9]* errors? w(as|ere) found' "$OUT" "check ends with 'N errors were found'"
	RESTORE_DIFFS=
	restore_verdict "$T/case" "$S2" "$T/rest_dataflip" "3" "data flip:"
	# The flipped byte lies in one blob, so one file is affected: almost
	# always big.bin (99.7% of the pack), rarely one of the small files.
	# check must name exactly that file and no other.
	affected=$RESTORE_DIFFS
	if [[ -z $affected ]]; then
		fail "data flip: expected the restore to miss the damaged file, got no difference"
	else
		expect_eq 1 "$(wc -l <<<"$affected")" "data flip: one file is affected by the restore ($affected)"
		[[ $affected == big.bin ]] || note "the flipped byte hit $affected, not big.bin"
		if grep -qF -- "$affected" <<<"$all"; then
			pass "check names the affected file $affected"
		else
			fail "check after a data flip: expected the affected file '$affected' named, got:"
			printf '%s\n' "$all" | clip 20 | sed 's/^/  | /'
		fi
		blamed=
		while IFS= read -r f; do
			[[ $f == "$affected" ]] && continue
			grep -qF -- "$f" <<<"$all" && blamed+="$f "
		done < <(cd "$SRC" && find . -type f -printf '%P\n')
		expect_eq "" "$blamed" "check blames no unaffected file"
	fi
	# Plain check (structure only) does not read packs: it may pass.
	v check --repo "$T/case"
	no_crash "structure check after data flip"
	expect_rc_in "0 6" "check (structure) after a data flip"
fi

echo "== data pack: truncate"
if [[ -n $DATA ]]; then
	fresh_copy
	repotool truncate "$T/case/$DATA" >/dev/null
	v check --read-data --repo "$T/case"
	no_crash "check after data truncation"
	expect_rc 6 "check --read-data after truncating a data pack"
	all="$OUT"$'\n'"$ERR"
	expect_named "$all" "$(obj_id "$DATA")" "check names the truncated data pack"
	expect_grep 'big\.bin' "$all" "check names the affected file big.bin (truncated pack)"
	restore_verdict "$T/case" "$S2" "$T/rest_datatrunc" "3" "data truncation:"
fi

echo "== data pack: delete"
if [[ -n $DATA ]]; then
	fresh_copy
	rm "$T/case/$DATA"
	v check --repo "$T/case"
	no_crash "check after data deletion"
	expect_rc 6 "check (structure) after deleting a data pack"
	all="$OUT"$'\n'"$ERR"
	expect_named "$all" "$(obj_id "$DATA")" "check names the missing data pack"
	expect_grep 'big\.bin' "$all" "check names the affected file big.bin (missing pack)"
	expect_named "$all" "$S2" "check names the affected snapshot S2 (missing pack)"
	v check --read-data --repo "$T/case"
	expect_rc 6 "check --read-data after deleting a data pack"
	restore_verdict "$T/case" "$S2" "$T/rest_datadel" "3" "data deletion:"
fi

for how in flip truncate delete; do
	echo "== meta pack: $how"
	if [[ -z $META ]]; then
		fail "meta pack $how: expected a metadata pack under meta/, got none"
		continue
	fi
	fresh_copy
	case $how in
	flip) repotool flip "$T/case/$META" >/dev/null ;;
	truncate) repotool truncate "$T/case/$META" >/dev/null ;;
	delete) rm "$T/case/$META" ;;
	esac
	v check --read-data --repo "$T/case"
	no_crash "check after meta $how"
	expect_rc 6 "check --read-data after meta pack $how"
	all="$OUT"$'\n'"$ERR"
	expect_named "$all" "$(obj_id "$META")" "check names the damaged meta pack ($how)"
	if grep -qF "${S1:0:8}" <<<"$all" || grep -qF "${S2:0:8}" <<<"$all"; then
		pass "check names an affected snapshot (meta $how)"
	else
		fail "check after meta $how: expected S1 or S2 named as affected, got:"
		printf '%s\n' "$all" | clip 20 | sed 's/^/  | /'
	fi
	restore_verdict "$T/case" "$S2" "$T/rest_meta_$how" "1 3 6" "meta $how:"
done

for how in flip truncate; do
	echo "== index object: $how"
	if [[ -z $INDEX ]]; then
		fail "index $how: expected an index object under index/, got none"
		continue
	fi
	fresh_copy
	case $how in
	flip) repotool flip "$T/case/$INDEX" >/dev/null ;;
	truncate) repotool truncate "$T/case/$INDEX" >/dev/null ;;
	esac
	v check --read-data --repo "$T/case"
	no_crash "check after index $how"
	expect_rc 6 "check --read-data after index $how"
	all="$OUT"$'\n'"$ERR"
	expect_named "$all" "$(obj_id "$INDEX")" "check names the damaged index object ($how)"
	restore_verdict "$T/case" "$S2" "$T/rest_index_$how" "0 3" "index $how:"
	# Every pack is intact and ends with its own table of blobs
	# (docs/FORMAT.md 4.2: a damaged index's entries can be rebuilt from
	# pack trailers), so no file's data is lost: all should restore.
	if [[ -d $T/rest_index_$how ]] &&
		[[ -z $(treecmp_py "$SRC_AT" "$T/rest_index_$how" --paths-only || true) ]]; then
		pass "index $how: every file restored although an index object is damaged"
	else
		fail "index $how: expected every file restored (the packs are intact), got exit $RC and $(treecmp_py "$SRC_AT" "$T/rest_index_$how" --paths-only 2>/dev/null | wc -l) missing/different paths"
	fi
done

for how in flip truncate; do
	echo "== snapshot object: $how (S1's manifest)"
	if [[ -z $SNAPOBJ ]]; then
		fail "snapshot $how: expected an object under snapshots/, got none"
		continue
	fi
	fresh_copy
	case $how in
	flip) repotool flip "$T/case/$SNAPOBJ" >/dev/null ;;
	truncate) repotool truncate "$T/case/$SNAPOBJ" >/dev/null ;;
	esac
	v check --read-data --repo "$T/case"
	no_crash "check after snapshot $how"
	expect_rc 6 "check --read-data after snapshot object $how"
	all="$OUT"$'\n'"$ERR"
	expect_named "$all" "$(obj_id "$SNAPOBJ")" "check names the damaged snapshot object ($how)"
	# The other snapshot is unaffected.
	restore_verdict "$T/case" "$S2" "$T/rest_snap_$how" "0" "snapshot $how, restoring the undamaged S2:"
	v snapshot list --repo "$T/case"
	no_crash "snapshot list after snapshot $how"
	expect_grep "^ *${S2:0:8}" "$OUT" "snapshot list still shows S2 after S1's manifest $how"
	if [[ $SNAPOBJ == "snapshots/$S1" ]]; then
		v restore "$S1" "$T/rest_snap1_$how" --repo "$T/case"
		no_crash "restore of the damaged snapshot"
		if ((RC != 0)) && [[ -n $ERR ]]; then
			pass "restoring the damaged S1 fails with a message (exit $RC)"
		else
			fail "restoring the damaged S1: expected a non-zero exit and a message, got exit $RC"
			show_output
		fi
	fi
done

echo "== config and key slot damage: clean errors, no crash"
fresh_copy
repotool flip "$T/case/config" >/dev/null
v check --repo "$T/case"
no_crash "check with a damaged config"
if ((RC != 0)) && [[ -n $ERR ]]; then
	pass "check with a damaged config fails with a message (exit $RC)"
else
	fail "check with a damaged config: expected a non-zero exit and a message, got $RC"
fi
fresh_copy
for k in "$T"/case/keys/*; do repotool flip "$k" >/dev/null; done
v snapshot list --repo "$T/case"
no_crash "list with damaged key slots"
expect_rc_in "1 4 6" "snapshot list with every key slot damaged"

echo "== wrong password"
for cmd in "snapshot list" "check" "restore latest $T/rest_wrongpw" "snapshot create $SRC" "key list"; do
	# shellcheck disable=SC2086
	STOWAGE_PASSWORD=not-the-password v $cmd --repo "$R"
	expect_rc 4 "vault $cmd with a wrong password"
	expect_grepi 'password' "$ERR" "vault $cmd with a wrong password: stderr mentions the password"
done
[[ ! -e $T/rest_wrongpw ]] && pass "restore with a wrong password created nothing" ||
	fail "restore with a wrong password: expected no target dir, got one"
v snapshot list -o json --repo "$R"
printf '%s\n' "$OUT" >"$T/l.json"
expect_eq 2 "$(repotool snaplist "$T/l.json" 2>/dev/null | grep -c '^id=' || true)" \
	"a wrong-password snapshot create added no snapshot"
check_clean "$R" --read-data

finish
