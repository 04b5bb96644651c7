#!/usr/bin/env bash
# Builds examples/c/door_gate.c with one cc line and runs it on shared clips: three people enrolled from one
# frame of one clip each; another clip of each enrolled person must open the door for that person, and a
# stranger (the talking-head clip) must not. Needs ffmpeg and the release build. Usage: examples/c/door_gate_test.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
S=${FACEKIT_SHARED:-../shared}
V=$S/data/video
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ln -sf libfacekit.so target/release/libfacekit.so.0   # the SONAME (packaging/install.sh does this when installing)
cc -std=c11 -Wall -Wextra -Werror examples/c/door_gate.c -Iinclude -Ltarget/release -lfacekit -Wl,-rpath,"$PWD/target/release" -o "$tmp/door_gate"
mkdir "$tmp/people"
# One photo per person: a frame one second into their first clip.
for p in A:again C:book D:eat; do
  ffmpeg -v error -nostdin -ss 1 -i "$V/intel_asl_${p#*:}.mkv" -frames:v 1 "$tmp/people/${p%%:*}.png"
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
check intel_asl_night.mkv 640 480 "OPEN D"
check lp_d1.mp4 512 512 "DENY unknown person"
exit $status
