#!/usr/bin/env bash
# Decisions on a camera facekit was not calibrated on (issue: "strangers stay out, live people get in"):
# leave-one-person-out on the 20 ASL webcam clips (5 people). For each person, the other 4 are enrolled from
# the best capture of their first clip; all 20 clips run through the tracker at the default settings
# (liveness on). Counted over all clip runs of all 5 folds: accepted as the right person, accepted as someone
# else or as anyone while not enrolled (a false open), refused as not live, refused for quality, no match, no
# decision. The walking clips and the opera crowd, where nobody is enrolled, run against every fold's gallery:
# any acceptance there is a false open too (stranger_false_opens).
# Usage: bench/camera_eval.sh [facekit eval camera options, e.g. --thresholds single, --runs FILE]
# Last line: {"runs":N, "false_opens":N, "genuine_accepted":N, "genuine_total":N, "live_refused":N, "quality_refused":N, ...}
set -euo pipefail
cd "$(dirname "$0")/.."
V=${FACEKIT_VIDEO:-../shared/data/video}
fk=${FACEKIT_CLI:-./target/release/facekit}
[ -x "$fk" ] || cargo build --release -q -p facekit-cli
# Each person's first clip is the enrolment clip (as bench/track_eval.sh).
args=()
for pc in A:again A:brother A:help A:no A:student A:yes B:bird B:milk B:please B:sorry B:thanks \
          C:book C:learn C:school C:walk D:eat D:night D:sister E:hungry E:want; do
  args+=(--clip "${pc%%:*}=$V/intel_asl_${pc##*:}.mkv")
done
for s in intel_face-demographics-walking.gif intel_face-demographics-walking-and-pause.gif facenetpt_opera_crowd.mp4; do
  args+=(--stranger-clip "$V/$s")
done
"$fk" eval camera "${args[@]}" "$@"
