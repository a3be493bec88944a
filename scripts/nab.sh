#!/usr/bin/env bash
# Replays every file of the NAB dev subset through `omen replay` (two files at a time), writes results in the
# layout ../shared/nab/README.md describes, scores them, and prints the three scores and the wall time.
#
#   scripts/nab.sh OMEN_BIN [extra `omen replay` flags, e.g. --scorer residual --cell gru]
#
# Environment: NAB_DIR (default ../shared/nab), NAB_RESULTS (default nab-results), NAB_JOBS (default 2).
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

if [ ! -x "$BIN" ]; then echo "$0: $BIN is not an executable; build it first (make build)" >&2; exit 2; fi
if [ ! -d "$NAB_DIR/data" ]; then echo "$0: $NAB_DIR/data not found; set NAB_DIR to the NAB dev subset" >&2; exit 2; fi
command -v python3 >/dev/null || { echo "$0: python3 is needed to score" >&2; exit 2; }

rm -rf "$RESULTS"
mkdir -p "$RESULTS"
start=$(date +%s.%N)
# Extra flags are words without spaces (e.g. --scorer gru), passed to every replay.
OMEN_REPLAY_FLAGS="$*"
export BIN OMEN_REPLAY_FLAGS
find "$NAB_DIR/data" -name '*.csv' | sort | while read -r f; do
    category=$(basename "$(dirname "$f")")
    mkdir -p "$RESULTS/$category"
    printf '%s\0%s\0' "$f" "$RESULTS/$category/$(basename "$f")"
done | xargs -0 -n 2 -P "$JOBS" sh -c 'exec "$BIN" replay "$0" --output "$1" $OMEN_REPLAY_FLAGS >/dev/null'
end=$(date +%s.%N)

python3 "$NAB_DIR/score.py" "$RESULTS"
files=$(find "$RESULTS" -name '*.csv' | wc -l)
printf 'wall time: %.1f s for %d files (%d at a time)\n' "$(awk "BEGIN { print $end - $start }")" "$files" "$JOBS"
