#!/usr/bin/env python3
"""FAISS side of `facekit bench gallery --faiss`: the same templates and queries, timed in alternating rounds.

Driven by facekit's gallery::bench::bench_with_faiss (src/gallery/bench.rs), which writes the templates and
queries it searches to two .npy files (float32, unit-norm templates) and starts this script. Protocol on
stdin/stdout, one JSON object per line (anything else goes to stderr):
  script -> {"ready": true, ...}       after both indexes are built
  driver -> "round"                    script times every query once on each index, then
  script -> {"sq8_ms": m, "flat_ms": m} per-query medians in milliseconds
  driver closes stdin                  script exits
Single thread (omp_set_num_threads(1)), one query per search call, k = 1, inner product: the indexes are
IndexScalarQuantizer(d, QT_8bit, METRIC_INNER_PRODUCT) trained on the templates, and IndexFlatIP.
"""
import argparse
import json
import statistics
import subprocess
import sys
import time


def ensure_packages():
    try:
        import faiss  # noqa: F401
        import numpy  # noqa: F401
    except ImportError:
        # pip's own output goes to stderr: stdout carries the protocol.
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "faiss-cpu", "numpy"], stdout=sys.stderr)


def say(obj):
    print(json.dumps(obj), flush=True)


def timed_medians(index, queries, k):
    ms = []
    for i in range(len(queries)):
        t = time.perf_counter()
        index.search(queries[i:i + 1], k)
        ms.append((time.perf_counter() - t) * 1e3)
    return statistics.median(ms)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--templates", required=True, help=".npy, float32, one unit-norm template per row")
    ap.add_argument("--queries", required=True, help=".npy, float32, one query per row (any norm)")
    ap.add_argument("--k", type=int, default=1)
    args = ap.parse_args()

    ensure_packages()
    import faiss
    import numpy as np

    faiss.omp_set_num_threads(1)
    templates = np.ascontiguousarray(np.load(args.templates), dtype=np.float32)
    queries = np.ascontiguousarray(np.load(args.queries), dtype=np.float32)
    faiss.normalize_L2(queries)  # facekit normalises its queries too; the ranking is the same either way
    d = templates.shape[1]

    t = time.perf_counter()
    sq8 = faiss.IndexScalarQuantizer(d, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
    sq8.train(templates)
    sq8.add(templates)
    flat = faiss.IndexFlatIP(d)
    flat.add(templates)
    build_s = time.perf_counter() - t
    del templates

    _, exact = flat.search(queries, 1)
    _, approx = sq8.search(queries, 1)
    recall = float(np.mean(exact[:, 0] == approx[:, 0])) if len(queries) else 1.0
    say({
        "ready": True,
        "faiss_version": faiss.__version__,
        "faiss_compile_options": faiss.get_compile_options(),
        "build_seconds": build_s,
        "sq8_recall_at_1_vs_flat": recall,
    })
    for line in sys.stdin:
        if line.strip() != "round":
            print(f"faiss_gallery.py: unknown command {line.strip()!r}", file=sys.stderr)
            return 2
        say({"sq8_ms": timed_medians(sq8, queries, args.k), "flat_ms": timed_medians(flat, queries, args.k)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
