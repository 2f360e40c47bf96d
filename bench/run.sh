#!/usr/bin/env bash
# stowage benchmark: stowage vs restic vs borg on the same dataset.
# Run by hand (not a test). See bench/README.md for the methodology.
#
#   bench/run.sh [--size 2G] [--small-files 1000000] [--tools stowage,restic,borg]
#                [--workdir DIR] [--stowage PATH] [--seed N] [--regen]
#                [--borg-encryption repokey|repokey-blake2] [--wait-quiet SECONDS]
#                [--settle SECONDS] [--s3]
#
# --s3: the repositories live on s3rver (tests/s3) on 127.0.0.1 instead of
# the local filesystem; stowage and restic only, small files off by default;
# results go to WORKDIR/results-s3.{json,md}.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
GEN=(python3 "$BENCH_DIR/gen_dataset.py")

SIZE=2G
SMALL=1000000
TOOLS=stowage,restic,borg
WORKDIR=$BENCH_DIR/work
STOWAGE=$REPO_ROOT/build/stowage
SEED=42
REGEN=0
BORG_ENC=repokey
WAIT_QUIET=0
SETTLE=361 # see the settle stamp below
S3=0
TOOLS_SET=0
SMALL_SET=0
PASSWORD=stowage-bench-password

usage() {
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
	cat <<'EOF'

  --size SIZE          main dataset size, K/M/G suffixes (powers of 1024); default 2G
  --small-files N      small-files run with N files (0 skips it); default 1000000
  --tools LIST         comma-separated subset of stowage,restic,borg, run in this order
  --workdir DIR        where datasets, repositories and results go; default bench/work
  --stowage PATH       the stowage binary; default build/stowage
  --seed N             dataset seed; default 42
  --regen              rebuild the datasets even if a matching one exists in the work dir
  --borg-encryption M  borg init -e mode; default repokey (AES-CTR + HMAC-SHA256)
  --wait-quiet SECS    before each timed step, wait up to SECS for other processes to
                       use < 15 % of the CPUs (a shared machine); default 0 (no wait)
  --s3                 repositories on a local s3rver (127.0.0.1, free port) instead of
                       the filesystem; tools default to stowage,restic (borg has no S3),
                       --small-files defaults to 0; outputs WORKDIR/results-s3.*
EOF
}

die() { echo "run.sh: error: $*" >&2; exit 1; }
say() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

while [[ $# -gt 0 ]]; do
	opt=$1
	val=
	if [[ $opt == --*=* ]]; then val=${opt#*=}; opt=${opt%%=*}; fi
	case $opt in
	-h | --help) usage; exit 0 ;;
	--regen) REGEN=1; shift; continue ;;
	--s3) S3=1; shift; continue ;;
	--size | --small-files | --tools | --workdir | --stowage | --seed | --borg-encryption | --wait-quiet | --settle)
		if [[ -z $val ]]; then
			[[ $# -ge 2 ]] || die "$opt needs a value"
			val=$2; shift
		fi
		shift ;;
	*) usage >&2; die "unknown option: $opt" ;;
	esac
	case $opt in
	--size) SIZE=$val ;;
	--small-files) SMALL=$val; SMALL_SET=1 ;;
	--tools) TOOLS=$val; TOOLS_SET=1 ;;
	--workdir) WORKDIR=$val ;;
	--stowage) STOWAGE=$val ;;
	--seed) SEED=$val ;;
	--borg-encryption) BORG_ENC=$val ;;
	--wait-quiet) WAIT_QUIET=$val ;;
	--settle) SETTLE=$val ;;
	esac
done

if ((S3)); then
	((TOOLS_SET)) || TOOLS=stowage,restic
	((SMALL_SET)) || SMALL=0
	[[ ",$TOOLS," != *,borg,* ]] || die "--s3: borg has no S3 backend; drop it from --tools"
fi
[[ $SMALL =~ ^[0-9]+$ ]] || die "--small-files wants a number, got '$SMALL'"
[[ $SEED =~ ^[0-9]+$ ]] || die "--seed wants a number, got '$SEED'"
[[ $WAIT_QUIET =~ ^[0-9]+$ ]] || die "--wait-quiet wants seconds, got '$WAIT_QUIET'"
[[ $SETTLE =~ ^[0-9]+$ ]] || die "--settle wants seconds, got '$SETTLE'"
SIZE_B=$(python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import gen_dataset as g; print(g.parse_size(sys.argv[2]))' "$BENCH_DIR" "$SIZE" 2>/dev/null) ||
	die "bad --size '$SIZE' (examples: 2G, 200M, 500M)"
((SIZE_B >= 10 * 1024 * 1024)) || die "--size must be at least 10M"

# ------------------------------------------------------------------ tools
IFS=, read -r -a TOOL_LIST <<<"$TOOLS"
((${#TOOL_LIST[@]} > 0)) || die "--tools is empty"
[[ -x /usr/bin/time ]] || die "GNU time not found at /usr/bin/time (Debian package 'time')"
command -v python3 >/dev/null || die "python3 not found"
for t in "${TOOL_LIST[@]}"; do
	case $t in
	restic) command -v restic >/dev/null ||
		die "restic not found in PATH (Debian package 'restic'), or drop it from --tools" ;;
	borg)
		command -v borg >/dev/null ||
			die "borg not found in PATH (Debian package 'borgbackup'), or drop it from --tools"
		borg --version 2>&1 | grep -q '^borg 1\.' ||
			die "borg 1.x needed (the 2.x CLI differs): $(borg --version 2>&1 | head -1)" ;;
	stowage)
		[[ -x $STOWAGE ]] || die "stowage binary not found at $STOWAGE; build it with
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build -j2
or pass --stowage PATH, or drop stowage from --tools"
		STOWAGE=$(cd "$(dirname "$STOWAGE")" && pwd)/$(basename "$STOWAGE") ;;
	*) die "unknown tool '$t' (known: stowage, restic, borg)" ;;
	esac
done
S3RVER_JS=$REPO_ROOT/tests/s3/node_modules/s3rver/bin/s3rver.js
if ((S3)); then
	command -v node >/dev/null || die "--s3 needs node (Node.js) for s3rver; scripts/deps.sh installs it"
	[[ -f $S3RVER_JS ]] || die "--s3 needs s3rver at $S3RVER_JS; run scripts/deps.sh (npm ci --prefix tests/s3)"
fi
if [[ " ${TOOL_LIST[*]} " == *" restic "* ]]; then
	restic version 2>/dev/null | grep -Eq 'restic 0\.(1[4-9]|[2-9][0-9])|restic [1-9]' ||
		die "restic >= 0.14 needed (repository v2 + --compression): $(restic version 2>&1 | head -1)"
fi

mkdir -p "$WORKDIR"
WORKDIR=$(cd "$WORKDIR" && pwd)
ORIG=$WORKDIR/original   # pristine dataset
MUT=$WORKDIR/mutated     # mutated copy (hard links to ORIG for unchanged files)
DATA=$WORKDIR/data       # the path every tool backs up
SMALLDIR=$WORKDIR/smallfiles
SFX=
((S3 == 0)) || SFX=-s3 # the S3 run keeps its own logs and results
LOGS=$WORKDIR/logs$SFX
RAW=$WORKDIR/results$SFX.jsonl
META=$WORKDIR/meta$SFX.json
S3DATA=$WORKDIR/s3data # s3rver's data dir (--s3), deleted at exit
S3PID=
S3PORT=

# Trees a step is done with are moved aside, not deleted, and deleted at
# exit: on ext4 without a journal (this VM's root), a file created within
# 60-300 s of many deletions makes the inode allocator skip every recently
# freed inode of its group, which cost a tool that writes 150 pack files 2.5
# CPU-seconds of system time, and one that restores 40,000 files 20 s, at
# random depending on what ran before. The trash is on the same filesystem,
# so a move is one rename.
TRASH=$WORKDIR/.trash
discard() { # PATH...
	local p
	mkdir -p "$TRASH"
	for p in "$@"; do
		[[ -e $p ]] || continue
		mv "$p" "$TRASH/$(date +%s%N)-$RANDOM-$(basename "$p")"
	done
}

# When this or any run in a sibling work dir (a local and an --s3 run side
# by side) last deleted trees: the next run waits until those inodes aged.
SETTLE_STAMP=$(dirname "$WORKDIR")/.stowage-bench-deleted-at
cleanup() {
	local p deleted=0
	if [[ -n $S3PID ]]; then
		kill "$S3PID" 2>/dev/null || true
		S3PID=
	fi
	for p in "$WORKDIR"/repo-* "$WORKDIR"/restore-* "$WORKDIR"/home-* "$TRASH"; do
		[[ -e $p ]] || continue
		rm -rf "$p"
		deleted=1
	done
	if ((S3 == 1)) && [[ -e $S3DATA || -e $WORKDIR/s3data-tls ]]; then
		rm -rf "$S3DATA" "$WORKDIR/s3data-tls"
		deleted=1
	fi
	((deleted == 0)) || date +%s >"$SETTLE_STAMP"
}
trap cleanup EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT TERM
cleanup
# The allocator of a journal-less ext4 skips inodes freed less than 60 s
# ago, or 360 s while their inode-table block is dirty (see discard), and
# creating files next to them dirties it again, so `sync` is not enough:
# after this or the last run's cleanup, wait until the deletions are
# SETTLE (361) seconds old. A restore 80 s after 10,000 deletions spent
# half its CPU in the kernel's recently_deleted().
if [[ -f $SETTLE_STAMP ]]; then
	sync
	settle=$(($(cat "$SETTLE_STAMP") + SETTLE - $(date +%s)))
	if ((settle > 0)); then
		say "waiting ${settle}s: inodes the last cleanup freed must age before files are created (ext4)"
		sleep "$settle"
	fi
fi

# ------------------------------------------------------------- disk check
# Peak use: original (1x) + mutated (~0.05x, hard links) + data (1x) + one
# repository (~1x) + one restore (1x), plus the small-files tree (a 4 KiB
# block per file) and its repository. Whatever already exists (a reusable
# dataset) is not counted again.
existing=0
for d in "$ORIG" "$MUT" "$SMALLDIR"; do
	[[ -d $d ]] && existing=$((existing + $(du -sb "$d" | cut -f1)))
done
need=$(python3 -c "
s, n, have = $SIZE_B, $SMALL, $existing
peak = 4.3 * s + n * (4096 + 3072) + 256 * 2**20
print(int(max(3 * s, peak - have)))")
avail=$(df --output=avail -B1 "$WORKDIR" | tail -1 | tr -d ' ')
if ((avail < need)); then
	die "not enough free space in $WORKDIR: $((avail >> 20)) MiB free, need $((need >> 20)) MiB (at least 3x the dataset size; this run peaks at ~4.3x the dataset + ~7 KiB per small file)"
fi
if ((SMALL > 0)); then
	ifree=$(df --output=iavail "$WORKDIR" | tail -1 | tr -d ' ')
	if [[ $ifree =~ ^[0-9]+$ ]] && ((ifree > 0 && ifree < SMALL * 2 + 200000)); then
		die "not enough free inodes in $WORKDIR: $ifree free, need ~$((SMALL * 2 + 200000))"
	fi
fi
say "work dir $WORKDIR: $((avail >> 20)) MiB free, need ~$((need >> 20)) MiB"

# ---------------------------------------------------------------- dataset
mkdir -p "$LOGS"
GEN_VERSION=$("${GEN[@]}" version)
stamp_ok() { # stamp-file key=value...
	local f=$1; shift
	[[ -f $f ]] || return 1
	python3 - "$f" "$@" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    if str(d.get(k)) != v:
        sys.exit(1)
EOF
}

DS_STAMP=$WORKDIR/dataset.json
if ((REGEN == 0)) && [[ -d $ORIG && -d $MUT ]] &&
	stamp_ok "$DS_STAMP" version="$GEN_VERSION" size="$SIZE_B" seed="$SEED"; then
	say "reusing dataset in $ORIG (size $SIZE, seed $SEED; --regen to rebuild)"
else
	rm -rf "$ORIG" "$MUT" "$DS_STAMP"
	say "building dataset ($SIZE, seed $SEED) in $ORIG"
	build_json=$("${GEN[@]}" build "$ORIG" --size "$SIZE_B" --seed "$SEED")
	say "building mutated copy in $MUT"
	mut_json=$("${GEN[@]}" mutate "$ORIG" "$MUT" --seed "$SEED")
	python3 - "$DS_STAMP" "$GEN_VERSION" "$SIZE_B" "$SEED" "$build_json" "$mut_json" <<'EOF'
import json, sys
f, ver, size, seed, b, m = sys.argv[1:]
json.dump({"version": int(ver), "size": int(size), "seed": int(seed),
           "build": json.loads(b), "mutation": json.loads(m)}, open(f, "w"), indent=1)
EOF
fi
ORIG_BYTES=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["build"]["total"]["bytes"])' "$DS_STAMP")
ORIG_FILES=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["build"]["total"]["files"])' "$DS_STAMP")
MUT_BYTES=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mutation"]["total"]["bytes"])' "$DS_STAMP")
MUT_FILES=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mutation"]["total"]["files"])' "$DS_STAMP")
say "dataset: $((ORIG_BYTES >> 20)) MiB in $ORIG_FILES files; mutated: $((MUT_BYTES >> 20)) MiB in $MUT_FILES files"

SF_STAMP=$WORKDIR/smallfiles.json
SMALL_BYTES=0
if ((SMALL > 0)); then
	if ((REGEN == 0)) && [[ -d $SMALLDIR ]] &&
		stamp_ok "$SF_STAMP" version="$GEN_VERSION" count="$SMALL" seed="$SEED"; then
		say "reusing small-files tree in $SMALLDIR ($SMALL files)"
	else
		rm -rf "$SMALLDIR" "$SF_STAMP"
		say "building small-files tree: $SMALL files in $SMALLDIR"
		sf_json=$("${GEN[@]}" smallfiles "$SMALLDIR" --count "$SMALL" --seed "$SEED")
		python3 - "$SF_STAMP" "$GEN_VERSION" "$SMALL" "$SEED" "$sf_json" <<'EOF'
import json, sys
f, ver, n, seed, s = sys.argv[1:]
json.dump({"version": int(ver), "count": int(n), "seed": int(seed), "tree": json.loads(s)}, open(f, "w"), indent=1)
EOF
	fi
	SMALL_BYTES=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["tree"]["bytes"])' "$SF_STAMP")
fi

# ----------------------------------------------------------- s3rver (--s3)
# One server for the whole run, one bucket per tool (bench-TOOL); the main
# dataset's repository under the prefix main/, the small files' under small/.
#
# Over HTTPS, with a throw-away self-signed certificate for 127.0.0.1 that
# both tools are told to trust: over plain HTTP restic (minio-go) signs
# uploads with STREAMING-AWS4-HMAC-SHA256-PAYLOAD, i.e. an aws-chunked body,
# which s3rver 3.7.1 accepts but stores verbatim, chunk headers included,
# so restic cannot read its own repository back ("Unmarshal: invalid
# character 'b' after top-level value"). Over HTTPS minio-go sends plain
# bodies. (Started like tests/s3/start-s3rver.sh, which only does HTTP.)
s3_bucket() { echo "bench-$1"; }
S3CERT=$WORKDIR/s3data-tls/cert.pem
start_s3rver() {
	local tls=$WORKDIR/s3data-tls log=$LOGS/s3rver.log args port='' _i
	rm -rf "$S3DATA" "$tls"
	mkdir -p "$S3DATA" "$tls"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
		-keyout "$tls/key.pem" -out "$S3CERT" >"$LOGS/openssl.log" 2>&1 ||
		die "openssl could not make the test certificate: $(tail -3 "$LOGS/openssl.log")"
	args=(-d "$S3DATA" -a 127.0.0.1 -p 0 --no-vhost-buckets --key "$tls/key.pem" --cert "$S3CERT")
	for t in "${TOOL_LIST[@]}"; do args+=(--configure-bucket "$(s3_bucket "$t")"); done
	# s3rver's listing continuation tokens use DES (OpenSSL 3: legacy provider)
	local node_flags=()
	node -e 'require("crypto").createCipheriv("des", Buffer.alloc(8), Buffer.alloc(8))' >/dev/null 2>&1 ||
		node_flags+=(--openssl-legacy-provider)
	node "${node_flags[@]}" "$S3RVER_JS" "${args[@]}" </dev/null >"$log" 2>&1 &
	S3PID=$!
	for _i in $(seq 1 300); do
		kill -0 "$S3PID" 2>/dev/null || die "s3rver exited at start-up; log: $log"
		port=$(sed -n 's/^S3rver listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)
		[[ -n $port ]] && break
		sleep 0.1
	done
	[[ -n $port ]] || die "s3rver did not report a port within 30 s; log: $log"
	S3PORT=$port
	python3 - "$S3PORT" "$S3CERT" <<'EOF' || die "s3rver on port $S3PORT does not answer HTTPS; log: $log"
import http.client, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
for _ in range(100):
    try:
        c = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[1]), timeout=2, context=ctx)
        c.request("GET", "/")
        c.getresponse().read()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
EOF
}
if ((S3)); then
	command -v openssl >/dev/null || die "--s3 needs openssl (to make the server's test certificate)"
	start_s3rver
	say "s3rver on https://127.0.0.1:$S3PORT (pid $S3PID), data in $S3DATA"
	export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
fi
# repo_loc TOOL NAME: what the tool's --repo gets; repo_dir TOOL NAME: where
# its bytes are on the local disk (for the size, and to delete it).
repo_loc() {
	if ((S3 == 0)); then echo "$WORKDIR/repo-$1"; return; fi
	case $1 in
	stowage) echo "s3://$(s3_bucket "$1")/$2?s3Url=https%3A%2F%2F127.0.0.1%3A$S3PORT&s3ForcePathStyle=true&region=us-east-1&caCert=$(python3 -c 'import sys, urllib.parse as u; print(u.quote(sys.argv[1], safe=""))' "$S3CERT")" ;;
	restic) echo "s3:https://127.0.0.1:$S3PORT/$(s3_bucket "$1")/$2" ;;
	esac
}
repo_dir() {
	if ((S3 == 0)); then echo "$WORKDIR/repo-$1"; else echo "$S3DATA/$(s3_bucket "$1")/$2"; fi
}
# Repository bytes: du -sb of the directory; on s3rver the sum of the object
# files only (it keeps a metadata JSON and an MD5 file next to each object).
repo_size() {
	[[ -d $1 ]] || { echo 0; return; }
	if ((S3 == 0)); then du -sb "$1" | cut -f1; return; fi
	find "$1" -type f -name '*._S3rver_object' -printf '%s\n' | awk '{s += $1} END {printf "%d\n", s}'
}
# s3rver's CPU ticks so far (user + system), and its peak RSS so far (KiB)
s3rver_ticks() { [[ -n $S3PID ]] && awk '{print $14 + $15}' "/proc/$S3PID/stat" 2>/dev/null || echo 0; }
# Requests s3rver has answered so far (its log has one line per request,
# "PATH STATUS TIMEms SIZE"), and how many of them were 206 (ranged GETs).
s3rver_reqs() {
	if [[ -n $S3PID ]]; then
		awk 'NF >= 3 && $(NF-1) ~ /^[0-9.]+m?s$/ && $(NF-2) ~ /^[0-9][0-9][0-9]$/ {n++; if ($(NF-2) == "206") r++}
			END {printf "%d %d\n", n, r}' "$LOGS/s3rver.log"
	else
		echo "0 0"
	fi
}
s3rver_hwm() { [[ -n $S3PID ]] && awk '/^VmHWM:/{print $2}' "/proc/$S3PID/status" 2>/dev/null || echo 0; }

# ------------------------------------------------- is the machine quiet?
CLK_TCK=$(getconf CLK_TCK)
NPROC=$(nproc)
# Busy CPU ticks of the whole machine (user+nice+system+irq+softirq+steal).
cpu_busy() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9; exit}' /proc/stat; }
busy_pct() { # SECONDS: % of all CPUs busy over that interval
	local b0 b1
	b0=$(cpu_busy)
	sleep "$1"
	b1=$(cpu_busy)
	echo $(((b1 - b0) * 100 / ($1 * CLK_TCK * NPROC)))
}
# wait_quiet: up to WAIT_QUIET seconds for the machine to be (nearly) idle
wait_quiet() {
	((WAIT_QUIET > 0)) || return 0
	local deadline=$((SECONDS + WAIT_QUIET)) p
	while :; do
		p=$(busy_pct 2)
		((p < 15)) && return 0
		if ((SECONDS >= deadline)); then
			say "machine still busy (${p}% of the CPUs) after ${WAIT_QUIET}s; measuring anyway"
			return 0
		fi
	done
}
IDLE_BUSY_PCT=$(busy_pct 3)
if ((IDLE_BUSY_PCT > 10)); then
	say "WARNING: other processes use ${IDLE_BUSY_PCT}% of the CPUs right now; wall times will be noisy (see 'other CPU %' in the tables)"
fi

# ------------------------------------------------------------------- meta
tool_version() {
	case $1 in
	restic) restic version 2>&1 | head -1 ;;
	borg) borg --version 2>&1 | head -1 ;;
	stowage)
		local v
		v=$("$STOWAGE" --version 2>&1 | head -1) || true
		# the binary's own commit is unknown; say where it is, when it was
		# built, and what the work tree is at now
		echo "${v:-unknown}, $STOWAGE built $(date -u -r "$STOWAGE" +%Y-%m-%dT%H:%M:%SZ); work tree at $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$([[ -z $(git -C "$REPO_ROOT" status --porcelain -- src CMakeLists.txt 2>/dev/null) ]] || echo '+dirty')" ;;
	esac
}
: >"$RAW"
{
	echo "{"
	printf '"date": "%s",\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	printf '"host": {"nproc": %s, "busy_pct_before_run": %s, "mem_kib": %s, "kernel": "%s", "cpu": "%s"},\n' \
		"$(nproc)" "$IDLE_BUSY_PCT" "$(awk '/MemTotal/{print $2}' /proc/meminfo)" "$(uname -r)" \
		"$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo | tr -d '"\\')"
	printf '"options": {"size": "%s", "size_bytes": %s, "small_files": %s, "tools": "%s", "seed": %s, "borg_encryption": "%s", "wait_quiet": %s, "s3": %s},\n' \
		"$SIZE" "$SIZE_B" "$SMALL" "$TOOLS" "$SEED" "$BORG_ENC" "$WAIT_QUIET" "$( ((S3)) && echo true || echo false)"
	if ((S3)); then
		printf '"s3": {"server": "s3rver %s on node %s, https://127.0.0.1 (self-signed P-256 certificate), path-style, data on %s", "buckets": "bench-TOOL, prefix main/ or small/"},\n' \
			"$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "${S3RVER_JS%/bin/s3rver.js}/package.json")" \
			"$(node --version)" "$(df --output=source "$WORKDIR" | tail -1)"
	fi
	printf '"dataset": {"bytes": %s, "files": %s, "mutated_bytes": %s, "mutated_files": %s, "small_files": %s, "small_bytes": %s},\n' \
		"$ORIG_BYTES" "$ORIG_FILES" "$MUT_BYTES" "$MUT_FILES" "$SMALL" "$SMALL_BYTES"
	printf '"versions": {'
	sep=
	for t in "${TOOL_LIST[@]}"; do
		printf '%s"%s": "%s"' "$sep" "$t" "$(tool_version "$t" | tr -d '"\\')"
		sep=", "
	done
	printf '},\n'
	if ((S3)); then
		printf '"settings": {"stowage": "vault init --compression auto; snapshot create --compression auto; --repo s3://bench-stowage/main?s3Url=https://127.0.0.1:PORT&s3ForcePathStyle=true&region=us-east-1&caCert=CERT", '
		printf '"restic": "init --repository-version 2; --compression auto; -r s3:https://127.0.0.1:PORT/bench-restic/main --cacert CERT -o s3.bucket-lookup=path -o s3.region=us-east-1 (default s3.connections=5)", '
	else
		printf '"settings": {"stowage": "vault init --compression auto; snapshot create --compression auto", '
		printf '"restic": "init --repository-version 2; --compression auto", '
	fi
	printf '"borg": "init -e %s; create --compression auto,zstd,3"}\n' "$BORG_ENC"
	echo "}"
} >"$META.tmp"
python3 - "$META.tmp" "$DS_STAMP" "$META" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
m["dataset"]["generation"] = json.load(open(sys.argv[2]))
json.dump(m, open(sys.argv[3], "w"), indent=1)
EOF
rm -f "$META.tmp"

# -------------------------------------------------------------- measuring
export STOWAGE_PASSWORD=$PASSWORD RESTIC_PASSWORD=$PASSWORD BORG_PASSPHRASE=$PASSWORD
export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes

# Which exit codes mean "done, with warnings" for each tool.
warn_rc() {
	case $1:$2 in
	stowage:3 | restic:3 | borg:1) return 0 ;;
	*) return 1 ;;
	esac
}

# measure TOOL STEP BYTES FILES REPO CMD... -> appends one JSON line to $RAW.
# Returns 1 when the command failed (the record says so).
measure() {
	local tool=$1 step=$2 bytes=$3 files=$4 repo=$5
	shift 5
	local log=$LOGS/$tool-$step.log tf=$LOGS/$tool-$step.time rc status
	sync # flush earlier writes so they do not land inside this measurement
	wait_quiet
	say "$tool: $step ..."
	local stat0 stat1 s3t0 s3t1 s3r0 s3r1
	s3r0=$(s3rver_reqs)
	s3t0=$(s3rver_ticks)
	stat0=$(cpu_busy)
	local prof=()
	# BENCH_PERF="stowage:restore restic:initial": profile those steps
	# with perf (call graphs, kernel included) into LOGS/TOOL-STEP.perf;
	# costs a few % of the step, so not for the numbers of record.
	[[ " ${BENCH_PERF:-} " != *" $tool:$step "* ]] ||
		prof=(perf record -q -g -o "$LOGS/$tool-$step.perf" --)
	set +e
	/usr/bin/time -f '%e %M %U %S' -o "$tf" "${prof[@]}" "$@" >"$log" 2>&1 </dev/null
	rc=$?
	set -e
	stat1=$(cpu_busy)
	s3t1=$(s3rver_ticks)
	sleep 0.2 # let s3rver's log catch up
	s3r1=$(s3rver_reqs)
	local last wall rss usr sys_
	last=$(tail -n1 "$tf")
	read -r wall rss usr sys_ <<<"$last"
	if ((rc == 0)); then status=ok
	elif warn_rc "$tool" "$rc"; then status=warning
	else status=error
	fi
	local repo_b=0 cache_b=0 extra
	repo_b=$(repo_size "$repo")
	[[ -d $WORKDIR/home-$tool ]] && cache_b=$(du -sb "$WORKDIR/home-$tool" | cut -f1)
	extra=$(python3 - "$RAW" "$tool" "$step" "$wall" "$rss" "$usr" "$sys_" "$rc" "$status" "$repo_b" "$cache_b" \
		"$bytes" "$files" "$log" "$stat0" "$stat1" "$CLK_TCK" "$NPROC" "$S3" "$s3t0" "$s3t1" "$(s3rver_hwm)" "$s3r0" "$s3r1" <<'EOF'
import json, sys
(f, tool, step, wall, rss, usr, sys_, rc, status, repo_b, cache_b, nbytes, files, log,
 s0, s1, hz, ncpu, s3, s3t0, s3t1, s3hwm, s3r0, s3r1) = sys.argv[1:]
cpu = float(usr) + float(sys_)
# s3rver's CPU time during the step (--s3): work done for the tool
s3cpu = (int(s3t1) - int(s3t0)) / int(hz) if s3 == "1" else 0.0
# CPU time the whole machine spent during the step, minus the tool's own
# (and s3rver's): what other processes took (on a busy machine wall times
# mean little).
machine = (int(s1) - int(s0)) / int(hz)
other = max(0.0, machine - cpu - s3cpu)
rec = {"tool": tool, "step": step, "wall_s": float(wall), "max_rss_kib": int(rss),
       "user_s": float(usr), "sys_s": float(sys_), "cpu_s": round(cpu, 2),
       "other_cpu_pct": round(100 * other / max(0.01, float(wall) * int(ncpu)), 1),
       "rc": int(rc), "status": status, "repo_bytes": int(repo_b), "cache_bytes": int(cache_b),
       "dataset_bytes": int(nbytes), "dataset_files": int(files), "log": log}
if s3 == "1":
    rec["s3rver_cpu_s"] = round(s3cpu, 2)
    rec["s3rver_cpu_pct"] = round(100 * s3cpu / max(0.01, float(wall) * int(ncpu)), 1)
    rec["s3rver_hwm_kib"] = int(s3hwm)  # peak RSS since the server started
    (n0, g0), (n1, g1) = [map(int, x.split()) for x in (s3r0, s3r1)]
    rec["s3_requests"] = n1 - n0
    rec["s3_ranged_gets"] = g1 - g0
with open(f, "a") as fh:
    fh.write(json.dumps(rec) + "\n")
print("cpu %.2fs, %sother processes %.0f%% of the CPUs" % (
    cpu, "s3rver cpu %.2fs, %d S3 requests, " % (s3cpu, rec["s3_requests"]) if s3 == "1" else "",
    rec["other_cpu_pct"]))
EOF
)
	say "$tool: $step: ${wall}s, peak RSS $((rss / 1024)) MiB, repo $((repo_b >> 20)) MiB, $extra, rc $rc ($status)"
	if [[ $status == error ]]; then
		echo "---- last lines of $log:" >&2
		tail -n 15 "$log" >&2 || true
		echo "----" >&2
		return 1
	fi
	return 0
}

record() { # TOOL STEP JSON -> free-form record (verification results)
	python3 - "$RAW" "$1" "$2" "$3" <<'EOF'
import json, sys
f, tool, step, js = sys.argv[1:]
rec = {"tool": tool, "step": step}
rec.update(json.loads(js))
with open(f, "a") as fh:
    fh.write(json.dumps(rec) + "\n")
EOF
}

# Per-tool commands. $R = repository, $H = tool home (caches, config).
RESTIC_OPTS=()
((S3 == 0)) || RESTIC_OPTS=(--cacert "$S3CERT" -o s3.bucket-lookup=path -o s3.region=us-east-1)
tool_init() { # tool repo
	local t=$1 R=$2 H=$WORKDIR/home-$1
	case $t in
	stowage) "$STOWAGE" vault init --repo "$R" --compression auto ;;
	restic) restic -r "$R" "${RESTIC_OPTS[@]}" --cache-dir "$H/restic-cache" init --repository-version 2 ;;
	borg) borg init -e "$BORG_ENC" "$R" ;;
	esac
}
tool_backup_cmd() { # tool repo dir name -> prints nothing; sets CMD array
	local t=$1 R=$2 D=$3 N=$4 H=$WORKDIR/home-$1
	case $t in
	stowage) CMD=("$STOWAGE" vault snapshot create "$D" --repo "$R" --compression auto --host bench) ;;
	restic) CMD=(restic -r "$R" "${RESTIC_OPTS[@]}" --cache-dir "$H/restic-cache" --compression auto backup --host bench "$D") ;;
	borg) CMD=(borg create --stats --compression auto,zstd,3 "$R::$N" "$D") ;;
	esac
}
tool_restore_cmd() { # tool repo target; the latest snapshot/archive
	local t=$1 R=$2 T=$3 H=$WORKDIR/home-$1
	case $t in
	stowage) CMD=("$STOWAGE" vault restore latest "$T" --repo "$R") ;;
	restic) CMD=(restic -r "$R" "${RESTIC_OPTS[@]}" --cache-dir "$H/restic-cache" restore latest --target "$T") ;;
	borg) CMD=(env -C "$T" borg extract "$R::mutation") ;;
	esac
}
tool_env() { # isolate caches/config per tool, removed after the tool
	local H=$WORKDIR/home-$1
	mkdir -p "$H"
	export XDG_CACHE_HOME=$H/cache XDG_CONFIG_HOME=$H/config BORG_BASE_DIR=$H/borg
}

# Where a tool put the restored tree: restic and borg keep the absolute path
# below the target; a tool may also restore the directory's contents directly.
restored_root() { # target source-path
	local T=$1 S=$2
	if [[ -d $T$S ]]; then echo "$T$S"
	elif [[ -d $T/$(basename "$S") && ! -e $T/sys ]]; then echo "$T/$(basename "$S")"
	else echo "$T"
	fi
}

run_main() { # tool: the main-dataset sequence
	local t=$1 R RD T=$WORKDIR/restore-$1
	R=$(repo_loc "$t" main) RD=$(repo_dir "$t" main)
	tool_env "$t"
	say "== $t: preparing $DATA (copy of the original dataset)"
	discard "$DATA" "$RD" "$T"
	cp -a "$ORIG" "$DATA"
	sync
	"${GEN[@]}" warm "$DATA" >/dev/null # same page-cache state for every tool
	say "$t: init"
	tool_init "$t" "$R" >"$LOGS/$t-init.log" 2>&1 ||
		{ echo "---- $LOGS/$t-init.log:" >&2; tail -n 15 "$LOGS/$t-init.log" >&2; return 1; }
	tool_backup_cmd "$t" "$R" "$DATA" initial
	measure "$t" initial "$ORIG_BYTES" "$ORIG_FILES" "$RD" "${CMD[@]}"
	tool_backup_cmd "$t" "$R" "$DATA" nochange
	measure "$t" nochange "$ORIG_BYTES" "$ORIG_FILES" "$RD" "${CMD[@]}"
	say "$t: applying the mutation to $DATA (rsync-like: temp file + rename)"
	"${GEN[@]}" sync "$MUT" "$DATA" >"$LOGS/$t-sync.log"
	tool_backup_cmd "$t" "$R" "$DATA" mutation
	measure "$t" mutation "$MUT_BYTES" "$MUT_FILES" "$RD" "${CMD[@]}"
	mkdir -p "$T"
	tool_restore_cmd "$t" "$R" "$T"
	measure "$t" restore "$MUT_BYTES" "$MUT_FILES" "$RD" "${CMD[@]}"
	local root vjs rc=0
	root=$(restored_root "$T" "$DATA")
	say "$t: verifying $root against $DATA (not timed)"
	vjs=$("${GEN[@]}" verify "$DATA" "$root") || rc=$?
	record "$t" verify "$vjs"
	if ((rc != 0)); then
		say "$t: VERIFY FAILED: $vjs"
	else
		say "$t: verify ok"
	fi
	discard "$RD" "$T" "$WORKDIR/home-$t"
	return 0
}

run_small() { # tool: initial backup of the small-files tree
	local t=$1 R RD
	R=$(repo_loc "$t" small) RD=$(repo_dir "$t" small)
	tool_env "$t"
	discard "$RD"
	"${GEN[@]}" warm "$SMALLDIR" >/dev/null
	tool_init "$t" "$R" >"$LOGS/$t-small-init.log" 2>&1 ||
		{ echo "---- $LOGS/$t-small-init.log:" >&2; tail -n 15 "$LOGS/$t-small-init.log" >&2; return 1; }
	tool_backup_cmd "$t" "$R" "$SMALLDIR" small
	local rc=0
	measure "$t" small "$SMALL_BYTES" "$SMALL" "$RD" "${CMD[@]}" || rc=1
	discard "$RD" "$WORKDIR/home-$t"
	return $rc
}

# Each tool runs in a subshell with errexit on, so one tool failing (say, a
# half-written stowage) is recorded and the others still run.
for t in "${TOOL_LIST[@]}"; do
	set +e
	(
		set -e
		run_main "$t"
	)
	rc=$?
	set -e
	((rc == 0)) || say "$t: main-dataset sequence stopped early (see $LOGS)"
	discard "$WORKDIR/repo-$t" "$WORKDIR/restore-$t" "$WORKDIR/home-$t"
done
discard "$DATA"

if ((SMALL > 0)); then
	for t in "${TOOL_LIST[@]}"; do
		set +e
		(
			set -e
			run_small "$t"
		)
		rc=$?
		set -e
		((rc == 0)) || say "$t: small-files run failed (see $LOGS)"
		discard "$WORKDIR/repo-$t" "$WORKDIR/home-$t"
	done
fi

python3 "$BENCH_DIR/report.py" "$META" "$RAW" "$WORKDIR/results$SFX.json" "$WORKDIR/results$SFX.md"
say "results: $WORKDIR/results$SFX.json, $WORKDIR/results$SFX.md (logs in $LOGS)"
