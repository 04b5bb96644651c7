#!/usr/bin/env python3
"""Decisions of a central gallery on Milvus against the device gallery, on the open-set LFW protocol.

    python3 bench/milvus_parity.py ../shared/data/lfw --json [--index FLAT|HNSW|both] [--cache FILE]

Builds the gallery of `facekit eval identify --open-set` (4,909 templates: the CLI writes it and its 8,324
probes' embeddings with `--export`, so the protocol is the CLI's own), loads it as a device `Gallery`, pushes it
into a Milvus Lite collection (`facekit.milvus.MilvusGallery.push`), runs every probe through both and prints
one JSON line per index:

  {"probes":…, "top1_agreement":…, "decision_agreement":…, "max_score_diff":…, "milvus_index":"FLAT", …}

top1_agreement: share of probes whose best identity is the same on both sides. decision_agreement: share whose
decision (that identity, or nobody) at the gallery-size threshold for `--target-fpir` is the same; the same at
every calibrated point is in decision_agreement_by_fpir. max_score_diff: largest |device - Milvus| similarity
of the best identity. For FLAT also round_trip_identical: the collection pulled back into a device gallery
file (`pull`), loaded (`fk_gallery_load`) and searched with every probe gives the device's answers, scores
bit for bit. HNSW reports its build and search parameters.

Environment: FACEKIT_LIB_DIR (libfacekit.so, default target/release), FACEKIT_SHARED (models, default ../shared).
"""

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bindings" / "python"))

from facekit import Engine, Gallery, OperatingPoint  # noqa: E402
from facekit.milvus import MilvusGallery  # noqa: E402


def device_answers(g: Gallery, probes: np.ndarray):
    return [(g.search(p, 1, -1) or [(None, float("nan"))])[0] for p in probes]


def compare(dev, other, thresholds):
    """Agreement of best identities, of decisions at each threshold, and the largest score difference."""
    n = len(dev)
    top1 = sum(a[0] == b[0] for a, b in zip(dev, other))
    by_fpir = {}
    for fpir, t in thresholds.items():
        decide = lambda h: h[0] if h[1] >= t else None  # noqa: E731
        by_fpir[fpir] = sum(decide(a) == decide(b) for a, b in zip(dev, other)) / n
    diff = max(abs(a[1] - b[1]) for a, b in zip(dev, other))
    return top1 / n, by_fpir, diff


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("lfw", type=Path, help="LFW root (with images/)")
    ap.add_argument("--json", action="store_true", help="print JSON lines only")
    ap.add_argument("--index", choices=["FLAT", "HNSW", "both"], default="both")
    ap.add_argument("--target-fpir", type=float, default=1e-2, help="decision_agreement's point (default 1e-2)")
    ap.add_argument("--cache", type=Path, help="embedding cache of the CLI (eval --cache)")
    ap.add_argument("--facekit", type=Path, default=REPO / "target" / "release" / "facekit")
    ap.add_argument("--hnsw-m", type=int, default=16)
    ap.add_argument("--hnsw-ef-construction", type=int, default=200)
    ap.add_argument("--hnsw-ef", type=int, default=64)
    a = ap.parse_args()
    logging.getLogger("pymilvus").setLevel(logging.ERROR)
    shared = Path(os.environ.get("FACEKIT_SHARED") or REPO.parent / "shared")
    models = shared / "models"
    say = (lambda *x: None) if a.json else (lambda *x: print(*x, file=sys.stderr))

    with tempfile.TemporaryDirectory(prefix="fk-parity-") as tmp, Engine(models) as engine:
        tmp = Path(tmp)
        cmd = [str(a.facekit), "--models", str(models), "eval", "identify", str(a.lfw), "--open-set", "--export", str(tmp)]
        if a.cache:
            cmd += ["--cache", str(a.cache)]
        say("$", " ".join(cmd))
        t0 = time.time()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=None if not a.json else subprocess.DEVNULL)
        z = np.load(tmp / "probes.npz")
        probes = z["embeddings"]
        say(f"exported the open-set gallery and {len(probes)} probes in {time.time() - t0:.0f} s")

        g = Gallery.load(engine, tmp / "gallery.fkg")
        n_templates = g.template_count()
        thresholds = {f"{10.0 ** -k:g}": engine.gallery_threshold(n_templates, OperatingPoint(k)) for k in range(2, 7)}
        key = f"{a.target_fpir:g}"
        if key not in thresholds:
            ap.error(f"--target-fpir must be one of {sorted(thresholds)}")
        t0 = time.time()
        dev = device_answers(g, probes)
        say(f"device: {len(probes)} searches in {time.time() - t0:.1f} s")

        for index in (["FLAT", "HNSW"] if a.index == "both" else [a.index]):
            m = MilvusGallery(engine, str(tmp / f"{index}.db"), "lfw_open_set", index=index, hnsw_m=a.hnsw_m,
                              hnsw_ef_construction=a.hnsw_ef_construction, hnsw_ef=a.hnsw_ef, timeout=120)
            t0 = time.time()
            pushed = m.push(tmp / "gallery.fkg")
            push_s = time.time() - t0
            t0 = time.time()
            mil = [(m.search(p, 1) or [(None, float("nan"))])[0] for p in probes]
            search_s = time.time() - t0
            top1, by_fpir, diff = compare(dev, mil, thresholds)
            out = {
                "probes": len(probes),
                "top1_agreement": top1,
                "decision_agreement": by_fpir[key],
                "max_score_diff": diff,
                "milvus_index": index,
                "target_fpir": a.target_fpir,
                "threshold": thresholds[key],
                "decision_agreement_by_fpir": by_fpir,
                "templates": n_templates,
                "milvus_templates": m.template_count(),
                "push_s": round(push_s, 2),
                "milvus_search_s": round(search_s, 2),
            }
            if index == "HNSW":
                out["hnsw"] = {"M": a.hnsw_m, "efConstruction": a.hnsw_ef_construction, "ef": a.hnsw_ef}
            else:
                # The round trip: Milvus -> device file -> fk_gallery_load, every answer bit for bit.
                m.pull(tmp / "pulled.fkg")
                back = Gallery.load(engine, tmp / "pulled.fkg")
                rt = device_answers(back, probes)
                out["round_trip_identical"] = all(x[0] == y[0] and np.float32(x[1]).tobytes() == np.float32(y[1]).tobytes()
                                                  for x, y in zip(dev, rt))
                back.close()
            m.close()
            print(json.dumps(out), flush=True)
            say(f"{index}: pushed {pushed} in {push_s:.1f} s, {len(probes)} searches in {search_s:.1f} s")
        g.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
