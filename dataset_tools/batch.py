"""Batch curation: inputs, sharding, per-video state, resume.

State lives in ``DATASET/.curate/<id>.json`` ({"status": "done"|"failed", "source", "size",
"mtime", …}). A video is skipped when its state says done for the same file (size and mtime) and
its sample is in the dataset; anything else — never started, interrupted, failed before — is
(re)done. A sample folder appears only complete (``write_sample`` renames a finished temporary
folder), so an interrupted run leaves nothing that looks finished; its hidden temporary folder is
removed when the video is redone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from loomis import parallel
from loomis.dataset import write_sample
from loomis.errors import InputError
from loomis.io import IMAGE_SUFFIXES, VIDEO_SUFFIXES, write_json

from .curate import CurateConfig, Detectors, curate_video

log = logging.getLogger(__name__)

LIST_SUFFIXES = {".txt", ".lst", ".list"}
STATE_DIR = ".curate"


@dataclass
class BatchReport:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # source → reason
    unsure: dict[str, str] = field(default_factory=dict)  # sample id → why its canvas crop is unsure


def gather_inputs(arg: str) -> tuple[list[Path], bool]:
    """(videos, is_batch) for a video file, a folder (searched recursively) or a list file."""
    path = Path(arg)
    if not path.exists():
        raise InputError(f"{arg} does not exist")
    if path.is_dir():
        vids = sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES and not p.name.startswith(".")
        )
        if not vids:  # a folder of frames is itself one video
            if any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir()):
                return [path], False
            raise InputError(f"folder {arg} holds no videos ({', '.join(sorted(VIDEO_SUFFIXES))})")
        return vids, True
    if path.suffix.lower() in LIST_SUFFIXES:
        lines = [ln.strip() for ln in path.read_text().splitlines()]
        vids = [
            (path.parent / ln).resolve() if not Path(ln).is_absolute() else Path(ln)
            for ln in lines
            if ln and not ln.startswith("#")
        ]
        if not vids:
            raise InputError(f"list {arg} names no videos")
        return vids, True
    return [path], False


def parse_shard(spec: str | None) -> tuple[int, int]:
    """``--shard I/N`` (unset: the whole input), parsed as ``loomis-paint`` parses it."""
    return parallel.parse_shard(spec) if spec else (0, 1)


def sample_ids(videos: list[Path]) -> dict[Path, str]:
    """Readable, stable ids from file names; a short hash of the path separates same-named files."""
    slugs = {v: re.sub(r"[^A-Za-z0-9._-]+", "-", v.stem).strip("-._")[:100] or "video" for v in videos}
    counts: dict[str, int] = {}
    for s in slugs.values():
        counts[s] = counts.get(s, 0) + 1
    out = {}
    for v, s in slugs.items():
        if counts[s] > 1 or not s[0].isalnum():
            s = f"{s}-{hashlib.sha1(str(v.resolve()).encode()).hexdigest()[:8]}".lstrip("-._")
        out[v] = s
    return out


def _fingerprint(video: Path) -> dict:
    st = video.stat()
    return {"source": str(video.resolve()), "size": st.st_size, "mtime": round(st.st_mtime, 3)}


def is_done(dataset: Path, sid: str, video: Path) -> bool:
    state = dataset / STATE_DIR / f"{sid}.json"
    if not state.exists() or not (dataset / sid / "meta.json").exists():
        return False
    try:
        s = json.loads(state.read_text())
    except json.JSONDecodeError:
        return False
    fp = _fingerprint(video)
    return s.get("status") == "done" and all(s.get(k) == fp[k] for k in ("source", "size"))


def _mark(dataset: Path, sid: str, video: Path, status: str, **extra) -> None:
    (dataset / STATE_DIR).mkdir(parents=True, exist_ok=True)
    write_json(
        dataset / STATE_DIR / f"{sid}.json",
        {**_fingerprint(video), "status": status, "time": time.time(), **extra},
    )


def _clean_partial(dataset: Path, sid: str) -> None:
    for tmp in dataset.glob(f".{sid}.*.tmp"):
        shutil.rmtree(tmp, ignore_errors=True)


def curate_one(
    video: Path,
    sid: str,
    dataset: Path,
    medium: str,
    cfg: CurateConfig,
    detectors: Detectors | None,
    shard: tuple[int, int] | None = None,
) -> Path:
    """Curate and write one sample; overwrites an older sample of the same id only when complete."""
    _clean_partial(dataset, sid)
    result = curate_video(video, cfg, detectors)
    ref = result.reference if result.reference is not None else result.frames[-1]
    meta = {**result.meta, "split_screen": cfg.split_screen}
    return write_sample(
        dataset, sid, result.frames, ref, medium=medium, meta=meta, overwrite=True, shard=shard
    )


def run_batch(
    videos: list[Path],
    dataset: Path,
    medium: str,
    cfg: CurateConfig,
    *,
    batch: bool,
    shard: tuple[int, int] = (0, 1),
    overwrite: bool = False,
    detectors: Detectors | None = None,
    progress: Callable | None = None,
) -> BatchReport:
    """Curate ``videos`` (this shard's share) into ``dataset``. In batch mode a bad video is
    reported and skipped; for a single video its InputError propagates (exit 2)."""
    ids = sample_ids(videos)
    mine = parallel.take_shard(videos, shard)
    report = BatchReport()
    bar = progress(total=len(mine), unit="video", desc="curate") if progress else None
    for video in mine:
        sid = ids[video]
        try:
            if not overwrite and is_done(dataset, sid, video):
                report.skipped.append(sid)
                log.info("%s: already curated, skipped", sid)
                continue
            out = curate_one(video, sid, dataset, medium, cfg, detectors, shard)
            canvas = json.loads((out / "meta.json").read_text())["provenance"].get("canvas", {})
            if canvas.get("notes"):
                report.unsure[sid] = "; ".join(canvas["notes"])
            _mark(dataset, sid, video, "done", sample=str(out.name), canvas_sure=not canvas.get("notes"))
            report.done.append(sid)
        except InputError as exc:
            if not batch:
                raise
            _mark_failed(dataset, sid, video, str(exc), report)
        except (MemoryError, KeyboardInterrupt):
            raise
        except Exception as exc:  # one broken video must not end a batch of thousands
            if not batch:
                raise
            log.debug("%s failed", video, exc_info=True)
            _mark_failed(dataset, sid, video, f"{type(exc).__name__}: {exc}", report)
        finally:
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return report


def _mark_failed(dataset: Path, sid: str, video: Path, reason: str, report: BatchReport) -> None:
    log.warning("%s: skipped — %s", video, reason)
    report.failed[str(video)] = reason
    _clean_partial(dataset, sid)
    try:
        _mark(dataset, sid, video, "failed", error=reason)
    except OSError:
        log.debug("could not record the failure of %s", video, exc_info=True)
