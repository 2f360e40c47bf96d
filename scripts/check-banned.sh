#!/usr/bin/env bash
# Fail if src/ calls a function we ban: unbounded string writers, atoi
# (no error reporting), strtok (hidden state) and the non-reentrant time
# conversions. Use snprintf, memcpy with checked lengths, strtoul/strtoull
# with end and range checks, strtok_r or a parser, gmtime_r/localtime_r.
set -euo pipefail
cd "$(dirname "$0")/.."
banned='\b(sprintf|vsprintf|strcpy|strcat|strncpy|strncat|strtok|atoi|atol|atoll|gets|gmtime|localtime|ctime|asctime)[[:space:]]*\('
if hits=$(grep -rnE "$banned" src/ --include='*.c' --include='*.h' | grep -vE '^\S+:[0-9]+:\s*(/\*|\*)'); then
  echo "banned functions in src/ (see scripts/check-banned.sh for what to use instead):" >&2
  echo "$hits" >&2
  exit 1
fi
echo "no banned functions in src/"
