#!/usr/bin/env bash
# Replays the NAB dev subset once per seed (default 42, 1 and 2) and prints each seed's scores and their mean:
# three profiles, cross-validated scores, false positives, per category beside Numenta HTM (scripts/nab-summary.py).
#
#   scripts/nab-seeds.sh OMEN_BIN [extra `omen replay` flags, e.g. --config variant.toml]
#
# Environment: NAB_DIR (default ../shared/nab), NAB_RESULTS (prefix, default nab-results: folders
# nab-results-42, -1, -2), NAB_SEEDS (default "42 1 2"), NAB_JOBS (default 2), NAB_FILES=1 adds per-file FPs,
# NAB_AT (default 0.25, the default [episodes] threshold: scores and false positives are also shown at it).
set -euo pipefail

if [ $# -lt 1 ]; then
    echo "usage: $0 OMEN_BIN [omen replay flags...]" >&2
    exit 2
fi
BIN=$1
shift
HERE=$(cd "$(dirname "$0")" && pwd)
NAB_DIR=${NAB_DIR:-../shared/nab}
PREFIX=${NAB_RESULTS:-nab-results}
folders=()
start=$(date +%s.%N)
for seed in ${NAB_SEEDS:-42 1 2}; do
    NAB_DIR=$NAB_DIR NAB_RESULTS="$PREFIX-$seed" NAB_SCORE=0 "$HERE/nab.sh" "$BIN" --seed "$seed" "$@" >/dev/null
    folders+=("$PREFIX-$seed")
done
end=$(date +%s.%N)
extra=()
if [ "${NAB_FILES:-0}" = 1 ]; then extra+=(--files); fi
python3 "$HERE/nab-summary.py" "$NAB_DIR" "${folders[@]}" "${extra[@]}" --causes --at "${NAB_AT:-0.25}"
printf 'wall time: %.1f s for %d seeds, load average %s\n' "$(awk "BEGIN { print $end - $start }")" "${#folders[@]}" \
    "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
