#!/usr/bin/env python3
"""Recognisability against size and blur (issue 22, item 5): where the quality gate's floors come from.

LFW's same-person pairs (pairs.txt, the first PAIRS of them), both photos re-rendered as a small camera face:
downscaled (area filter) to an inter-eye distance EYE, blurred (Gaussian, sigma in pixels of the small image),
JPEG-compressed at quality 75. Per (EYE, sigma): the share of pairs accepted at the per-resolution threshold of
each operating point (the manifest's by_eye_distance band of the smaller face, what verify uses), and the
false-accept rate over every pair of different people's renders at the same thresholds, and the median sharpness
of the captures (the quality gate's measure, raw and per pixel of eye distance) and learned quality. Size costs
TAR; blur costs FAR (blurred strangers look alike): the table shows from which sharpness per eye pixel a
threshold stops holding its rate, which is where the quality gate's blur floors are set.

Usage: bench/quality_floors.py LFW_DIR [--pairs N] [--json]
Prints a table, or with --json one JSON object per line; the last line summarises, per size and operating point, the
sharpness per eye pixel of the least blurred render whose FAR exceeds twice the point's target.
"""
import json, os, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bindings" / "python"))
import cv2
import numpy as np
import facekit

args = sys.argv[1:]
as_json = "--json" in args
args = [a for a in args if a != "--json"]
npairs = 300
if "--pairs" in args:
    i = args.index("--pairs"); npairs = int(args[i + 1]); del args[i:i + 2]
lfw = Path(args[0])
models = os.environ.get("FACEKIT_MODELS", str(Path(__file__).resolve().parent.parent.parent / "shared" / "models"))
EYES = [14.0, 19.0, 26.0, 35.0]  # inside the calibration's bands 10-16, 16-22, 22-30, 30-40
SIGMAS = [0.0, 0.6, 1.2, 1.8, 2.4]  # the calibration rendered sigma in [0, 1.2]
OPS = ["far_1e-3", "far_1e-4"]


def pairs(n):
    lines = (lfw / "pairs.txt").read_text().split("\n")[1:]
    out = []
    for l in lines:
        p = l.split("\t")
        if len(p) == 3:
            out.append((p[0], int(p[1]), p[0], int(p[2])))
        if len(out) == n:
            break
    return out


def path(name, k):
    return lfw / "images" / name / f"{name}_{k:04d}.jpg"


def eye_px(f):
    (x0, y0), (x1, y1) = f.landmarks[0], f.landmarks[1]
    return float(np.hypot(x1 - x0, y1 - y0))


def render(img, e0, eye, sigma):
    s = eye / e0
    small = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    if sigma > 0:
        small = cv2.GaussianBlur(small, (0, 0), sigma)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 75])
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


with facekit.Engine(models, options={"quality_policy": "unlock", "require_liveness": 0}) as engine:
    # Each photo's face at full size (the largest), for its eye distance.
    cache = {}

    def original(name, k):
        key = (name, k)
        if key not in cache:
            img = cv2.cvtColor(cv2.imread(str(path(name, k))), cv2.COLOR_BGR2RGB)
            fs = engine.detect(img)
            cache[key] = (img, eye_px(max(fs, key=lambda f: f.area))) if fs else None
        return cache[key]

    def capture(img):
        fs = engine.detect(img)
        if not fs:
            return None
        f = max(fs, key=lambda f: f.area)
        q = engine.quality(img, f)
        return engine.embed(img, f), eye_px(f), q.components["sharpness"].raw, q.components["learned"].raw

    rows = []
    ps = pairs(npairs)
    for eye in EYES:
        for sigma in SIGMAS:
            caps = {}  # (name, k) -> capture of the rendered photo, None when not detected

            def cap(name, k):
                if (name, k) not in caps:
                    o = original(name, k)
                    caps[(name, k)] = None if o is None or o[1] <= eye else capture(render(*o, eye, sigma))
                return caps[(name, k)]

            acc = {op: 0 for op in OPS}
            n = missed = 0
            for a_name, a_k, b_name, b_k in ps:
                oa, ob = original(a_name, a_k), original(b_name, b_k)
                if oa is None or ob is None or oa[1] <= eye or ob[1] <= eye:
                    continue
                ca, cb = cap(a_name, a_k), cap(b_name, b_k)
                n += 1
                if ca is None or cb is None:
                    missed += 1  # not even detected: not accepted
                    continue
                sim = float(np.dot(ca[0], cb[0]))
                for op in OPS:
                    acc[op] += sim >= engine.threshold(op, eye_distance=min(ca[1], cb[1]))
            # Impostors: every pair of captures of different people, at the same per-resolution threshold.
            got = [(k[0], c) for k, c in caps.items() if c is not None]
            names = np.array([g[0] for g in got])
            embs = np.stack([g[1][0] for g in got])
            eyes = np.array([g[1][1] for g in got])
            sims = embs @ embs.T
            iu = np.triu_indices(len(got), 1)
            diff = names[iu[0]] != names[iu[1]]
            imp, small = sims[iu][diff], np.minimum(eyes[iu[0]], eyes[iu[1]])[diff]
            far = {}
            for op in OPS:
                th = np.array([engine.threshold(op, eye_distance=float(e)) for e in small])
                far[op] = float(np.mean(imp >= th))
            per_eye = [g[1][2] / g[1][1] for g in got]
            r = {"eye_px": eye, "sigma": sigma, "pairs": n, "not_detected": missed,
                 "tar": {op: round(100.0 * acc[op] / max(n, 1), 1) for op in OPS},
                 "impostor_pairs": int(diff.sum()), "far": {op: round(far[op], 5) for op in OPS},
                 "impostor_mean": round(float(imp.mean()), 3),
                 "sharpness_median": round(float(np.median([g[1][2] for g in got])), 1),
                 "sharpness_per_eye_px_median": round(float(np.median(per_eye)), 2),
                 "sharpness_per_eye_px_p10": round(float(np.percentile(per_eye, 10)), 2),
                 "learned_median": round(float(np.median([g[1][3] for g in got])), 3)}
            rows.append(r)
            if as_json:
                print(json.dumps(r), flush=True)
            else:
                print(f"eye {eye:4.0f} px  sigma {sigma:4.2f}  pairs {n:4d}  TAR@1e-3 {r['tar']['far_1e-3']:5.1f} %  "
                      f"FAR@1e-3 {far['far_1e-3']:.5f} (impostor mean {r['impostor_mean']})  "
                      f"TAR@1e-4 {r['tar']['far_1e-4']:5.1f} %  FAR@1e-4 {far['far_1e-4']:.5f}  "
                      f"sharpness {r['sharpness_median']}  per eye px {r['sharpness_per_eye_px_median']} "
                      f"(p10 {r['sharpness_per_eye_px_p10']})  learned {r['learned_median']}", flush=True)
    # Where safety goes: per size and operating point, the sharpness per eye pixel of the least blurred render
    # whose FAR at that point's threshold exceeds twice its target (the blur floor belongs above it).
    summary = {}
    for eye in EYES:
        rs = [r for r in rows if r["eye_px"] == eye]
        for op, target in (("far_1e-3", 1e-3), ("far_1e-4", 1e-4)):
            over = next((r for r in rs if r["far"][op] > 2 * target), None)
            summary[f"{eye:.0f}px_{op}_over_2x"] = None if over is None else {
                "sigma": over["sigma"], "far": over["far"][op], "sharpness_per_eye_px_median": over["sharpness_per_eye_px_median"]}
    print(json.dumps({"pairs": npairs, "summary": summary}))
