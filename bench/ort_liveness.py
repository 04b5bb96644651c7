"""Times the onnxruntime liveness reference (../shared/tools/liveness_ref.py: MiniFASNetV2 on the face box
scaled 2.7x, MiniFASNetV1SE on it scaled 4.0x, crops resized to 80x80, softmax, mean of P(real)) on the face
of one image, single thread, the way examples/bench_liveness.rs times facekit: the crops, resizes and both
models, not the detection. Prints JSON: median ms over --runs calls after two warm-up calls."""
import sys, os, json, time, argparse
import numpy as np, cv2

ap = argparse.ArgumentParser()
ap.add_argument("image")
ap.add_argument("--shared", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
ap.add_argument("--runs", type=int, default=50)
a = ap.parse_args()
sys.path.insert(0, os.path.join(a.shared, "tools"))
import liveness_ref as L  # noqa: E402

cv2.setNumThreads(1)
L.init(os.path.join(a.shared, "models"), "auto", 320)  # sessions with one intra-op thread (refpipe.sess)
bgr = cv2.imread(a.image)
H, W = bgr.shape[:2]
bbox, found = L.face_box(bgr)
assert found, f"no face in {a.image}"


def score():
    pr = []
    for _, s, sc in L.G["m"]:
        x1, y1, x2, y2 = L.new_box(W, H, bbox, sc)
        x = cv2.resize(bgr[y1:y2 + 1, x1:x2 + 1], (80, 80)).astype(np.float32).transpose(2, 0, 1)[None]
        z = s.run(None, {"input": np.ascontiguousarray(x)})[0][0].astype(np.float64)
        e = np.exp(z - z.max())
        pr.append(float((e / e.sum())[1]))
    return (pr[0] + pr[1]) / 2


ms = []
for i in range(a.runs + 2):
    t0 = time.perf_counter()
    p = score()
    if i >= 2:
        ms.append((time.perf_counter() - t0) * 1e3)
print(json.dumps({"image": a.image, "runs": a.runs, "liveness_ms": float(np.median(ms)), "score": p}))
