#!/usr/bin/env bash
# Nothing the user put in a snapshot may appear in the repository in the
# clear: file and directory names, contents, xattr names and values, symlink
# targets, tags, host, source path, nor the password. Checked with
# compression none (the worst case) and auto.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
require_binary

SRC=$T/ZEBRA_SRCDIR_9090
mkdir -p "$SRC/ZEBRA_DIR_NAME_4242"

NAME_FILE=ZEBRA_SECRET_NAME_7731.txt
NAME_DIR=ZEBRA_DIR_NAME_4242
SENTENCE="The quick zebra 5519 jumps over the lazy aardvark at midnight."
LINK_TARGET=ZEBRA_LINK_TARGET_3141
XNAME=user.ZEBRA_XATTR_NAME_5521
XVALUE=ZEBRA_XATTR_VALUE_8812
TAGV=ZEBRA_TAG_VALUE_6060
HOSTV=ZEBRA_HOST_1717
export STOWAGE_PASSWORD="ZEBRA_PASSWORD_2929 is the password"

for i in $(seq 1 200); do printf '%s\n' "$SENTENCE"; done >"$SRC/$NAME_FILE"
head -c 4096 /dev/urandom >"$T/block.bin"
# The random block inside a file, between two bits of text.
{
	printf 'header\n'
	cat "$T/block.bin"
	printf 'trailer\n'
} >"$SRC/$NAME_DIR/with_block.bin"
printf '%s\n' "$SENTENCE" >"$SRC/$NAME_DIR/short.txt"
ln -s "$LINK_TARGET" "$SRC/link"
HAVE_XATTR=1
if ! setfattr -n "$XNAME" -v "$XVALUE" "$SRC/$NAME_FILE" 2>/dev/null &&
	! $PY -c "import os,sys; os.setxattr(sys.argv[1], sys.argv[2], sys.argv[3].encode())" \
		"$SRC/$NAME_FILE" "$XNAME" "$XVALUE" 2>/dev/null; then
	note "user xattrs not supported here; xattr needles skipped"
	HAVE_XATTR=0
fi

NEEDLES=("$NAME_FILE" "$NAME_DIR" "ZEBRA_SRCDIR_9090" "$SENTENCE" "quick zebra 5519"
	"$LINK_TARGET" "$TAGV" "$HOSTV" "ZEBRA_PASSWORD_2929" "@$T/block.bin")
if ((HAVE_XATTR)); then
	NEEDLES+=("$XNAME" "ZEBRA_XATTR_NAME_5521" "$XVALUE")
fi
# Also every aligned 32-byte slice of the random block (a partial leak of
# file data would show up as one of these).
for off in 0 32 1024 2048 4064; do
	NEEDLES+=("hex:$(dd if="$T/block.bin" bs=1 skip=$off count=32 2>/dev/null | od -An -tx1 | tr -d ' \n')")
done

# Positive control: the search finds the needles in the source tree.
set +e
ctl=$(repotool search "$SRC" "${NEEDLES[@]}" 2>&1)
set -e
nfound=$(grep -c '^FOUND' <<<"$ctl" || true)
# Names, tags, host, password and xattrs are not in file contents.
expect_grep "FOUND quick zebra 5519 in $NAME_FILE" "$ctl" "control: search finds the sentence in the source"
expect_grep "FOUND @.*block.bin in $NAME_DIR/with_block.bin" "$ctl" "control: search finds the random block in the source"
if ((nfound >= 5)); then
	pass "control: the search finds $nfound needles in the source tree"
else
	fail "control: expected >= 5 needles found in the source tree, got $nfound"
fi
# Positive control for grep too.
expect_eq 200 "$(grep -rc -a -F -- "$SENTENCE" "$SRC/$NAME_FILE")" "control: grep counts the sentence in the source"

i=0
for comp in none auto; do
	i=$((i + 1))
	R=$T/repo_$comp
	echo "== compression $comp"
	new_repo "$R" --compression "$comp"
	snap "$R" "$SRC" --tag "secret=$TAGV" --host "$HOSTV" --compression "$comp"
	S=$SNAP
	[[ -n $S ]] || continue

	# The snapshot really holds the data (so the search is not vacuous).
	v ls "$S" --repo "$R"
	expect_grep "$NAME_FILE" "$OUT" "vault ls shows the secret file name (it was stored)"
	restore_cmp "$R" "$S" "$T/restored_$comp" "$SRC"

	nobj=$(find "$R" -type f | wc -l)
	size=$(du -sb "$R" | cut -f1)
	if ((nobj >= 4)); then
		pass "repository has $nobj objects ($size bytes)"
	else
		fail "repository objects: expected >= 4 files, got $nobj"
	fi
	if [[ $comp == none ]]; then
		# Uncompressed: the repository must hold at least the raw bytes.
		if ((size >= 4096 + 200 * ${#SENTENCE})); then
			pass "uncompressed repository is at least as large as the data ($size bytes)"
		else
			fail "uncompressed repository: expected >= $((4096 + 200 * ${#SENTENCE})) bytes, got $size"
		fi
	fi

	# grep each text needle over every repository file, binary-safe.
	for n in "${NEEDLES[@]}"; do
		[[ $n == @* || $n == hex:* ]] && continue
		hits=$(grep -rc -a -F -- "$n" "$R" | grep -v ':0$' || true)
		if [[ -z $hits ]]; then
			pass "'$n' does not appear in the repository ($comp)"
		else
			fail "'$n' in the repository ($comp): expected 0 occurrences, got: $hits"
		fi
	done
	# Binary needles (the random block and slices of it) with Python.
	set +e
	found=$(repotool search "$R" "${NEEDLES[@]}" 2>&1)
	rc=$?
	set -e
	if ((rc == 0)); then
		pass "no needle (names, contents, random block, xattrs, tags, host, password) in any repository object ($comp)"
	else
		fail "repository ($comp): expected no plaintext, got:"
		grep '^FOUND' <<<"$found" | sed 's/^/  | /'
	fi
	check_clean "$R" --read-data
done

finish
