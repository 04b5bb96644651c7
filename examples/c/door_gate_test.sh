#!/usr/bin/env bash
# Builds examples/c/door_gate.c with one cc line and runs it on shared clips: two people enrolled from one photo
# each (chosen from one of their clips); another clip of each must open the door for that person (two clips whose
# people the liveness check accepts: at its default operating point it refuses some of these webcam clips, see
# BENCHMARKS.md), and a stranger (the talking-head clip) must not. Needs ffmpeg and the release build.
# Usage: examples/c/door_gate_test.sh
# For another architecture (cross/test.sh): CC (the target's gcc), FACEKIT_LIB_DIR (where its libfacekit.so is)
# and FACEKIT_CLI (its facekit) choose the build; the programs run through binfmt_misc/QEMU.
set -euo pipefail
cd "$(dirname "$0")/../.."
S=${FACEKIT_SHARED:-../shared}
V=$S/data/video
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
lib=${FACEKIT_LIB_DIR:-target/release}
cli=${FACEKIT_CLI:-./target/release/facekit}
lib=$(cd "$lib" && pwd)
ln -sf libfacekit.so "$lib/libfacekit.so.0"   # the SONAME (packaging/install.sh does this when installing)
${CC:-cc} -std=c11 -Wall -Wextra -Werror examples/c/door_gate.c -Iinclude -L"$lib" -lfacekit -Wl,-rpath,"$lib" -o "$tmp/door_gate"
mkdir "$tmp/people"
# One photo per person, as an operator would choose it: of every 5th frame of their first clip, the one facekit's
# quality check scores best among those it accepts (fk_gallery_enroll_image refuses poor or not-live captures).
for p in A:no C:book; do
  mkdir "$tmp/frames"
  ffmpeg -v error -nostdin -i "$V/intel_asl_${p#*:}.mkv" -vf "select=not(mod(n\,5))" -fps_mode passthrough "$tmp/frames/%03d.png"
  best=$("$cli" quality --json "$tmp"/frames/*.png 2>/dev/null | python3 -c '
import json, sys
ok = [r for r in json.load(sys.stdin) if r["acceptable"]]
print(max(ok, key=lambda r: r["overall"])["image"] if ok else "")')
  [ -n "$best" ] && cp "$best" "$tmp/people/${p%%:*}.png"
  rm -rf "$tmp/frames"
done
status=0
check() { # clip, WIDTH HEIGHT, expected line prefix
  # Full-range BT.601, as Android cameras deliver NV21 (ffmpeg defaults to the limited TV range).
  out=$(ffmpeg -v error -nostdin -i "$V/$1" -vf scale=out_color_matrix=bt601:out_range=full -f rawvideo -pix_fmt nv21 - |
        "$tmp/door_gate" "$S/models" "$tmp/people" "$2" "$3" 2>/dev/null)
  echo "$1: ${out:-<nothing decided>}"
  if ! grep -q "^$4" <<<"$out" || grep -v "^$4" <<<"$out" | grep -q "^OPEN"; then
    echo "  expected '$4' only"; status=1
  fi
}
check intel_asl_brother.mkv 640 480 "OPEN A"
check intel_asl_school.mkv 640 480 "OPEN C"
check lp_d1.mp4 512 512 "DENY"   # a stranger
exit $status
