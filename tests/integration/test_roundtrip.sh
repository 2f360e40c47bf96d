#!/usr/bin/env bash
# Snapshot and restore a tree with every kind of entry and compare
# everything treecmp.py knows (type, bytes, mode, owner, mtime ns, xattrs,
# symlink targets, hard-link groups, sparseness). Then change the tree and
# check diff, ls, snapshot list -o json, restore latest, restore --path,
# the reuse of unchanged files, a path longer than PATH_MAX and a matrix of
# repository options.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_binary

R=$T/repo
SRC=$T/src

echo "== fixture"
FX=$(mkfixture roundtrip "$SRC")
echo "$FX"
TREECMP_ARGS=()
if [[ $FX == *xattrs=no* ]]; then
	note "user xattrs not supported on $(df --output=fstype "$T" | tail -n 1); xattr checks skipped"
	TREECMP_ARGS+=(--no-xattr)
fi
if [[ $FX == *owners=no* ]]; then
	note "not root: other owners are not in the fixture; owner checks skipped"
	TREECMP_ARGS+=(--no-owner)
fi
NFILES=$(find "$SRC" -type f -printf x | wc -c)

echo "== init + first snapshot"
new_repo "$R"
snap "$R" "$SRC" --tag run=1 --tag env=test --host rt-host
S1=$SNAP
[[ -n $S1 ]] || die "first snapshot failed; nothing else can be checked"

echo "== restore the first snapshot"
restore_cmp "$R" "$S1" "$T/r1" "$SRC" "${TREECMP_ARGS[@]}"
if [[ -z $OUT ]]; then
	fail "vault restore stdout: expected a summary line, got nothing"
else
	pass "vault restore prints a summary: $(head -n 1 <<<"$OUT")"
fi

# Hard links explicitly (treecmp checks the groups too; this is the
# readable version of the same assertion).
if [[ -e $T/r1/hl1 && -e $T/r1/hl2 && -e $T/r1/nested/a/hl3 ]]; then
	i1=$(stat -c %i "$T/r1/hl1")
	i2=$(stat -c %i "$T/r1/hl2")
	i3=$(stat -c %i "$T/r1/nested/a/hl3")
	expect_eq "$i1 $i1" "$i2 $i3" "restored hl2 and nested/a/hl3 share hl1's inode"
else
	fail "restored hard links: expected hl1, hl2, nested/a/hl3 to exist, got missing ones"
fi
# Sparseness, readable version.
if [[ -e $T/r1/sparse.img ]]; then
	blocks=$(stat -c %b "$T/r1/sparse.img")
	bytes=$((blocks * 512))
	if ((bytes < 16 * 1024 * 1024)); then
		pass "restored sparse.img (64 MiB) allocates $bytes bytes"
	else
		fail "restored sparse.img: expected < 16 MiB allocated, got $bytes bytes"
	fi
fi
if [[ -e $T/r1/sparse_4g.img ]]; then
	bytes=$(($(stat -c %b "$T/r1/sparse_4g.img") * 512))
	if ((bytes < 64 * 1024 * 1024)); then
		pass "restored sparse_4g.img (4 GiB) allocates $bytes bytes"
	else
		fail "restored sparse_4g.img: expected < 64 MiB allocated, got $bytes bytes"
	fi
fi

echo "== vault ls"
# Entries may be printed as names or paths, with a trailing / for dirs.
ls_names()
{
	printf '%s\n' "$OUT" | sed -e 's#/$##' -e 's#.*/##' | LC_ALL=C sort
}
v ls "$S1" --repo "$R"
expect_rc 0 "vault ls <id>"
names=$(ls_names)
for n in small.txt random.bin nested emptydir link_rel link_dangling hl1 many sparse.img mode_0600; do
	if grep -qxF -- "$n" <<<"$names"; then
		pass "vault ls <id> lists $n"
	else
		fail "vault ls <id>: expected an entry '$n', got:"
		head -n 20 <<<"$OUT" | cat -v | sed 's/^/  | /'
	fi
done
expect_no_grep '^f0000$' "$names" "vault ls <id> is not recursive (no many/f0000)"

v ls "${S1:0:8}" nested/a --repo "$R"
expect_rc 0 "vault ls <8-digit-prefix> nested/a"
expect_eq "$(printf '%s\n' b hl3 link_up top.txt)" "$(ls_names)" \
	"vault ls <id> nested/a lists exactly its entries"

v ls "$S1" nested/a -l --repo "$R"
expect_rc 0 "vault ls -l <id> nested/a"
line=$(grep -F 'top.txt' <<<"$OUT" || true)
expect_grep '(-rw-r--r--|(^|[^0-7])0?644([^0-7]|$))' "$line" "vault ls -l shows top.txt's mode 0644"
expect_grep '(^|[^0-9])9([^0-9]|$)' "$line" "vault ls -l shows top.txt's size 9"

echo "== change the tree, second snapshot"
$PY - "$SRC/random.bin" <<'EOF'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(3 << 20)
    f.write(b"changed in the middle" * 5)
EOF
rm "$SRC/compressible.txt"
echo "a new file" >"$SRC/added.txt"
echo "deep file, changed" >"$SRC/nested/a/b/c/d/e/file.txt"
chmod 0640 "$SRC/mode_0600"
snap "$R" "$SRC" --tag run=2 --tag env=test
S2=$SNAP

echo "== vault diff"
if [[ -n $S2 ]]; then
	v diff "$S1" "$S2" --repo "$R"
	expect_rc 0 "vault diff <s1> <s2>"
	printf '%s\n' "$OUT" >"$T/diff.out"
	set +e
	got=$($PY - "$T/diff.out" <<'EOF'
import re, sys
lines = [l for l in open(sys.argv[1], encoding="utf-8", errors="replace").read().split("\n") if l]
# Directories whose content changed may be listed as modified: ignore them.
dirs = {"", ".", "nested", "nested/a", "nested/a/b", "nested/a/b/c",
        "nested/a/b/c/d", "nested/a/b/c/d/e"}
bad = [l for l in lines if not re.match(r"^[+\-M] \S", l)]
if bad:
    print("malformed lines: %r" % bad)
    sys.exit(1)
entries = [(l[0], l[2:].strip("/").removeprefix("./")) for l in lines]
paths = [p for _, p in entries]
if paths != sorted(paths):
    print("not sorted by path: %r" % paths)
    sys.exit(1)
got = sorted("%s %s" % (m, p) for m, p in entries if not (m == "M" and p in dirs))
print("\n".join(got))
EOF
)
	rc=$?
	set -e
	want=$(printf '%s\n' '+ added.txt' '- compressible.txt' 'M mode_0600' \
		'M nested/a/b/c/d/e/file.txt' 'M random.bin')
	if ((rc != 0)); then
		fail "vault diff output: expected sorted '+|-|M path' lines, got: $got"
		sed 's/^/  | /' "$T/diff.out" | cat -v | clip 20
	else
		expect_eq "$want" "$got" "vault diff lists exactly the changes (directories ignored)"
	fi
fi

echo "== snapshot list -o json"
v snapshot list -o json --repo "$R"
expect_rc 0 "vault snapshot list -o json"
printf '%s\n' "$OUT" >"$T/list.json"
if parsed=$(repotool snaplist "$T/list.json" 2>&1); then
	pass "snapshot list -o json parses"
	expect_eq 2 "$(grep -c '^id=' <<<"$parsed")" "number of snapshots listed"
	expect_eq "$S1 $S2" "$(sed -n 's/^id=\([^ ]*\).*/\1/p' <<<"$parsed" | xargs)" \
		"snapshot IDs, oldest first"
	expect_grep "^id=$S1 .*tags=.*env=test.*run=1" "$parsed" "first snapshot has tags env=test,run=1"
	expect_grep "^id=$S2 .*tags=.*env=test.*run=2" "$parsed" "second snapshot has tags env=test,run=2"
	expect_grep "^id=$S1 host=rt-host " "$parsed" "first snapshot has host rt-host (--host)"
	expect_grep "^id=$S1 host=.* path=[^ ]*/src( |$)" "$parsed" "first snapshot's path is the source dir"
else
	fail "snapshot list -o json: expected a JSON array of snapshots, got: $parsed"
	head -c 2000 "$T/list.json" | sed 's/^/  | /'
fi
v snapshot list -o json --tag run=2 --repo "$R"
printf '%s\n' "$OUT" >"$T/list2.json"
parsed=$(repotool snaplist "$T/list2.json" 2>&1 || true)
expect_eq "$S2" "$(sed -n 's/^id=\([^ ]*\).*/\1/p' <<<"$parsed" | xargs)" \
	"snapshot list --tag run=2 lists only the second snapshot"
v snapshot list --repo "$R"
expect_rc 0 "vault snapshot list (table)"
expect_grep '^ *ID +TIME +HOST +PATH +FILES +SIZE +TAGS' "$OUT" "table header"
expect_eq 2 "$(grep -cE "^ *(${S1:0:8}|${S2:0:8})" <<<"$OUT" || true)" "table has a row per snapshot"

echo "== restore latest"
restore_cmp "$R" latest "$T/r2" "$SRC" "${TREECMP_ARGS[@]}"

echo "== unchanged third snapshot reuses files"
sw vault snapshot create "$SRC" --repo "$R" --json --tag run=3
expect_rc 0 "vault snapshot create (unchanged tree, --json)"
S3=$(grep -E '^[0-9a-f]{64}$' <<<"$OUT" | tail -n 1 || true)
if [[ -z $S3 ]]; then
	# With --json the ID may be inside a JSON result instead.
	S3=$(grep -oE '[0-9a-f]{64}' <<<"$OUT" | tail -n 1 || true)
fi
printf '%s\n' "$ERR" >"$T/summary.jsonl"
printf '%s\n' "$OUT" >>"$T/summary.jsonl"
if sum=$(repotool summary "$T/summary.jsonl"); then
	pass "snapshot create --json prints a summary line: ${sum:0:300}"
	printf '%s\n' "$sum" >"$T/summary.json"
	reuse=$(repotool jsonfind "$T/summary.json" 'reus|unchang|unmodified|skipped' || true)
	readb=$(repotool jsonfind "$T/summary.json" '^(bytes_?read|read_?bytes|bytes_?hashed|bytes_?processed)$' || true)
	if [[ -z $reuse && -z $readb ]]; then
		note "the summary has no files-reused / bytes-read field; reuse of unchanged files not checked"
	fi
	if [[ -n $reuse ]]; then
		n=$(grep -iE 'file' <<<"$reuse" | clip 1 | sed 's/.*=//')
		if [[ $n =~ ^[0-9]+$ ]]; then
			if ((n * 10 >= NFILES * 9)); then
				pass "unchanged snapshot reused $n of $NFILES files ($reuse)"
			else
				fail "unchanged snapshot: expected ~$NFILES files reused, got $n ($reuse)"
			fi
		else
			note "reuse fields found but no file count: $reuse"
		fi
	fi
	if [[ -n $readb ]]; then
		n=$(head -n 1 <<<"$readb" | sed 's/.*=//')
		if [[ $n =~ ^[0-9]+$ ]] && ((n < 1024 * 1024)); then
			pass "unchanged snapshot read $n bytes of file data ($readb)"
		else
			fail "unchanged snapshot: expected < 1 MiB of file data read, got $readb"
		fi
	fi
else
	fail "snapshot create --json: expected a {\"type\":\"summary\",...} line on stderr, got:"
	head -n 10 "$T/summary.jsonl" | sed 's/^/  | /'
fi
if [[ -n $S3 && -n $S2 ]]; then
	v diff "$S2" "$S3" --repo "$R"
	expect_rc 0 "vault diff of two snapshots of an unchanged tree"
	expect_eq "" "$(grep -vE '^M (/|\.|\./)?$' <<<"$OUT" || true)" "diff of unchanged snapshots is empty"
fi

echo "== restore --path"
v restore "$S2" "$T/r_sub" --path nested/a --repo "$R"
expect_rc 0 "vault restore --path nested/a"
if [[ -d $T/r_sub/nested/a ]]; then
	sub=$T/r_sub/nested/a
	expect_eq "nested" "$(ls -A "$T/r_sub")" "restore --path nested/a restores only nested"
	expect_eq "a" "$(ls -A "$T/r_sub/nested")" "restore --path nested/a restores only nested/a"
else
	sub=$T/r_sub
fi
# hl3's link partners are outside the subtree, so only compare content etc.
treecmp "$SRC/nested/a" "$sub" "${TREECMP_ARGS[@]}"

echo "== a path longer than PATH_MAX"
mkfixture deep "$T/deep"
snap "$R" "$T/deep"
if [[ -n $SNAP ]]; then
	restore_cmp "$R" "$SNAP" "$T/r_deep" "$T/deep" "${TREECMP_ARGS[@]}"
fi

echo "== check"
check_clean "$R" --read-data

echo "== restore that cannot write a file"
# A file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored) makes writes past 64 KiB
# fail with EFBIG: the big file is reported and removed, everything else is
# restored, the exit code is 3 and the summary does not blame the data.
mkdir -p "$T/fsz/sub"
head -c 300000 /dev/urandom >"$T/fsz/big.bin"
echo "small one" >"$T/fsz/small.txt"
echo "small two" >"$T/fsz/sub/other.txt"
new_repo "$T/fszrepo"
snap "$T/fszrepo" "$T/fsz"
if [[ -n $SNAP ]]; then
	(
		trap '' XFSZ
		ulimit -f 64
		v restore "$SNAP" "$T/fszout" --repo "$T/fszrepo"
		printf '%s\n' "$RC" >"$T/fsz.rc"
	)
	RC=$(cat "$T/fsz.rc")
	OUT=$(cat "$T/.out")
	ERR=$(cat "$T/.err")
	expect_rc 3 "restore with writes failing past 64 KiB"
	expect_grep 'big\.bin' "$ERR" "the warning names the file that could not be written"
	expect_grep 'not restored \(the warnings say why\)' "$OUT" "the summary says entries were not restored"
	expect_no_grep 'damaged' "$OUT" "the summary does not blame damaged data"
	[[ ! -e $T/fszout/big.bin ]] && pass "the partial big.bin was removed" ||
		fail "restore with a write failure: expected big.bin removed, got it present"
	expect_eq "small one" "$(cat "$T/fszout/small.txt" 2>/dev/null)" "small.txt restored"
	expect_eq "small two" "$(cat "$T/fszout/sub/other.txt" 2>/dev/null)" "sub/other.txt restored"
fi

echo "== repository option matrix"
mkfixture roundtrip "$T/small" --no-huge >/dev/null
i=0
for opts in "--hash blake2b-256 --cipher chacha20-poly1305 --compression none" \
	"--hash hmac-sha256 --cipher aes-256-gcm --compression lz4" \
	"--compression gzip:6 --chunk-min 64K --chunk-avg 256K --chunk-max 1M" \
	"--compression zstd:19"; do
	i=$((i + 1))
	echo "-- init $opts"
	# shellcheck disable=SC2086
	new_repo "$T/m$i" $opts
	snap "$T/m$i" "$T/small"
	if [[ -n $SNAP ]]; then
		restore_cmp "$T/m$i" "$SNAP" "$T/mr$i" "$T/small" "${TREECMP_ARGS[@]}"
	fi
	# A per-snapshot compression override on the same repository.
	echo "override" >"$T/small/override_$i"
	snap "$T/m$i" "$T/small" --compression zstd:3
	if [[ -n $SNAP ]]; then
		restore_cmp "$T/m$i" "$SNAP" "$T/mr${i}b" "$T/small" "${TREECMP_ARGS[@]}"
	fi
	check_clean "$T/m$i" --read-data
done

finish
