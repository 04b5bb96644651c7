"""The onnxruntime reference of `facekit bench track`: the naive live-camera loop (detect the whole frame, then
align and embed every face, every frame) with ../shared/tools/refpipe.py's classes, single thread.

Decodes the video once with the same ffmpeg command facekit uses (so both sides time the same pixels), prints
{"ready": ...}, then for every line "round" on stdin times one pass over all frames and prints
{"ms_per_frame": ..., "faces": ...}. facekit alternates its own rounds with these (this VM drifts).
Usage: python3 bench/track_reference.py INPUT [--models DIR] [--max-frames N] [--det 320]"""
import sys, os, json, time, argparse, subprocess
import numpy as np, cv2

ap = argparse.ArgumentParser()
ap.add_argument("input")
ap.add_argument("--models", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "models"))
ap.add_argument("--shared", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared"))
ap.add_argument("--max-frames", type=int, default=0)
ap.add_argument("--det", type=int, default=320)
a = ap.parse_args()
sys.path.insert(0, os.path.join(a.shared, "tools"))
from refpipe import YuNet, Rec, umeyama, ARC  # noqa: E402

cv2.setNumThreads(1)


def frames(path):
    """RGB frames exactly as facekit's decoder gets them (ffmpeg rawvideo rgb24), as BGR arrays."""
    if os.path.isdir(path):
        files = sorted(f for f in os.listdir(path) if f.lower().endswith((".jpg", ".jpeg", ".png", ".webp")))
        return [cv2.imread(os.path.join(path, f), cv2.IMREAD_COLOR) for f in files]
    wh = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
                         "-of", "csv=p=0:s=x", path], capture_output=True, text=True, check=True).stdout.strip().split("\n")[0]
    w, h = (int(v) for v in wh.strip("x").split("x")[:2])
    raw = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-i", path, "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    n = len(raw) // (w * h * 3)
    rgb = np.frombuffer(raw[: n * w * h * 3], np.uint8).reshape(n, h, w, 3)
    return [np.ascontiguousarray(f[:, :, ::-1]) for f in rgb]


F = frames(a.input)
if a.max_frames:
    F = F[: a.max_frames]
det = YuNet(os.path.join(a.models, "yunet_s_dynamic.onnx"), a.det)
rec = Rec(os.path.join(a.models, "mobilefacenet.onnx"), 112, "imagenet")


def one_round():
    faces = 0
    t0 = time.perf_counter()
    for bgr in F:
        B, S, K = det.detect(bgr)
        for k in K:
            chip = cv2.warpAffine(bgr, umeyama(k.astype(np.float32), ARC), (112, 112), flags=cv2.INTER_LINEAR)
            rec.embed(chip, False)
            faces += 1
    return (time.perf_counter() - t0) * 1e3 / len(F), faces


one_round() if len(F) <= 50 else None  # warm-up on short clips; long ones warm up within the first round
print(json.dumps({"ready": True, "frames": len(F)}), flush=True)
for line in sys.stdin:
    if line.strip() != "round":
        break
    ms, faces = one_round()
    print(json.dumps({"ms_per_frame": ms, "faces": faces}), flush=True)
