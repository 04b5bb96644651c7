#!/usr/bin/env python3
"""Scale, side by side: the device gallery's int8 scan against Milvus Lite (FLAT and HNSW) on the same
synthetic unit vectors, in one run.

    python3 bench/milvus_scale.py --size 1000000 --json [--systems device,FLAT,HNSW] [--queries 200]

Each system runs in its own subprocess (so its peak memory is its own) on the same seeded vectors
(`--dim`, default 128, unit norm, float32) and the same queries (each a gallery vector plus noise, cosine
about 0.78 to it: a genuine probe). Measured per system:
  insert_per_s   templates stored per second (device: Gallery.add_template from Python, then save; Milvus:
                 MilvusGallery.push of that saved device gallery file, batches of 5,000, index built)
  search_ms      median and p99 of one search, best identity, single client, one thread
  memory_mb      peak resident memory of the subprocess above its resident memory once the vectors exist
  recall_at_1    share of queries whose answer is the exact nearest template (numpy float32 brute force)
and the ratios of each Milvus figure to the device's. One JSON line per system plus one summary line with
--json. Milvus Lite is an embedded Python build of Milvus (numpy brute force for FLAT, FAISS for HNSW); a
Milvus server has other absolute figures.
"""

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bindings" / "python"))


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def data(size: int, dim: int, queries: int, seed: int):
    """Unit gallery vectors in blocks (bounded temporary memory) and genuine-probe queries."""
    rng = np.random.default_rng(seed)
    v = np.empty((size, dim), np.float32)
    for s in range(0, size, 100_000):
        b = rng.standard_normal((min(100_000, size - s), dim), dtype=np.float32)
        v[s:s + len(b)] = b / np.linalg.norm(b, axis=1, keepdims=True)
    pick = rng.integers(0, size, queries)
    noise = rng.standard_normal((queries, dim), dtype=np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    q = v[pick] + 0.8 * noise
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return v, q.astype(np.float32)


def exact_top1(v: np.ndarray, q: np.ndarray) -> np.ndarray:
    best = np.full(len(q), -np.inf, np.float32)
    arg = np.zeros(len(q), np.int64)
    for s in range(0, len(v), 200_000):
        sims = v[s:s + 200_000] @ q.T
        i = sims.argmax(axis=0)
        m = sims[i, np.arange(len(q))]
        better = m > best
        best[better], arg[better] = m[better], s + i[better]
    return arg


def worker(a) -> dict:
    from facekit import Engine, Gallery
    from facekit.milvus import MilvusGallery
    logging.getLogger("pymilvus").setLevel(logging.ERROR)
    v, q = data(a.size, a.dim, a.queries, a.seed)
    truth = exact_top1(v, q)
    ids = [f"id{i}" for i in range(a.size)]
    engine = Engine(os.environ.get("FACEKIT_MODELS") or str(Path(os.environ.get("FACEKIT_SHARED") or REPO.parent / "shared") / "models"))
    if engine.embedding_dim != a.dim:
        raise SystemExit(f"the engine's dimension is {engine.embedding_dim}, not --dim {a.dim}")
    tmp = Path(a.tmp)
    gallery_file = tmp / "device.fkg"
    base = rss_mb()
    out = {"system": a.worker, "size": a.size, "dim": a.dim, "queries": a.queries}
    if a.worker == "device":
        t0 = time.perf_counter()
        g = Gallery(engine)
        for i, row in enumerate(v):
            g.add_template(ids[i], row)
        g.save(gallery_file)
        out["insert_per_s"] = a.size / (time.perf_counter() - t0)
        search = lambda x: g.search(x, 1, -1)  # noqa: E731
    else:
        m = MilvusGallery(engine, str(tmp / f"{a.worker}.db"), "scale", index=a.worker, hnsw_m=a.hnsw_m,
                          hnsw_ef_construction=a.hnsw_ef_construction, hnsw_ef=a.hnsw_ef, timeout=3600)
        t0 = time.perf_counter()
        m.push(gallery_file, batch_size=5000)
        m.search(q[0], 1)  # an index is built on first use in Milvus Lite: part of the insert cost
        out["insert_per_s"] = a.size / (time.perf_counter() - t0)
        search = lambda x: m.search(x, 1)  # noqa: E731
        if a.worker == "HNSW":
            out["hnsw"] = {"M": a.hnsw_m, "efConstruction": a.hnsw_ef_construction, "ef": a.hnsw_ef}
    times, right = [], 0
    for i, x in enumerate(q):
        t0 = time.perf_counter()
        hit = search(x)
        times.append(time.perf_counter() - t0)
        right += bool(hit) and hit[0][0] == ids[truth[i]]
    out["search_ms_median"] = 1000 * float(np.median(times))
    out["search_ms_p99"] = 1000 * float(np.percentile(times, 99))
    out["memory_mb"] = peak_mb() - base
    out["recall_at_1"] = right / len(q)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--systems", default="device,FLAT,HNSW")
    ap.add_argument("--hnsw-m", type=int, default=16)
    ap.add_argument("--hnsw-ef-construction", type=int, default=200)
    ap.add_argument("--hnsw-ef", type=int, default=64)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--tmp", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker(a)), flush=True)
        return 0
    systems = a.systems.split(",")
    if systems[0] != "device":
        systems.insert(0, "device")  # Milvus is pushed the device's saved gallery, and ratios need it
    results = {}
    with tempfile.TemporaryDirectory(prefix="fk-scale-") as tmp:
        for s in systems:
            cmd = [sys.executable, __file__, "--worker", s, "--tmp", tmp] + [
                f"--{k}={getattr(a, k.replace('-', '_'))}" for k in
                ("size", "dim", "queries", "seed", "hnsw-m", "hnsw-ef-construction", "hnsw-ef")]
            t0 = time.time()
            r = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)
            results[s] = json.loads(r.stdout.strip().splitlines()[-1])
            results[s]["wall_s"] = round(time.time() - t0, 1)
            if a.json:
                print(json.dumps(results[s]), flush=True)
            else:
                print(results[s], file=sys.stderr)
    dev = results["device"]
    ratios = {s: {k: r[k] / dev[k] for k in ("insert_per_s", "search_ms_median", "search_ms_p99", "memory_mb")}
              for s, r in results.items() if s != "device"}
    summary = {"size": a.size, "dim": a.dim, "ratios_to_device": ratios}
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
