"""The dataset layout of docs/contract.md ("Dataset on disk"): writing samples and reading them back.

```
DATASET/dataset.jsonl          one JSON object per sample: {"id", "medium", "caption", "split", …}
DATASET/<id>/frames/00000.png  painting order: first = earliest canvas, last = finished
DATASET/<id>/reference.png     the finished painting (for split-screen portraits: the photo)
DATASET/<id>/meta.json         medium, caption, per-frame time/progress, provenance, "variants"
```

Frames are stored in painting order; the trainer, not the dataset, reverses them. A sample folder
appears only when complete (written to a temporary folder, then renamed), and the index is appended to
under a file lock so that sharded writers (``--shard i/n``) can share one dataset.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from loomis.errors import InputError
from loomis.io import atomic_dir, atomic_path, load_image

log = logging.getLogger(__name__)

INDEX = "dataset.jsonl"
SHARD_INDEX_DIR = "index"  # DATASET/index/shard-I-of-N.jsonl: one writer each (NFS/Lustre-safe)
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
SPLITS = ("train", "val", "test")


@dataclass
class Sample:
    """One sample as found on disk."""

    id: str
    root: Path
    medium: str
    caption: str
    split: str
    frame_paths: list[Path]
    reference_path: Path
    meta: dict = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return len(self.frame_paths)

    def load_frames(self, indices: Sequence[int] | None = None) -> list[np.ndarray]:
        idx = range(len(self.frame_paths)) if indices is None else indices
        return [load_image(self.frame_paths[i]) for i in idx]

    def load_reference(self) -> np.ndarray:
        return load_image(self.reference_path)

    @property
    def progress(self) -> list[float]:
        """Per-frame painting progress in [0, 1] (from meta, else evenly spaced)."""
        frames = self.meta.get("frames") or []
        if len(frames) == self.num_frames and all("progress" in f for f in frames):
            return [float(f["progress"]) for f in frames]
        n = self.num_frames
        return [i / (n - 1) if n > 1 else 1.0 for i in range(n)]

    @property
    def times(self) -> list[float] | None:
        frames = self.meta.get("frames") or []
        if len(frames) == self.num_frames and all(f.get("time") is not None for f in frames):
            return [float(f["time"]) for f in frames]
        return None

    @property
    def variants(self) -> list[dict]:
        """Media-transfer references: [{"path" (absolute), "medium", "prompt"}]."""
        out = []
        for v in self.meta.get("variants") or []:
            out.append({**v, "path": str(self.root / v["path"])})
        return out


def check_sample_id(sample_id: str) -> str:
    if not _ID_RE.match(sample_id or ""):
        raise InputError(f"bad sample id {sample_id!r}: use letters, digits, '.', '_' or '-' (max 128)")
    return sample_id


@contextlib.contextmanager
def _locked_index(dataset: Path) -> Iterator[Path]:
    dataset.mkdir(parents=True, exist_ok=True)
    lock = dataset / ".dataset.lock"
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield dataset / INDEX
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def write_sample(
    dataset: str | os.PathLike,
    sample_id: str,
    frames: Sequence[np.ndarray],
    reference: np.ndarray | None = None,
    *,
    medium: str,
    caption: str = "",
    split: str = "train",
    meta: dict | None = None,
    extra_files: dict[str, np.ndarray] | None = None,
    overwrite: bool = False,
    shard: tuple[int, int] | None = None,
) -> Path:
    """Write one complete sample (frames in painting order) and add it to the index.

    ``meta`` may hold anything; ``frames`` entries in it (per-frame {"time", "progress", …}) must
    match the frame count. ``extra_files`` maps relative paths (e.g. ``variants/pencil.png``) to
    images stored beside the frames. Returns the sample folder.
    """
    dataset = Path(dataset)
    check_sample_id(sample_id)
    if split not in SPLITS:
        raise InputError(f"split must be one of {SPLITS}, got {split!r}")
    if len(frames) < 2:
        raise InputError(f"sample {sample_id}: a painting process needs at least 2 frames, got {len(frames)}")
    meta = dict(meta or {})
    per_frame = meta.get("frames")
    if per_frame is not None and len(per_frame) != len(frames):
        raise ValueError(
            f"sample {sample_id}: meta has {len(per_frame)} frame entries for {len(frames)} frames"
        )
    if per_frame is None:
        n = len(frames)
        meta["frames"] = [{"index": i, "time": None, "progress": i / (n - 1)} for i in range(n)]
    meta.update({"id": sample_id, "medium": medium, "caption": caption, "split": split})
    meta.setdefault("num_frames", len(frames))
    meta.setdefault("variants", [])
    h, w = frames[0].shape[:2]
    meta.setdefault("size", [w, h])

    target = dataset / sample_id
    if target.exists() and not overwrite:
        raise InputError(f"sample {sample_id} already exists in {dataset}")
    dataset.mkdir(parents=True, exist_ok=True)
    with atomic_dir(target) as tmp:
        (tmp / "frames").mkdir()
        for i, f in enumerate(frames):
            Image.fromarray(np.asarray(f, np.uint8)).save(tmp / "frames" / f"{i:05d}.png", compress_level=1)
        ref = frames[-1] if reference is None else reference
        Image.fromarray(np.asarray(ref, np.uint8)).save(tmp / "reference.png")
        for rel, img in (extra_files or {}).items():
            p = tmp / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.asarray(img, np.uint8)).save(p)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    _upsert_index(dataset, _index_row(meta), shard)
    return target


def _index_row(meta: dict) -> dict:
    row = {k: meta[k] for k in ("id", "medium", "caption", "split")}
    row["num_frames"] = meta.get("num_frames")
    row["source"] = (meta.get("provenance") or {}).get("source", meta.get("source"))
    row["variants"] = [v.get("medium") for v in meta.get("variants") or []]
    return row


def _upsert_index(dataset: Path, row: dict, shard: tuple[int, int] | None = None) -> None:
    """Append the row under the lock: O(1) per sample, so curating thousands of videos stays
    linear. A re-written sample appears again; readers take the last row per id. A sharded writer
    (``shard=(i, n)``, n > 1) appends to its own file instead: file locks are not to be trusted on
    NFS or Lustre, and one writer per file needs none (:func:`index_rows` merges them)."""
    if shard is not None and shard[1] > 1:
        folder = dataset / SHARD_INDEX_DIR
        folder.mkdir(parents=True, exist_ok=True)
        (dataset / INDEX).touch()  # the dataset's marker stays where readers look for it
        with open(folder / f"shard-{shard[0]}-of-{shard[1]}.jsonl", "a") as fh:
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        return
    with _locked_index(dataset) as index, open(index, "a") as fh:
        fh.write(json.dumps(row) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def update_meta(
    dataset: str | os.PathLike, sample_id: str, updates: dict, shard: tuple[int, int] | None = None
) -> dict:
    """Merge ``updates`` into a sample's meta.json (atomically) and refresh its index row."""
    dataset = Path(dataset)
    path = dataset / sample_id / "meta.json"
    meta = json.loads(path.read_text())
    meta.update(updates)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(meta, indent=2) + "\n")
    _upsert_index(dataset, _index_row(meta), shard)
    return meta


def _read_index_rows(index: Path) -> list[dict]:
    """Index rows, one per id (the last written wins), in order of first appearance."""
    rows: dict[str, dict] = {}
    text = index.read_text()
    lines = text.splitlines()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            if n == len(lines) and not text.endswith("\n"):  # an append cut short by a crash
                log.warning("%s: ignoring an unfinished last line (%d chars)", index, len(line))
                break
            raise InputError(f"{index}: line {n} is not valid JSON") from None
        rows[str(row.get("id"))] = row
    return list(rows.values())


def index_rows(dataset: str | os.PathLike) -> list[dict]:
    """The dataset's index: ``dataset.jsonl`` and the per-shard files of sharded writers, merged
    (one row per id; the file written last wins, so a sample redone by a later run is current)."""
    dataset = Path(dataset)
    files = [dataset / INDEX] if (dataset / INDEX).exists() else []
    shards = sorted(
        (dataset / SHARD_INDEX_DIR).glob("shard-*.jsonl"), key=lambda p: (p.stat().st_mtime, p.name)
    )
    rows: dict[str, dict] = {}
    for f in files + shards:
        for row in _read_index_rows(f):
            rows[str(row.get("id"))] = row
    return list(rows.values())


@dataclass
class Problem:
    id: str
    message: str

    def __str__(self) -> str:
        return f"{self.id}: {self.message}"


def read_dataset(
    dataset: str | os.PathLike, split: str | None = None, on_bad: str = "skip"
) -> tuple[list[Sample], list[Problem]]:
    """Read the index and check every sample on disk.

    Returns (good samples, problems). ``on_bad="skip"`` logs each bad sample with its id and leaves
    it out; ``on_bad="error"`` raises an InputError on the first one. Nothing is dropped silently.
    """
    dataset = Path(dataset)
    if not dataset.is_dir():
        raise InputError(f"dataset {dataset} does not exist or is not a directory")
    index = dataset / INDEX
    if not index.exists():
        raise InputError(f"{dataset} is not a Loomis dataset (no {INDEX}); build one with loomis-data")
    if on_bad not in ("skip", "error"):
        raise ValueError("on_bad must be 'skip' or 'error'")
    samples, problems = [], []
    for row in index_rows(dataset):
        if split is not None and row.get("split") != split:
            continue
        sample, problem = _check_sample(dataset, row)
        if problem is not None:
            if on_bad == "error":
                raise InputError(f"bad sample {problem}")
            log.warning("skipping bad sample %s", problem)
            problems.append(problem)
        else:
            samples.append(sample)
    return samples, problems


def _check_variant_path(dataset: Path, root: Path, variant) -> str | None:
    """A variant's ``path`` is relative and stays inside the dataset (after resolving ``..`` and
    links): a meta.json must not make training read files from elsewhere."""
    rel = variant.get("path") if isinstance(variant, dict) else None
    if not isinstance(rel, str) or not rel:
        return f"variant {variant!r} has no path"
    if Path(rel).is_absolute():
        return f"variant path {rel!r} is absolute; variant paths are relative to the sample folder"
    if not (root / rel).resolve().is_relative_to(dataset.resolve()):
        return f"variant path {rel!r} leaves the dataset"
    if not (root / rel).is_file():
        return f"variant {variant.get('medium')} file {rel} is missing"
    return None


def _check_sample(dataset: Path, row: dict) -> tuple[Sample | None, Problem | None]:
    sid = str(row.get("id", "?"))
    root = dataset / sid
    if not _ID_RE.match(sid):
        return None, Problem(sid, "bad id in index")
    if not (root / "meta.json").exists():
        return None, Problem(sid, "missing meta.json")
    try:
        meta = json.loads((root / "meta.json").read_text())
    except json.JSONDecodeError as exc:
        return None, Problem(sid, f"meta.json is not valid JSON ({exc})")
    frames = sorted((root / "frames").glob("*.png")) if (root / "frames").is_dir() else []
    if len(frames) < 2:
        return None, Problem(sid, f"needs at least 2 frames, found {len(frames)}")
    if not (root / "reference.png").exists():
        return None, Problem(sid, "missing reference.png")
    for v in meta.get("variants") or []:
        problem = _check_variant_path(dataset, root, v)
        if problem:
            return None, Problem(sid, problem)
    sample = Sample(
        id=sid,
        root=root,
        medium=str(meta.get("medium", row.get("medium", ""))),
        caption=str(meta.get("caption", row.get("caption", ""))),
        split=str(meta.get("split", row.get("split", "train"))),
        frame_paths=frames,
        reference_path=root / "reference.png",
        meta=meta,
    )
    return sample, None
