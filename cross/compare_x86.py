#!/usr/bin/env python3
"""Compares an ARM build's answers with the x86-64 build's on the same pixels (cross/test.sh).

usage: compare_x86.py X86_GOLDEN ARM_GOLDEN [X86_LFW ARM_LFW] [--subset]

Golden dumps (tests/golden.rs, FACEKIT_GOLDEN_DUMP): every x86 face must be found on ARM (same image, IoU >= 0.5),
its embedding at cosine >= 0.9999 with x86's, its liveness score within 1e-3 (and assessed on both or neither).
With --subset only the images present in the ARM dump are compared (a run on a few images, e.g. -cpu max).
LFW dumps (tests/pipeline.rs, FACEKIT_LFW_DUMP): the same pairs and the same decision for every pair.
Prints one JSON object; exit status 1 when a check fails.
"""
import json
import math
import sys

MIN_COSINE = 0.9999
MAX_LIVENESS_DIFF = 1e-3


def iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na > 0 and nb > 0 else float("nan")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    subset = "--subset" in sys.argv
    x86 = json.load(open(args[0]))["faces"]
    arm = json.load(open(args[1]))["faces"]
    by_image = {}
    for f in arm:
        by_image.setdefault(f["image"], []).append(f)
    if subset:
        x86 = [f for f in x86 if f["image"] in by_image]
    problems, min_cos, max_live, worst = [], 1.0, 0.0, None
    for f in x86:
        cands = by_image.get(f["image"], [])
        best = max(cands, key=lambda g: iou(f["box"], g["box"]), default=None)
        if best is None or iou(f["box"], best["box"]) < 0.5:
            problems.append(f"{f['image']}: x86 face {f['box']} not found on ARM")
            continue
        c = cosine(f["embedding"], best["embedding"])
        if c < min_cos:
            min_cos, worst = c, f["image"]
        if not c >= MIN_COSINE:
            problems.append(f"{f['image']}: embedding cosine {c:.6f} < {MIN_COSINE}")
        la, lb = f["liveness"], best["liveness"]
        if (la is None) != (lb is None):
            problems.append(f"{f['image']}: liveness {f['liveness_status']} on x86, {best['liveness_status']} on ARM")
        elif la is not None:
            d = abs(la - lb)
            max_live = max(max_live, d)
            if d > MAX_LIVENESS_DIFF:
                problems.append(f"{f['image']}: liveness {la:.6f} on x86, {lb:.6f} on ARM")
    r = {"golden_faces_x86": len(x86), "golden_faces_arm": len(arm), "golden_min_cosine_vs_x86": min_cos,
         "golden_worst_image": worst, "liveness_max_abs_diff_vs_x86": max_live}
    if len(args) >= 4:
        lx = json.load(open(args[2]))
        la = json.load(open(args[3]))
        px = [(p["a"], p["b"]) for p in lx["pairs"]]
        pa = [(p["a"], p["b"]) for p in la["pairs"]]
        if px != pa:
            problems.append("LFW subset: the pairs differ")
        diff = [f"{p['a']} {p['b']}: x86 {p['match']} ({p['similarity']:.5f}), ARM {q['match']} ({q['similarity']:.5f})"
                for p, q in zip(lx["pairs"], la["pairs"]) if p["match"] != q["match"]]
        problems += ["LFW subset decision differs: " + d for d in diff]
        r["lfw_pairs"] = len(pa)
        r["lfw_decisions_differing"] = len(diff)
        r["lfw_max_similarity_diff"] = max((abs(p["similarity"] - q["similarity"]) for p, q in zip(lx["pairs"], la["pairs"])),
                                           default=0.0)
    if not x86:
        problems.append("no x86 face to compare")
    r["problems"] = problems
    print(json.dumps(r))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
