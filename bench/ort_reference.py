"""Times the onnxruntime reference pipeline (../shared/tools/refpipe.py's classes) on one image, single
thread, the way `facekit bench` times facekit: median ms per stage over repeated runs. Prints JSON."""
import sys, os, json, time, argparse
import numpy as np, cv2

ap = argparse.ArgumentParser()
ap.add_argument("image")
ap.add_argument("--shared", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
ap.add_argument("--det", type=int, default=320)
ap.add_argument("--runs", type=int, default=20)
ap.add_argument("--quality-model", default="lightqnet_dm050")
a = ap.parse_args()
sys.path.insert(0, os.path.join(a.shared, "tools"))
from refpipe import YuNet, Rec, umeyama, ARC, sess  # noqa: E402

cv2.setNumThreads(1)
M = os.path.join(a.shared, "models")
det = YuNet(os.path.join(M, "yunet_s_dynamic.onnx"), a.det)
rec = Rec(os.path.join(M, "mobilefacenet.onnx"), 112, "imagenet")
lq = sess(os.path.join(M, a.quality_model + ".onnx"))
# LightQNet's own alignment, as ../shared/tools/golden.py does it: 3 points onto its template in a 160 crop, resized.
REF3 = np.array([[34.19, 46.16], [65.65, 45.98], [50.12, 82.40]], np.float32) / 100 * 160
data = open(a.image, "rb").read()
t = {k: [] for k in ("decode", "detect", "align", "embed", "total", "learned_quality")}
for i in range(a.runs + 2):
    t0 = time.perf_counter()
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    t1 = time.perf_counter()
    B, S, K = det.detect(bgr)
    k = K[int(np.argmax((B[:, 2] - B[:, 0]) * (B[:, 3] - B[:, 1])))]
    t2 = time.perf_counter()
    chip = cv2.warpAffine(bgr, umeyama(k.astype(np.float32), ARC), (112, 112), flags=cv2.INTER_LINEAR)
    t3 = time.perf_counter()
    rec.embed(chip, False)
    t4 = time.perf_counter()
    pts = np.array([k[0], k[1], (k[3] + k[4]) / 2], np.float32)
    q = cv2.resize(cv2.warpAffine(bgr, umeyama(pts, REF3), (160, 160), flags=cv2.INTER_LINEAR), (96, 96), interpolation=cv2.INTER_LINEAR)
    lq.run(None, {"input:0": ((q.astype(np.float32) - 128) / 128)[None]})
    t5 = time.perf_counter()
    if i >= 2:
        for key, v in zip(t, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0, t5 - t4)):
            t[key].append(v * 1e3)
out = {f"{k}_ms": float(np.median(v)) for k, v in t.items()}
out.update(image=a.image, width=bgr.shape[1], height=bgr.shape[0], runs=a.runs, detector_input=a.det)
print(json.dumps(out))
