"""Procedural painter benchmark: speed / memory, and plausibility against real human processes.

Speed target (issue 6): 49 frames at 832×480 in ≤ 10 s on a 2-core machine.
Plausibility: the Perceptual Distance Profile (``loomis.metrics``; a plain mean-|Δ| profile
before that lands) of the procedural process vs the two real human acrylic processes in
``../shared/realdata``, side by side with Paint Transformer's and Timecraft's outputs on the same
painting (lower = closer to the human). Skipped, with the reason recorded, when that folder is
absent.
"""

from __future__ import annotations

import os
import re
import resource
import time
import tracemalloc
from pathlib import Path

import cv2
import numpy as np

from loomis.io import load_image, read_video
from loomis.mediums import medium_names
from loomis.procedural import ProceduralConfig, paint

SIZE = (832, 480)
SEEDS = (0, 1, 2)
SPEEDS = ("human", "linear", "fast")


def _realdata() -> Path | None:
    env = os.environ.get("LOOMIS_REALDATA")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "realdata"
    return path if path.is_dir() else None


def _speed_image() -> np.ndarray:
    """A real photograph that ships with scikit-image (or a rendered scene without it)."""
    try:
        from skimage import data

        img = data.coffee()
    except ImportError:
        y, x = np.mgrid[0:480, 0:832]
        img = np.stack([(x * 255 / 832), (y * 255 / 480), 128 + 0 * x], -1).astype(np.uint8)
        cv2.circle(img, (500, 250), 120, (230, 200, 40), -1)
    return cv2.resize(img, SIZE, interpolation=cv2.INTER_AREA)


def bench_speed() -> dict:
    img = _speed_image()
    out: dict = {
        "target_s": 10.0,
        "size": list(SIZE),
        "frames": 49,
        "cpu_count": os.cpu_count(),
        "seconds": {},
    }
    for medium in medium_names():
        t0 = time.perf_counter()
        paint(img, medium, ProceduralConfig(frames=49, seed=0))
        out["seconds"][medium] = round(time.perf_counter() - t0, 2)
    tracemalloc.start()
    paint(img, "oil", ProceduralConfig(frames=49, seed=0))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    out["oil_python_heap_peak_mb"] = round(peak / 2**20, 1)
    out["process_max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["worst_s"] = max(out["seconds"].values())
    out["meets_target"] = out["worst_s"] <= out["target_s"]
    return out


def _profile_distance():
    """PDP from loomis.metrics when present, else a normalised mean-|Δ| profile L2 (same maths)."""
    try:
        from loomis.metrics import perceptual_distance_profile

        def score(gen, gt, gen_times=None, gt_times=None) -> float:
            r = perceptual_distance_profile(gen, gt, generated_times=gen_times, gt_times=gt_times)
            return r.pdp_norm

        return score, "loomis.metrics PDP (normalised, default distance)"
    except ImportError:

        def score(gen, gt, gen_times=None, gt_times=None) -> float:
            def prof(frames, times):
                ref = cv2.resize(gt[-1], (256, 208)).astype(np.float32)
                p = np.array(
                    [np.abs(cv2.resize(f, (256, 208)).astype(np.float32) - ref).mean() for f in frames]
                )
                p = (p - p.min()) / (np.ptp(p) + 1e-9)
                t = (
                    np.linspace(0, 1, len(p))
                    if times is None
                    else (np.asarray(times) - times[0]) / np.ptp(times)
                )
                return np.interp(np.linspace(0, 1, 200), t, p)

            return float(np.sqrt(np.mean((prof(gen, gen_times) - prof(gt, gt_times)) ** 2)))

        return score, "mean-|Δ| profile L2 (loomis.metrics absent)"


def _human_processes(root: Path) -> dict:
    a = root / "ArmastusChen_inverse_painting" / "sample_timelapse_frames"
    files = sorted(a.glob("*.jpg"))
    times = [
        int(m.group(1)) * 60 + int(m.group(2)) for m in (re.search(r"t(\d+)m(\d+)s", f.name) for f in files)
    ]
    b = root / "inversepainting_github_io" / "comparison"
    gt_b = read_video(b / "gt_frames_decoded").frames
    return {
        "10_t3m21s.jpg": {"gt": [load_image(f) for f in files], "times": times, "peers": {}},
        "input.jpg": {
            "gt": gt_b,
            "times": None,
            "peers": {n: b / f"{n}.mp4" for n in ("PT", "timecraft", "ours", "svd")},
        },
    }


def bench_plausibility(root: Path) -> dict:
    score, how = _profile_distance()
    out: dict = {"metric": how, "lower_is_better": True, "paintings": {}}
    for name, proc in _human_processes(root).items():
        gt, times = proc["gt"], proc["times"]
        target = gt[-1]
        row: dict = {}
        for speed in SPEEDS:
            vals = []
            for seed in SEEDS:
                frames = paint(
                    target, "acrylic", ProceduralConfig(frames=49, seed=seed, speed=speed, max_side=640)
                )
                vals.append(score(frames, gt, None, times))
            row[f"procedural[{speed}]"] = round(float(np.mean(vals)), 4)
        for peer, path in proc["peers"].items():
            row[peer] = round(score(read_video(path).frames, gt, None, times), 4)
        out["paintings"][name] = row
    cols = list(dict.fromkeys(k for row in out["paintings"].values() for k in row))
    table = ["| painting | " + " | ".join(cols) + " |"]
    for name, row in out["paintings"].items():
        table.append(f"| {name} | " + " | ".join(str(row.get(c, "n/a")) for c in cols) + " |")
    out["table"] = table
    return out


def run(out_dir) -> dict:
    result = {"speed": bench_speed()}
    root = _realdata()
    if root is None:
        result["plausibility"] = {
            "skipped": "real test material absent (set LOOMIS_REALDATA or ../shared/realdata)"
        }
    else:
        result["plausibility"] = bench_plausibility(root)
    return result
