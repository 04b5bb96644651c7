#!/usr/bin/env bash
# The tracker's correctness on the shared clips, through `facekit track`:
# - ASL (5 people, 20 webcam clips): each person's first clip enrolls its best capture (`--enroll`); every
#   other clip must be decided as its person. Counts right/wrong/undecided, tracks per clip (an id switch makes
#   a second track), frames to decision, similarity to the enrolled capture.
# - walking clips: tracks per clip against the people in it, and track-frames unseen.
# Extra arguments go to every `facekit track` (e.g. --roi-input 64, --aggregate best, --no-liveness).
# Usage: bench/track_eval.sh [facekit track options]
set -euo pipefail
cd "$(dirname "$0")/.."
V=../shared/data/video
fk=./target/release/facekit
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
declare -A WHO=([again]=A [brother]=A [help]=A [no]=A [student]=A [yes]=A [bird]=B [milk]=B [please]=B [sorry]=B
  [thanks]=B [book]=C [learn]=C [school]=C [walk]=C [eat]=D [night]=D [sister]=D [hungry]=E [want]=E)
G=$tmp/asl.gallery
for c in again bird book eat hungry; do
  "$fk" track "$V/intel_asl_$c.mkv" --gallery "$G" --enroll "${WHO[$c]}" "$@" > /dev/null 2>&1 ||
    echo "could not enroll ${WHO[$c]} from $c"
done
for c in brother help no student yes milk please sorry thanks learn school walk night sister want; do
  "$fk" track "$V/intel_asl_$c.mkv" --gallery "$G" --json "$@" 2>/dev/null > "$tmp/$c.jsonl" || true
done
python3 - "$tmp" <<'PY'
import json, os, sys
who = dict(brother="A", help="A", no="A", student="A", yes="A", milk="B", please="B", sorry="B", thanks="B",
           learn="C", school="C", walk="C", night="D", sister="D", want="E")
right = wrong = undecided = 0; refusals = {}; frames = []; sims = []; switches = 0
for c, p in who.items():
    ev = [json.loads(l) for l in open(os.path.join(sys.argv[1], c + ".jsonl")) if l.strip()]
    tracks = {e["track"] for e in ev if e["event"] == "appeared"}
    dec = [e for e in ev if e["event"] == "decided"]
    switches += max(0, len(tracks) - 1)
    ok = [d for d in dec if d["reason"] == "accepted" and d["identity"] == p]
    bad = [d for d in dec if d["reason"] == "accepted" and d["identity"] != p]
    if bad: wrong += 1
    elif ok: right += 1; frames += [d["after_frames"] for d in ok]; sims += [d["similarity"] for d in ok]
    elif dec: refusals[c] = dec[0]["reason"]
    else: undecided += 1
    print(f"  {c:8} ({p}): " + ("; ".join(f"{d['reason']} {d['identity'] or ''} sim {d['similarity'] or float('nan'):.3f} after {d['after_frames']} frames" for d in dec) or "undecided") + f"  [{len(tracks)} track(s)]")
med = lambda v: sorted(v)[len(v) // 2] if v else float("nan")
print(f"ASL: {right}/15 clips decided as their person, {wrong} as someone else, refused {len(refusals)} {refusals}, "
      f"undecided {undecided}; extra tracks {switches}; frames to decision median {med(frames)} (max {max(frames, default=0)}); "
      f"similarity to the enrolled capture median {med(sims):.3f}")
PY
for clip in intel_face-demographics-walking.gif:2 intel_face-demographics-walking-and-pause.gif:3; do
  f=${clip%%:*}; people=${clip##*:}
  "$fk" track "$V/$f" --json "$@" 2> "$tmp/walk.err" > "$tmp/walk.jsonl" || true
  tracks=$(grep -c '"appeared"' "$tmp/walk.jsonl" || true)
  lost=$(grep -c '"lost"' "$tmp/walk.jsonl" || true)
  echo "$f: $tracks track(s) for $people people, $lost lost before the end; $(tail -1 "$tmp/walk.err")"
done
