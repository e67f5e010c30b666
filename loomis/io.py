"""Reading images and videos, writing outputs atomically.

Every writer here goes through a temporary file (or folder) in the destination's directory and an
``os.replace``, so a failed run never leaves a half-written output or clobbers an existing one.
Frames are ``uint8`` arrays of shape (H, W, 3), RGB, unless a function says otherwise.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from loomis.errors import InputError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".gif", ".webp"}
OUTPUT_SUFFIXES = {".mp4", ".gif", ".webp"}


# --------------------------------------------------------------------------------------------
# atomic writing
# --------------------------------------------------------------------------------------------
def check_writable(path: str | os.PathLike) -> Path:
    """Fail early (exit 2) when ``path``'s directory cannot be written."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise InputError(f"output directory {parent} does not exist; create it first")
    if not parent.is_dir():
        raise InputError(f"{parent} is not a directory")
    ensure_dir_writable(parent)
    if path.exists() and path.is_dir() != (path.suffix == ""):
        kind = "a directory" if path.is_dir() else "a file"
        raise InputError(f"output {path} exists and is {kind}; choose another path")
    return path


def ensure_dir_writable(directory: str | os.PathLike) -> None:
    """InputError unless a file can really be created in ``directory`` (``os.access`` says yes to
    root even on read-only mounts, so this probes with a temporary file)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".loomis-probe-", dir=directory)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(f"output directory {directory} is not writable ({exc.strerror})") from None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path`` atomically, on
    failure it is removed and ``path`` is untouched."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.",
        suffix=".tmp" + (suffix if suffix is not None else path.suffix),
        dir=path.parent or ".",
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder next to ``path``; on success it takes ``path``'s place (an older
    folder there is removed only after the new one is complete)."""
    path = Path(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or "."))
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_json(path: str | os.PathLike, obj) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


# --------------------------------------------------------------------------------------------
# images
# --------------------------------------------------------------------------------------------
def to_rgb_uint8(img: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> np.ndarray:
    """Any PIL image (RGBA, LA, P, L, I;16, I, F, CMYK) → (H, W, 3) uint8 RGB. Transparency is
    composited over ``background`` (white paper); 16-bit and float images are scaled, not clipped."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(arr[..., None], 3, axis=2)
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        top = 1.0 if arr.max() <= 1.0 else 255.0
        arr = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(arr[..., None], 3, axis=2)
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        img = img.convert("RGBA")
        bg = Image.new("RGBA", img.size, background + (255,))
        img = Image.alpha_composite(bg, img)
    return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Load an image file as (H, W, 3) uint8 RGB, EXIF orientation applied. Bad files → InputError."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"image {path} does not exist")
    if path.is_dir():
        raise InputError(f"{path} is a directory, not an image")
    if path.stat().st_size == 0:
        raise InputError(f"image {path} is an empty file")
    try:
        with Image.open(path) as img:
            img.load()
            img = ImageOps.exif_transpose(img)
            if img.width == 0 or img.height == 0:
                raise InputError(f"image {path} has zero size")
            return to_rgb_uint8(img)
    except UnidentifiedImageError:
        raise InputError(f"{path} is not a readable image (PNG, JPEG, WebP, …)") from None
    except (OSError, SyntaxError) as exc:
        raise InputError(f"image {path} is corrupt or truncated ({exc})") from None


def save_image(path: str | os.PathLike, frame: np.ndarray) -> None:
    """Write one frame as an image (format from the suffix), atomically."""
    with atomic_path(path) as tmp:
        Image.fromarray(np.asarray(frame, dtype=np.uint8)).save(tmp, format=_pil_format(Path(path).suffix))


def _pil_format(suffix: str) -> str:
    return {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".gif": "GIF"}.get(
        suffix.lower(), "PNG"
    )


def resize(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize (H, W, 3) uint8 to ``size`` = (width, height) with area/lanczos filtering."""
    import cv2

    w, h = size
    if frame.shape[1] == w and frame.shape[0] == h:
        return frame
    shrinking = w < frame.shape[1] and h < frame.shape[0]
    return cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LANCZOS4)


# --------------------------------------------------------------------------------------------
# videos
# --------------------------------------------------------------------------------------------
@dataclass
class Video:
    """Decoded frames plus what is known of their timing."""

    frames: list[np.ndarray]
    fps: float | None = None
    times: list[float] | None = None  # seconds since the start, one per frame, when known
    source: str = ""
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frames)


def read_video(path: str | os.PathLike, max_frames: int | None = None) -> Video:
    """Read a video file (mp4, mov, mkv, webm, …), an animated GIF/WebP, or a folder of images
    (sorted by name) into RGB uint8 frames. Unreadable input → InputError."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist")
    if path.is_dir():
        return _read_frame_dir(path)
    if path.stat().st_size == 0:
        raise InputError(f"{path} is an empty file")
    if path.suffix.lower() in (".gif", ".webp"):
        return _read_animated_image(path)
    return _read_av(path, max_frames)


def _read_frame_dir(path: Path) -> Video:
    files = sorted(
        p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )
    if not files:
        raise InputError(f"folder {path} holds no image frames")
    frames = [load_image(f) for f in files]
    return Video(
        frames=frames, fps=None, times=None, source=str(path), extra={"files": [f.name for f in files]}
    )


def _read_animated_image(path: Path) -> Video:
    frames, times, t = [], [], 0.0
    try:
        with Image.open(path) as img:
            n = getattr(img, "n_frames", 1)
            for i in range(n):
                img.seek(i)
                frames.append(to_rgb_uint8(img.copy()))
                times.append(t)
                t += (img.info.get("duration") or 100) / 1000.0
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"{path} is not a readable animation ({exc})") from None
    fps = (len(frames) - 1) / times[-1] if len(frames) > 1 and times[-1] > 0 else None
    return Video(frames=frames, fps=fps, times=times, source=str(path))


def _read_av(path: Path, max_frames: int | None) -> Video:
    import av

    frames, times = [], []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(f"{path} has no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            fps = float(stream.average_rate) if stream.average_rate else None
            for frame in container.decode(stream):
                frames.append(frame.to_ndarray(format="rgb24"))
                times.append(float(frame.time) if frame.time is not None else len(times) / (fps or 1.0))
                if max_frames and len(frames) >= max_frames:
                    break
    except InputError:
        raise
    except Exception as exc:  # PyAV raises many error types for bad containers
        raise InputError(f"{path} is not a readable video ({type(exc).__name__}: {exc})") from None
    if not frames:
        raise InputError(f"{path} has no decodable frames")
    return Video(frames=frames, fps=fps, times=times, source=str(path))


def write_video(
    path: str | os.PathLike, frames: Sequence[np.ndarray], fps: float = 8.0, quality: int = 8
) -> Path:
    """Write frames to ``.mp4`` (H.264, yuv420p), ``.gif``, ``.webp`` or, for a path without a
    suffix, a folder of numbered PNGs; atomically. Returns the path written."""
    path = Path(path)
    if not frames:
        raise InputError("no frames to write")
    frames = [np.asarray(f, dtype=np.uint8) for f in frames]
    suffix = path.suffix.lower()
    if suffix == "":
        with atomic_dir(path) as tmp:
            for i, f in enumerate(frames):
                Image.fromarray(f).save(tmp / f"{i:05d}.png")
        return path
    if suffix not in OUTPUT_SUFFIXES:
        raise InputError(f"unsupported output {path.name}: use .mp4, .gif, .webp or a folder path")
    with atomic_path(path) as tmp:
        if suffix == ".mp4":
            _write_mp4(tmp, frames, fps, quality)
        else:
            pil = [Image.fromarray(f) for f in frames]
            kwargs = {"lossless": False, "quality": 90} if suffix == ".webp" else {"optimize": False}
            pil[0].save(
                tmp,
                format=_pil_format(suffix),
                save_all=True,
                append_images=pil[1:],
                duration=max(1, round(1000.0 / fps)),
                loop=0,
                **kwargs,
            )
    return path


def _write_mp4(path: Path, frames: list[np.ndarray], fps: float, quality: int) -> None:
    with mp4_writer(path, fps, quality=quality, atomic=False) as append:
        for f in frames:
            append(f)


@contextlib.contextmanager
def mp4_writer(
    path: str | os.PathLike,
    fps: float,
    quality: int | None = 8,
    output_params: Sequence[str] | None = None,
    atomic: bool = True,
) -> Iterator:
    """Stream frames into an H.264/yuv420p ``.mp4`` without holding them in memory: yields
    ``append(frame)``. Odd sides are padded by edge replication (yuv420p needs even sides). With
    ``atomic`` (default) the file appears only when complete."""
    import imageio.v2 as imageio

    def open_writer(target: Path):
        return imageio.get_writer(
            str(target),
            format="FFMPEG",
            fps=fps,
            codec="libx264",
            quality=quality,
            pixelformat="yuv420p",
            macro_block_size=1,
            ffmpeg_log_level="error",
            output_params=list(output_params or []),
        )

    with contextlib.ExitStack() as stack:
        target = stack.enter_context(atomic_path(path)) if atomic else Path(path)
        writer = open_writer(target)
        stack.callback(writer.close)

        def append(frame: np.ndarray) -> None:
            frame = np.asarray(frame, dtype=np.uint8)
            h, w = frame.shape[:2]
            if h % 2 or w % 2:
                frame = np.pad(frame, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
            writer.append_data(frame)

        yield append


def contact_sheet(
    frames: Sequence[np.ndarray], n: int = 8, cols: int | None = None, gap: int = 4
) -> np.ndarray:
    """Evenly spaced keyframes (first and last included) tiled into one RGB image."""
    if not frames:
        raise InputError("no frames for a contact sheet")
    n = max(1, min(n, len(frames)))
    idx = np.unique(np.linspace(0, len(frames) - 1, n).round().astype(int))
    picks = [frames[i] for i in idx]
    cols = cols or min(len(picks), 4)
    rows = -(-len(picks) // cols)
    h, w = picks[0].shape[:2]
    sheet = np.full((rows * h + (rows + 1) * gap, cols * w + (cols + 1) * gap, 3), 255, np.uint8)
    for k, f in enumerate(picks):
        r, c = divmod(k, cols)
        y, x = gap + r * (h + gap), gap + c * (w + gap)
        sheet[y : y + h, x : x + w] = resize(f, (w, h))
    return sheet
