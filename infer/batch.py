"""Batch painting's bookkeeping: one output name per input (never two alike), which outputs are
already complete (a rerun resumes), and a JSONL results manifest that many processes append to.

Names: ``<stem>.<medium>.mp4``; inputs whose stems collide (``a/x.png`` and ``b/x.png``, or
``x.png`` and ``x.jpg``) get their folder path relative to the inputs' common folder, then their
suffix, and as a last resort a hash of their path. The names depend only on the full input list,
so every shard of a sharded run computes the same ones.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from collections import defaultdict
from pathlib import Path

from loomis.errors import InputError

MANIFEST = "manifest.jsonl"


def output_names(inputs: list[Path], medium: str) -> list[str]:
    """A file name per input, all different (compared case-insensitively: macOS, Windows)."""
    resolved = [p.resolve() for p in inputs]
    common = Path(os.path.commonpath([p.parent for p in resolved])) if resolved else Path()
    levels = [
        lambda p: p.stem,
        lambda p: "_".join(p.relative_to(common).with_suffix("").parts),
        lambda p: "_".join(p.relative_to(common).with_suffix("").parts) + "_" + p.suffix.lstrip("."),
        lambda p: p.stem + "-" + hashlib.sha1(str(p).encode()).hexdigest()[:10],
    ]
    names = [levels[0](p) for p in resolved]
    for level in levels[1:]:
        groups = defaultdict(list)
        for i, n in enumerate(names):
            groups[n.lower()].append(i)
        clashing = [i for members in groups.values() if len(members) > 1 for i in members]
        if not clashing:
            break
        for i in clashing:
            names[i] = level(resolved[i])
    if len({n.lower() for n in names}) != len(names):  # only the same file given twice gets here
        raise InputError("the same image is given more than once")
    return [f"{n}.{medium}.mp4" for n in names]


def sidecar(out: Path) -> Path:
    return Path(str(out) + ".json")


def completed(out: Path, src: Path) -> bool | None:
    """True when ``out`` and its sidecar (written last) exist and the sidecar names ``src``; None
    when ``out`` holds another input's result (not ours to overwrite); False otherwise."""
    if not (out.exists() and sidecar(out).exists()):
        return False
    try:
        record = json.loads(sidecar(out).read_text())
    except (OSError, ValueError):
        return False  # a torn or foreign sidecar: paint again
    return True if Path(record.get("input", "")).resolve() == src.resolve() else None


class Manifest:
    """``manifest.jsonl`` in the output folder: one JSON line per input handled (input, output,
    status ok|skipped|error, seconds, error). Each line is one ``write`` on an ``O_APPEND`` file
    under an exclusive lock, so lines from concurrent shards never interleave."""

    def __init__(self, folder: Path, shard: tuple[int, int]):
        self.path = folder / MANIFEST
        self.shard = f"{shard[0]}/{shard[1]}"

    def append(
        self, src: Path, out: Path, status: str, seconds: float = 0.0, error: str | None = None
    ) -> None:
        row = {
            "input": str(src),
            "output": str(out),
            "status": status,
            "seconds": round(seconds, 3),
            "error": error,
            "shard": self.shard,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        data = (json.dumps(row, ensure_ascii=False) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, data)
        finally:
            os.close(fd)  # closing releases the lock


def read_manifest(folder: Path) -> list[dict]:
    path = folder / MANIFEST
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
