#!/usr/bin/env bash
# Share of tracks each quality policy refuses (issue 22, item 5) on the shared clips: the 20 ASL webcam clips
# (640x480), the same downscaled to 320x240 (low-resolution footage: ~15 px between the eyes), the two walking
# clips, the opera crowd and the Hamilton interview clip. Each clip runs through `facekit track` against a
# one-person gallery (an LFW photo: nobody in the clips, so every decided track is a quality refusal or a
# no_match), liveness off (the quality gate alone). Prints per policy and clip set: tracks (seen for 10 frames or
# more, or decided), tracks refused for quality (poor_quality: no acceptable capture in 45 frames), tracks still
# undecided when the clip ends (too few acceptable captures: the short walking clips), and the share of tracks
# not decided on identity; last line one JSON object {policy: {set: {tracks, decided, refused_quality, undecided}}}.
# Usage: bench/quality_refusals.sh [FACEKIT_CLI]   (default target/release/facekit; run from the repository)
set -euo pipefail
cd "$(dirname "$0")/.."
cli=${1:-target/release/facekit}
shared=${FACEKIT_SHARED:-../shared}
v=$shared/data/video
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$cli" enroll "$tmp/g.fkg" nobody "$shared/data/lfw/images/Aaron_Peirsol/Aaron_Peirsol_0001.jpg" --no-liveness >/dev/null
count() { # reads JSON events; prints "tracks decided refused undecided" (tracks seen for >= 10 frames)
  python3 -c 'import json,sys
first, last, verdict, frames = {}, {}, {}, 0
for l in sys.stdin:
    if l.split(" ")[1:2] == ["frames,"]: frames = int(l.split()[0])  # the summary line: a track alive at the end lived until then
    if not l.startswith("{"): continue
    e=json.loads(l); t=e["track"]
    first.setdefault(t, e["frame"])
    if e["event"]=="lost": last[t]=e["frame"]
    if e["event"]=="decided": verdict[t]=e["reason"] or "accepted"
tracks=[t for t in first if t in verdict or last.get(t, frames)-first[t] >= 10]
d=sum(t in verdict for t in tracks); r=sum(verdict.get(t)=="poor_quality" for t in tracks)
print(len(tracks), d, r, len(tracks)-d)'
}
run() { # policy set clip [scale]
  local p=$1 set=$2 clip=$3 scale=${4:-}
  if [ -z "$scale" ]; then
    "$cli" track "$clip" --gallery "$tmp/g.fkg" --no-liveness --policy "$p" --json 2>&1 | count
  else
    ffmpeg -v error -i "$clip" -vf "scale=$scale:flags=area" -f rawvideo -pix_fmt rgb24 - |
      "$cli" track - --raw "${scale/:/x}" --format rgb --gallery "$tmp/g.fkg" --no-liveness --policy "$p" --json 2>&1 | count
  fi >>"$tmp/$p.$set"
}
for p in enrolment unlock gate; do
  for c in "$v"/intel_asl_*.mkv; do run $p asl "$c"; run $p asl_320x240 "$c" 320:240; done
  for c in "$v"/intel_face-demographics-walking*.gif; do run $p walking "$c"; done
  run $p crowd "$v/facenetpt_opera_crowd.mp4"
  run $p interview "$v/fr_short_hamilton_clip.mp4"
done
python3 - "$tmp" <<'PY'
import json, sys, pathlib
out = {}
for p in ("enrolment", "unlock", "gate"):
    out[p] = {}
    for s in ("asl", "asl_320x240", "walking", "crowd", "interview"):
        rows = [tuple(map(int, l.split())) for l in (pathlib.Path(sys.argv[1]) / f"{p}.{s}").read_text().split("\n") if l]
        n, d, r, u = (sum(x[i] for x in rows) for i in range(4))
        out[p][s] = {"tracks": n, "decided": d, "refused_quality": r, "undecided": u}
        print(f"{p:10} {s:12} tracks {n:3d}  refused for quality {r:3d}  undecided at the end {u:3d}  "
              f"(not decided on identity: {100.0 * (r + u) / max(n, 1):5.1f} %)")
print(json.dumps(out))
PY
