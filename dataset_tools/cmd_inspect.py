"""``loomis-data inspect DATASET``: counts, mediums, frames per sample, problems found."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from loomis.dataset import read_dataset
from loomis.errors import InputError
from loomis.io import write_json


def register(sub) -> None:
    p = sub.add_parser(
        "inspect",
        help="summarise a dataset and list its problems",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("dataset", metavar="DATASET")
    p.add_argument("--json", default=None, metavar="FILE", help="also write the report as JSON")
    p.add_argument("--strict", action="store_true", help="exit 2 when problems are found")
    p.set_defaults(func=run)


def _sample_problems(s) -> list[str]:
    out = []
    if not s.caption:
        out.append("no caption")
    frames = s.meta.get("frames") or []
    if len(frames) != s.num_frames:
        out.append(f"meta lists {len(frames)} frames, folder has {s.num_frames}")
    sizes = {Image.open(p).size for p in (s.frame_paths[0], s.frame_paths[-1])}
    if len(sizes) > 1:
        out.append(f"frame sizes differ {sorted(sizes)}")
    prog = s.progress
    if any(b < a for a, b in zip(prog, prog[1:])):
        out.append("progress is not monotone")
    times = s.times
    if times and any(b < a for a, b in zip(times, times[1:])):
        out.append("time stamps are not in painting order")
    return out


def inspect_dataset(dataset: Path) -> dict:
    samples, bad = read_dataset(dataset)
    problems = [str(p) for p in bad]
    for s in samples:
        problems += [f"{s.id}: {m}" for m in _sample_problems(s)]
    counts = [s.num_frames for s in samples]
    return {
        "dataset": str(dataset),
        "samples": len(samples),
        "bad_samples": len(bad),
        "mediums": dict(Counter(s.medium for s in samples)),
        "splits": dict(Counter(s.split for s in samples)),
        "frames_per_sample": {
            "min": int(min(counts)),
            "median": float(np.median(counts)),
            "max": int(max(counts)),
        }
        if counts
        else None,
        "captioned": sum(1 for s in samples if s.caption),
        "variants": dict(Counter(v.get("medium") for s in samples for v in s.meta.get("variants") or [])),
        "sources": dict(
            Counter(str((s.meta.get("provenance") or {}).get("tool", "unknown")) for s in samples)
        ),
        "problems": problems,
    }


def run(args) -> int:
    report = inspect_dataset(Path(args.dataset))
    lines = [f"dataset {report['dataset']}: {report['samples']} samples ({report['bad_samples']} bad)"]
    for key in ("mediums", "splits", "frames_per_sample", "variants", "sources"):
        lines.append(f"  {key}: {report[key]}")
    lines.append(f"  captioned: {report['captioned']}/{report['samples']}")
    lines.append(f"  problems: {len(report['problems'])}")
    lines += [f"    - {p}" for p in report["problems"][:50]]
    sys.stdout.write("\n".join(lines) + "\n")
    if args.json:
        write_json(args.json, report)
    if args.strict and report["problems"]:
        raise InputError(
            f"{len(report['problems'])} problems in {args.dataset} (first: {report['problems'][0]})"
        )
    return 0
