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
import resource
import time
import tracemalloc
from pathlib import Path

import cv2
import numpy as np

from loomis.io import read_video
from loomis.mediums import medium_names
from loomis.metrics.baselines import BASELINE_NAMES, baselines
from loomis.metrics.devset import load_all, realdata_root
from loomis.procedural import ProceduralConfig, paint
from loomis.procedural.painter import paint_speeds

SIZE = (832, 480)
SEEDS = (0, 1, 2)
SPEEDS = ("human", "linear", "fast")


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


MEDIUMS = ("acrylic", "oil", "pencil", "digital")  # the faithful process mediums (arrive at the input)
EVAL_SIDE = 192  # every process (real and generated) is scored at this long side
EVAL_FRAMES = 17  # generated frames per process (the real ones have 6-14)
GROUPS = ("tuning", "held-out", "digital-all", "acrylic")


def _methods() -> list[tuple[str, str | None, str | None]]:
    """(column name, medium, speed); baselines have no medium."""
    from loomis.mediums import registry

    out = [(b, None, None) for b in BASELINE_NAMES]
    for medium in MEDIUMS:
        if medium in registry():
            out += [(f"{medium}[{speed}]", medium, speed) for speed in SPEEDS]
    return out


def _score_process(proc) -> dict:
    """PDP and PDP-norm of every method on one real process (seed 0)."""
    from loomis.metrics import get_distance, perceptual_distance_profile
    from loomis.metrics.pdp import distance_profile

    dist = get_distance()
    gt, target = proc.frames, proc.frames[-1]
    gt_profile = distance_profile(gt, target, dist)
    made = dict(baselines(target, gt[0], EVAL_FRAMES))
    row = {}
    for name, medium, _speed in _methods():
        if name not in made:  # one plan per medium, filmed at every speed
            cfg = ProceduralConfig(frames=EVAL_FRAMES, seed=0)
            made.update({f"{medium}[{sp}]": f for sp, f in paint_speeds(target, medium, cfg, SPEEDS).items()})
        frames = made.pop(name)
        r = perceptual_distance_profile(frames, gt, dist, gt_times=proc.times, gt_profile=gt_profile)
        row[name] = {"pdp": round(r.pdp, 4), "pdp_norm": round(r.pdp_norm, 4)}
    return {"name": proc.name, "group": proc.group, "scores": row}


def _means(rows: list[dict], members) -> dict:
    picked = [r for r in rows if members(r["group"])]
    if not picked:
        return {}
    out = {}
    for method in picked[0]["scores"]:
        vals = [r["scores"][method] for r in picked]
        out[method] = {k: round(float(np.mean([v[k] for v in vals])), 4) for k in ("pdp", "pdp_norm")}
    out["_n"] = len(picked)
    return out


def _table(means: dict) -> list[str]:
    cols = [g for g in GROUPS if means.get(g)]
    lines = ["| method | " + " | ".join(f"{g} PDP / PDP-norm (n={means[g]['_n']})" for g in cols) + " |"]
    lines.append("|---|" + "---|" * len(cols))
    for method in means[cols[0]]:
        if method == "_n":
            continue
        cells = [f"{means[g][method]['pdp']:.3f} / {means[g][method]['pdp_norm']:.3f}" for g in cols]
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return lines


def bench_plausibility(root: Path) -> dict:
    """Every method on every real process (the whole development set + the two acrylic ones)."""
    from multiprocessing import get_context

    procs = load_all(root, side=EVAL_SIDE)
    workers = max(1, min(2, os.cpu_count() or 1))
    with get_context("fork").Pool(workers) as pool:
        rows = pool.map(_score_process, procs, chunksize=1)
    means = {
        "tuning": _means(rows, lambda g: g == "tuning"),
        "held-out": _means(rows, lambda g: g == "held-out"),
        "digital-all": _means(rows, lambda g: g in ("tuning", "held-out")),
        "acrylic": _means(rows, lambda g: g == "acrylic"),
    }
    return {
        "metric": "PDP and PDP-norm (loomis.metrics, msssim-deltae), lower is better",
        "setup": {"side": EVAL_SIDE, "frames": EVAL_FRAMES, "seed": 0, "split": "loomis.metrics.devset"},
        "means": means,
        "table": _table(means),
        "processes": rows,
    }


def bench_peers(root: Path) -> dict:
    """The peers' published outputs on the lake painting, against its real process."""
    from loomis.metrics import perceptual_distance_profile

    comp = root / "inversepainting_github_io" / "comparison"
    gt = read_video(comp / "gt_frames_decoded").frames
    out = {}
    for name in ("PT", "timecraft", "ours", "svd"):
        if (comp / f"{name}.mp4").is_file():
            r = perceptual_distance_profile(read_video(comp / f"{name}.mp4").frames, gt)
            out[name] = {"pdp": round(r.pdp, 4), "pdp_norm": round(r.pdp_norm, 4)}
    return out


def run(out_dir) -> dict:
    result = {"speed": bench_speed()}
    root = realdata_root()
    if root is None:
        result["plausibility"] = {
            "skipped": "real test material absent (set LOOMIS_REALDATA or ../shared/realdata)"
        }
    else:
        result["plausibility"] = bench_plausibility(root)
        result["peers_on_acrylic_lake"] = bench_peers(root)
    return result
