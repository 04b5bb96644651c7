#!/usr/bin/env python3
"""Track-level liveness on still captures: each frame of a liveness set (real/ and spoof/ trees) held in front
of the camera for HOLD frames, through the tracker against a template (so every track is decided). A spoof
is accepted when its track is not refused as not live; a live face is refused when it is. Prints APCER and
BPCER (percent) and the counts as one JSON line. Tracker settings as KEY=VALUE (fk_tracker_set keys).

Usage: bench/liveness_tracks.py DIR SPLIT [--hold N] [KEY=VALUE ...]
  e.g. bench/liveness_tracks.py ../shared/data/liveness/replay-attack test
       bench/liveness_tracks.py ../shared/data/liveness/replay-attack test liveness_redetect=0 liveness_captures=3 liveness_aggregate=mean
"""
import json, os, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bindings" / "python"))
import numpy as np
import facekit
from facekit import Engine, EventKind, Tracker, Verdict

args = [a for a in sys.argv[1:]]
hold = 20
if "--hold" in args:
    i = args.index("--hold"); hold = int(args[i + 1]); del args[i:i + 2]
root, split, settings = Path(args[0]), args[1], dict(a.split("=", 1) for a in args[2:])
models = os.environ.get("FACEKIT_MODELS", str(Path(__file__).resolve().parent.parent.parent / "shared" / "models"))
with Engine(models) as engine:
    template = np.zeros(engine.embedding_dim, np.float32); template[0] = 1.0  # nobody: every track is decided
    counts = {"real": [0, 0], "spoof": [0, 0]}  # [tracks decided, tracks refused as not live]
    for kind in ("real", "spoof"):
        for f in sorted((root / kind / split).rglob("*.jpg")):
            img = facekit.load_image(str(f))
            with Tracker(engine, template=template, **settings) as tr:
                for _ in range(hold):
                    tr.update(img)
                ev = [e for e in tr.poll_events() if e.kind == EventKind.DECIDED]
            ds = [e.decision for e in ev]
            if not ds:
                counts[kind][0] += 1; counts[kind][1] += 1  # undecided: the door stays shut
                continue
            counts[kind][0] += 1
            counts[kind][1] += int(ds[0].verdict == Verdict.NOT_LIVE or ds[0].verdict == Verdict.POOR_QUALITY)
    r, s = counts["real"], counts["spoof"]
    print(json.dumps({"set": f"{root} {split}", "hold": hold, "settings": settings, "bpcer": 100 * r[1] / max(r[0], 1),
                      "apcer": 100 * (s[0] - s[1]) / max(s[0], 1), "real": r[0], "spoof": s[0]}))
