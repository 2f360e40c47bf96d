#!/bin/sh
# Regenerate the seed corpora of the vault fuzz targets under
# tests/fuzz/corpus/ from objects the real code writes (gen_corpus.c).
#
#   tests/fuzz/gen/gen_corpus.sh [build-dir]
#
# build-dir holds a built libstowage_core.a (default: build-rt). Files the
# generator writes replace those of the same name; others are kept.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
build=${1:-$root/build-rt}
lib=$build/libstowage_core.a
[ -f "$lib" ] || { echo "no $lib: build the tree first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
${CC:-cc} -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g \
	-I"$root/src" "$here/gen_corpus.c" "$lib" -o "$tmp/gen_corpus" \
	$(pkg-config --libs jansson libzstd liblz4 libcurl libargon2) -lcrypto -lz -lpthread
"$tmp/gen_corpus" "$root/tests/fuzz/corpus"
for d in "$root"/tests/fuzz/corpus/*/; do
	echo "$(ls "$d" | wc -l) files in $d"
done
