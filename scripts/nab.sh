#!/usr/bin/env bash
# Replays every file of the NAB dev subset through `omen replay` (two files at a time), writes results in the
# layout ../shared/nab/README.md describes, scores them, and prints the three profiles, the cross-validated
# scores, a per-category table beside Numenta HTM's figures (scripts/nab-summary.py) and the wall time.
#
#   scripts/nab.sh OMEN_BIN [extra `omen replay` flags, e.g. --seed 1 --config variant.toml]
#
# Environment: NAB_DIR (default ../shared/nab), NAB_RESULTS (default nab-results), NAB_JOBS (default 2),
# NAB_SCORE (default 1; 0 = replay only, as scripts/nab-seeds.sh does before scoring all seeds at once), NAB_AT
# (default 0.25, the default [episodes] threshold: scores and false positives are also shown at it).
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: $0 OMEN_BIN [omen replay flags...]" >&2
    exit 2
fi
BIN=$1
shift
NAB_DIR=${NAB_DIR:-../shared/nab}
RESULTS=${NAB_RESULTS:-nab-results}
JOBS=${NAB_JOBS:-2}
SCORE=${NAB_SCORE:-1}
HERE=$(cd "$(dirname "$0")" && pwd)

if [ ! -x "$BIN" ]; then echo "$0: $BIN is not an executable; build it first (make build)" >&2; exit 2; fi
if [ ! -d "$NAB_DIR/data" ]; then echo "$0: $NAB_DIR/data not found; set NAB_DIR to the NAB dev subset" >&2; exit 2; fi
command -v python3 >/dev/null || { echo "$0: python3 is needed to score" >&2; exit 2; }

rm -rf "$RESULTS"
mkdir -p "$RESULTS"
start=$(date +%s.%N)
# Extra flags are words without spaces (e.g. --scorer gru), passed to every replay.
OMEN_REPLAY_FLAGS="$*"
export BIN OMEN_REPLAY_FLAGS
# Longest files first, so that two jobs finish together.
find "$NAB_DIR/data" -name '*.csv' -printf '%s %p\n' | sort -rn | cut -d' ' -f2- | while read -r f; do
    category=$(basename "$(dirname "$f")")
    mkdir -p "$RESULTS/$category"
    printf '%s\0%s\0' "$f" "$RESULTS/$category/$(basename "$f")"
done | xargs -0 -n 2 -P "$JOBS" sh -c 'exec "$BIN" replay "$0" --output "$1" $OMEN_REPLAY_FLAGS >/dev/null'
end=$(date +%s.%N)

files=$(find "$RESULTS" -name '*.csv' | wc -l)
if [ "$SCORE" != 0 ]; then python3 "$HERE/nab-summary.py" "$NAB_DIR" "$RESULTS" --causes --at "${NAB_AT:-0.25}"; fi
printf 'wall time: %.1f s for %d files (%d at a time), load average %s\n' "$(awk "BEGIN { print $end - $start }")" \
    "$files" "$JOBS" "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
