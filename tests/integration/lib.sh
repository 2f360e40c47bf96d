# shellcheck shell=bash disable=SC2034
# Shared helpers for the integration tests. Source it after `set -euo pipefail`:
#
#   . "$(dirname "$0")/lib.sh"
#
# Environment (set by ctest, see tests/CMakeLists.txt):
#   STOWAGE    path to the stowage binary
#   STOW_TESTS the tests/ directory
# Optional:
#   KEEP_TMP=1     keep the temp dir (its path is printed) for debugging
#   SW_TIMEOUT=N   seconds before a single stowage command is considered hung
#
# Conventions: `sw ...` runs `stowage ...` and records RC, OUT and ERR (never
# aborts the script). `expect_*` print "ok: ..." or "FAIL: ...: expected X,
# got Y" and count failures; `finish` exits 1 if any check failed. `die`
# is for setup steps without which the rest of the test is meaningless.

TESTS_DIR=${STOW_TESTS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
IT_DIR=$TESTS_DIR/integration
if [[ -z ${STOWAGE:-} ]]; then
	for c in "$TESTS_DIR/../build-it/stowage" "$TESTS_DIR/../build/stowage"; do
		if [[ -x $c ]]; then STOWAGE=$c; break; fi
	done
fi
STOWAGE=${STOWAGE:-stowage}
SW_TIMEOUT=${SW_TIMEOUT:-180}
PY=${PYTHON:-python3}
treecmp_py() { "$PY" "$IT_DIR/treecmp.py" "$@"; }
mkfixture() { "$PY" "$IT_DIR/mkfixture.py" "$@"; }
repotool() { "$PY" "$IT_DIR/repotool.py" "$@"; }

FAILS=0
CHECKS=0
BG_PIDS=()

export STOWAGE_PASSWORD=${STOWAGE_PASSWORD:-correct horse battery staple}
unset STOWAGE_NEW_PASSWORD STOWAGE_REPO

T=$(mktemp -d "${TMPDIR:-/tmp}/stow-it.XXXXXX")
chmod 755 "$T"

cleanup()
{
	local p
	for p in "${BG_PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null || true
	done
	if [[ ${KEEP_TMP:-0} == 1 ]]; then
		echo "kept temp dir: $T" >&2
	else
		chmod -R u+rwX "$T" 2>/dev/null || true
		rm -rf "$T"
	fi
}
trap cleanup EXIT

# ---------------------------------------------------------------- reporting

pass()
{
	CHECKS=$((CHECKS + 1))
	printf 'ok: %s\n' "$*"
}

fail()
{
	CHECKS=$((CHECKS + 1))
	FAILS=$((FAILS + 1))
	printf 'FAIL: %s\n' "$*"
}

note()
{
	printf 'NOTE: %s\n' "$*"
}

die()
{
	fail "$@"
	printf 'aborting %s: a setup step failed (%d checks failed)\n' \
		"$(basename "$0")" "$FAILS"
	exit 1
}

# Show the last command's output, indented, truncated.
show_output()
{
	if [[ -s $T/.out ]]; then
		echo "  --- stdout (first 40 lines) ---"
		head -n 40 "$T/.out" | cat -v | sed 's/^/  | /'
	fi
	if [[ -s $T/.err ]]; then
		echo "  --- stderr (first 40 lines) ---"
		head -n 40 "$T/.err" | cat -v | sed 's/^/  | /'
	fi
}

finish()
{
	if ((FAILS > 0)); then
		printf '%s: %d of %d checks FAILED\n' "$(basename "$0")" "$FAILS" "$CHECKS"
		exit 1
	fi
	printf '%s: all %d checks passed\n' "$(basename "$0")" "$CHECKS"
	exit 0
}

# ---------------------------------------------------------------- running

# Check the binary exists before anything else: a missing binary is a
# failure, not a skip.
require_binary()
{
	if ! command -v "$STOWAGE" >/dev/null 2>&1; then
		die "stowage binary: expected an executable at STOWAGE='$STOWAGE', got none (build it first)"
	fi
}

# sw ARGS...: run `stowage ARGS...` with a timeout; sets RC, OUT, ERR.
# stdin is /dev/null so nothing can prompt.
sw()
{
	set +e
	timeout -k 5 "$SW_TIMEOUT" "$STOWAGE" "$@" </dev/null >"$T/.out" 2>"$T/.err"
	RC=$?
	set -e
	OUT=$(cat "$T/.out")
	ERR=$(cat "$T/.err")
	if ((RC == 124)); then
		echo "  (stowage $* timed out after ${SW_TIMEOUT}s)"
	fi
	return 0
}

# v ARGS...: shorthand for `sw vault ARGS...`
v()
{
	sw vault "$@"
}

expect_rc()
{
	local want=$1
	shift
	if [[ $RC == "$want" ]]; then
		pass "$* (exit $RC)"
	else
		fail "$*: expected exit $want, got $RC"
		show_output
	fi
}

# expect_rc_in "0 3" DESC
expect_rc_in()
{
	local want=$1 w
	shift
	for w in $want; do
		if [[ $RC == "$w" ]]; then
			pass "$* (exit $RC)"
			return 0
		fi
	done
	fail "$*: expected exit in {$want}, got $RC"
	show_output
}

expect_eq()
{
	local want=$1 got=$2
	shift 2
	if [[ $want == "$got" ]]; then
		pass "$* (= '$got')"
	else
		fail "$*: expected '$want', got '$got'"
	fi
}

# expect_grep REGEX TEXT DESC  (extended regex, must match)
expect_grep()
{
	local re=$1 text=$2
	shift 2
	if grep -Eq -- "$re" <<<"$text"; then
		pass "$*"
	else
		fail "$*: expected output matching /$re/, got:"
		printf '%s\n' "$text" | head -n 30 | cat -v | sed 's/^/  | /'
	fi
}

# expect_grepi: like expect_grep, case-insensitive
expect_grepi()
{
	local re=$1 text=$2
	shift 2
	if grep -Eiq -- "$re" <<<"$text"; then
		pass "$*"
	else
		fail "$*: expected output matching /$re/i, got:"
		printf '%s\n' "$text" | head -n 30 | cat -v | sed 's/^/  | /'
	fi
}

expect_no_grep()
{
	local re=$1 text=$2
	shift 2
	if grep -Eq -- "$re" <<<"$text"; then
		fail "$*: expected no line matching /$re/, got:"
		grep -E -- "$re" <<<"$text" | head -n 10 | cat -v | sed 's/^/  | /'
	else
		pass "$*"
	fi
}

# --------------------------------------------------------------- vault ops

# new_repo PATH [INIT-ARGS...]: init a repository (cheap KDF) or die.
new_repo()
{
	local repo=$1
	shift
	v init --repo "$repo" --kdf-log-n 10 "$@"
	if [[ $RC != 0 ]]; then
		show_output
		die "vault init --repo $repo $*: expected exit 0, got $RC"
	fi
	if ! grep -Eq '^created repository [^ ]+ at .+' <<<"$OUT"; then
		fail "vault init output: expected 'created repository <id> at <location>', got '$OUT'"
	fi
}

# snap REPO DIR [ARGS...]: snapshot create; sets SNAP to the ID or "" and
# records a failure (not fatal) when the exit code or output is wrong.
snap()
{
	local repo=$1 dir=$2
	shift 2
	SNAP=
	v snapshot create "$dir" --repo "$repo" "$@"
	if [[ $RC != 0 ]]; then
		fail "vault snapshot create $dir $*: expected exit 0, got $RC"
		show_output
		return 0
	fi
	local id
	id=$(printf '%s\n' "$OUT" | grep -E '^[0-9a-f]{64}$' | tail -n 1 || true)
	if [[ -z $id ]]; then
		fail "vault snapshot create $dir: expected a 64-hex-digit ID on stdout, got '$OUT'"
		return 0
	fi
	SNAP=$id
	pass "vault snapshot create $(basename "$dir") $* -> ${id:0:12}"
}

# restore_cmp REPO ID TARGET SRC [TREECMP-ARGS...]: restore and compare.
restore_cmp()
{
	local repo=$1 id=$2 target=$3 src=$4
	shift 4
	v restore "$id" "$target" --repo "$repo"
	if [[ $RC != 0 ]]; then
		fail "vault restore $id -> $(basename "$target"): expected exit 0, got $RC"
		show_output
	fi
	treecmp "$src" "$target" "$@"
}

# treecmp SRC DST [ARGS...]: compare trees, record pass/fail with the diff.
treecmp()
{
	local src=$1 dst=$2 out rc
	shift 2
	set +e
	out=$(treecmp_py "$src" "$dst" "$@" 2>&1)
	rc=$?
	set -e
	if ((rc == 0)); then
		pass "tree $(basename "$dst") equals $(basename "$src") ($(tail -n 1 <<<"$out"))"
	else
		fail "tree $(basename "$dst") vs $(basename "$src"): expected identical, got differences:"
		printf '%s\n' "$out" | head -n 60 | sed 's/^/  | /'
	fi
}

# check_clean REPO [ARGS...]: vault check must exit 0 and say so.
check_clean()
{
	local repo=$1
	shift
	v check --repo "$repo" "$@"
	if [[ $RC == 0 ]] && grep -q 'no errors were found' <<<"$OUT"; then
		pass "vault check $* is clean"
	else
		fail "vault check $*: expected exit 0 and 'no errors were found', got exit $RC"
		show_output
	fi
}

is_root()
{
	[[ $(id -u) == 0 ]]
}
