"""Reading the output of painvidpro (Loomis Painter's public curation pipeline) into Loomis samples.

Its layout (``painvidpro.pipeline.Pipeline`` and ``data_storage.DynamicVideoArchive``)::

    ROOT/pipeline.json                      {"video_item_dict": {source: {video_id: {...}}}}
    ROOT/<source>/<video_id>/frame_data.h5  one per video:
        attrs                 global metadata (yt-dlp info, art_media/art_style/art_genre,
                              exclude_video, canvas_coordinates, start/end_frame_idx,
                              reference_frame_tags: JSON list of {"tag": …}); dicts and lists
                              are stored as JSON strings
        frames                variable-length uint8: one JPEG per frame, painting order
        frame_metadata        UTF-8 JSON per frame: {"frame_index", "frame_progress", …}
        reference_frames      variable-length uint8 JPEGs: [0] the finished painting, then
                              generated variations of it
        reference_frame_metadata  UTF-8 JSON per reference frame (a variation's "prompt")

Exports (``export_pipeline``) copy the video folders under ``OUT/<split>/<source>/<video_id>``.
Only JSON and JPEG bytes are read (h5py datasets of bytes and strings, no pickled objects).
"""

from __future__ import annotations

import io
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from loomis.errors import InputError
from loomis.mediums import medium_names

from .captioning import clean_caption

log = logging.getLogger(__name__)

FRAME_FILE = "frame_data.h5"
MEDIUM_ALIASES = {
    "acrylic": "acrylic",
    "acrylics": "acrylic",
    "oil": "oil",
    "oils": "oil",
    "oil painting": "oil",
    "watercolor": "watercolor",
    "watercolour": "watercolor",
    "pencil": "pencil",
    "graphite": "pencil",
    "drawing": "pencil",
    "loomis": "loomis",
}
SPLITS = {"train": "train", "eval": "val", "val": "val", "validation": "val", "test": "test"}
# keys of the global metadata that the sample keeps (in provenance) or uses; the rest is reported
USED_KEYS = {
    "id",
    "title",
    "source",
    "art_media",
    "art_style",
    "art_genre",
    "exclude_video",
    "reference_frame_tags",
    "canvas_coordinates",
    "canvas_detected",
    "start_frame_idx",
    "end_frame_idx",
    "fps",
    "webpage_url",
    "url",
    "duration",
    "processed",
}


@dataclass
class Video:
    """One painvidpro video, read into memory."""

    folder: Path
    sample_id: str
    frames: list[np.ndarray]
    frame_meta: list[dict]
    references: list[np.ndarray]
    reference_meta: list[dict]
    attrs: dict
    split: str = "train"
    unmapped: list[str] = field(default_factory=list)


def find_videos(root: Path) -> list[Path]:
    """Every folder under ``root`` (or ``root`` itself) that holds a ``frame_data.h5``."""
    if not root.is_dir():
        raise InputError(f"{root} is not a folder (painvidpro output: a pipeline or an export)")
    found = sorted(p.parent for p in root.rglob(FRAME_FILE) if p.is_file())
    if not found:
        raise InputError(f"{root} holds no {FRAME_FILE} (is it painvidpro output?)")
    return found


def _attr(value):
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str) and value.strip().startswith(("{", "[")):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _jpeg(blob) -> np.ndarray:
    with Image.open(io.BytesIO(np.asarray(blob, np.uint8).tobytes())) as im:
        return np.asarray(im.convert("RGB"))


def _json_rows(dset) -> list[dict]:
    out = []
    for v in dset[()] if len(dset) else []:
        v = v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
        try:
            out.append(json.loads(v))
        except json.JSONDecodeError:
            out.append({"_unparsed": v})
    return out


def _sample_id(folder: Path, root: Path) -> str:
    rel = folder.relative_to(root) if folder != root else Path(folder.name)
    parts = [p for p in rel.parts if p.lower() not in SPLITS]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", "-".join(parts)).strip("-._")
    return (slug or "video")[:120]


def _split(folder: Path, root: Path) -> str:
    rel = folder.relative_to(root).parts if folder != root else ()
    for p in rel:
        if p.lower() in SPLITS:
            return SPLITS[p.lower()]
    return "train"


def read_video(folder: Path, root: Path) -> Video:
    import h5py

    path = folder / FRAME_FILE
    try:
        with h5py.File(path, "r") as f:
            attrs = {k: _attr(v) for k, v in f.attrs.items()}
            if "frames" not in f:
                raise InputError(f"{path}: no frames (the pipeline has not extracted any)")
            frames = [_jpeg(b) for b in f["frames"][()]]
            frame_meta = _json_rows(f["frame_metadata"]) if "frame_metadata" in f else []
            refs = [_jpeg(b) for b in f["reference_frames"][()]] if "reference_frames" in f else []
            ref_meta = _json_rows(f["reference_frame_metadata"]) if "reference_frame_metadata" in f else []
    except OSError as exc:
        raise InputError(f"{path}: not a readable HDF5 file ({exc})") from None
    video = Video(folder, _sample_id(folder, root), frames, frame_meta, refs, ref_meta, attrs)
    video.split = _split(folder, root)
    video.unmapped = sorted(k for k in attrs if k not in USED_KEYS)
    return video


def map_medium(art_media) -> str | None:
    """painvidpro's free-text ``art_media`` → a Loomis medium name, or None."""
    text = " ".join(art_media) if isinstance(art_media, list) else str(art_media or "")
    text = text.strip().lower()
    if text in MEDIUM_ALIASES:
        return MEDIUM_ALIASES[text]
    for word, name in MEDIUM_ALIASES.items():
        if re.search(rf"\b{re.escape(word)}\b", text):
            return name
    return None


def caption_of(attrs: dict) -> str:
    """The newest reference-frame tag, cleaned to content only (no medium or style words)."""
    tags = attrs.get("reference_frame_tags") or []
    for entry in reversed(tags if isinstance(tags, list) else []):
        text = entry.get("tag") if isinstance(entry, dict) else entry
        if text:
            return clean_caption(str(text))
    return ""


def variant_medium(meta: dict) -> str | None:
    """The medium a generated reference variation shows, read from its prompt."""
    prompt = str(meta.get("prompt", "")).lower()
    for name in sorted(medium_names(), key=len, reverse=True):
        if name in prompt or name.replace("-", " ") in prompt:
            return name
    return map_medium(prompt)
