"""Decoding a tutorial video at a low sample rate (3 fps by default), fast.

Only the samples are converted to RGB; every other frame is decoded and dropped. When the video's
frame rate is well above the sample rate the decoder also skips non-reference frames (B-frames
nobody else depends on), which roughly halves the work without losing a sample slot: a sample is
the first decoded frame at or after its due time. Long videos spill to a memory-mapped file so that
memory stays bounded.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from loomis.errors import InputError
from loomis.io import IMAGE_SUFFIXES, read_video

log = logging.getLogger(__name__)

RAM_LIMIT_BYTES = 512 * 1024 * 1024  # above this, samples go to a memmap in the work folder


@dataclass
class Samples:
    """Frames sampled from one video: (N, H, W, 3) uint8 RGB plus their source times (s)."""

    frames: np.ndarray
    times: np.ndarray
    fps: float | None
    duration: float
    size: tuple[int, int]  # original (width, height)
    scale: float  # work size / original size
    source: str

    def __len__(self) -> int:
        return len(self.frames)


def work_size(w: int, h: int, max_side: int) -> tuple[int, int, float]:
    s = min(1.0, max_side / max(w, h))
    return max(2, int(round(w * s))), max(2, int(round(h * s))), s


def sample_video(
    path: str | os.PathLike, rate: float = 3.0, max_side: int = 960, work_dir: str | None = None
) -> Samples:
    """Sample ``path`` at ``rate`` frames per second, each frame downscaled to at most ``max_side``.

    Bad input (missing, not a video, no decodable frame) raises InputError."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist")
    if path.is_dir() or path.suffix.lower() in (".gif", ".webp") or path.suffix.lower() in IMAGE_SUFFIXES:
        return _sample_generic(path, rate, max_side)
    if path.stat().st_size == 0:
        raise InputError(f"{path} is an empty file, not a video")
    return _sample_av(path, rate, max_side, work_dir)


def _sample_av(path: Path, rate: float, max_side: int, work_dir: str | None) -> Samples:
    import av

    try:
        container = av.open(str(path))
    except Exception as exc:  # PyAV raises many types for non-videos
        raise InputError(f"{path} is not a readable video ({type(exc).__name__}: {exc})") from None
    with container:
        if not container.streams.video:
            raise InputError(f"{path} has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        fps = float(stream.average_rate) if stream.average_rate else None
        if fps and fps >= 4 * rate:
            stream.codec_context.skip_frame = "NONREF"
        duration = _duration(container, stream)
        w0, h0 = stream.codec_context.width, stream.codec_context.height
        if not w0 or not h0:
            raise InputError(f"{path} has a video stream without a frame size")
        w, h, scale = work_size(w0, h0, max_side)
        store = _Store((w, h), math.ceil(duration * rate) + 4 if duration else None, work_dir)
        due, times = 0.0, []
        try:
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else len(times) / (fps or rate)
                if t + 1e-3 < due:
                    continue
                img = frame.to_ndarray(format="rgb24")
                if scale < 1.0:
                    img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
                store.append(img)
                times.append(t)
                due = (math.floor(t * rate + 1e-3) + 1) / rate
        except Exception as exc:
            if not times:
                raise InputError(f"{path} is not a decodable video ({type(exc).__name__}: {exc})") from None
            log.warning(
                "%s: decoding stopped at %.1f s (%s); using the %d samples read",
                path,
                times[-1],
                exc,
                len(times),
            )
    if not times:
        raise InputError(f"{path} has zero decodable frames")
    duration = max(duration or 0.0, times[-1])
    return Samples(store.result(), np.asarray(times), fps, duration, (w0, h0), scale, str(path))


def _duration(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return None


class _Store:
    """Append-only frame store: a RAM list, or a memmap when the estimate is large."""

    def __init__(self, size: tuple[int, int], estimate: int | None, work_dir: str | None):
        w, h = size
        self.shape = (h, w, 3)
        self.n = 0
        self.list: list[np.ndarray] = []
        self.mm = None
        if estimate and estimate * h * w * 3 > RAM_LIMIT_BYTES:
            fd, name = tempfile.mkstemp(prefix="loomis-samples-", suffix=".npy", dir=work_dir)
            os.close(fd)
            self.mm = np.lib.format.open_memmap(name, mode="w+", dtype=np.uint8, shape=(estimate, h, w, 3))
            os.unlink(name)  # the mapping keeps the data alive; nothing is left behind on a crash

    def append(self, img: np.ndarray) -> None:
        if self.mm is not None and self.n < len(self.mm):
            self.mm[self.n] = img
        elif self.mm is not None:
            self.list.append(img)  # estimate too small: the overflow stays in RAM
        else:
            self.list.append(img)
        self.n += 1

    def result(self) -> np.ndarray:
        if self.mm is None:
            return np.stack(self.list) if self.list else np.zeros((0, *self.shape), np.uint8)
        k = min(self.n, len(self.mm))
        if self.list:
            return np.concatenate([np.asarray(self.mm[:k]), np.stack(self.list)])
        return self.mm[:k]


def _sample_generic(path: Path, rate: float, max_side: int) -> Samples:
    """Animated GIF/WebP or a folder of frames (taken as consecutive samples when untimed)."""
    video = read_video(path)
    h0, w0 = video.frames[0].shape[:2]
    w, h, scale = work_size(w0, h0, max_side)
    times = np.asarray(video.times if video.times else [i / rate for i in range(len(video))], float)
    keep, due = [], 0.0
    for i, t in enumerate(times):
        if t + 1e-3 >= due:
            keep.append(i)
            due = (math.floor(t * rate + 1e-3) + 1) / rate
    frames = np.stack([cv2.resize(video.frames[i], (w, h), interpolation=cv2.INTER_AREA) for i in keep])
    return Samples(frames, times[keep], video.fps, float(times[-1]), (w0, h0), scale, str(path))
