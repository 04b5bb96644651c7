#!/usr/bin/env bash
# Share of clean captures each quality policy accepts, and why it refuses the rest: the first photo of the first
# N people of LFW (sorted), as in BENCHMARKS.md. Usage: bench/quality_acceptance.sh [N] [extra facekit options]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200}
shift || true
cargo build --release -q
mapfile -t imgs < <(ls ../shared/data/lfw/images | sort | head -n "$n" | while read -r p; do echo "../shared/data/lfw/images/$p/${p}_0001.jpg"; done)
for policy in unlock gate enrolment; do
  ./target/release/facekit quality --policy "$policy" --json "$@" "${imgs[@]}" | python3 -c '
import json, sys, collections
rs = json.load(sys.stdin); why = collections.Counter(r for x in rs for r in x.get("reasons", []))
ok = sum(1 for x in rs if x.get("acceptable"))
print(f"{sys.argv[1]:10} accepted {ok}/{len(rs)} ({100 * ok / len(rs):.1f} %); refusals: " + ", ".join(f"{k} {v}" for k, v in why.most_common()))
' "$policy"
done
