"""Reading images and videos, writing outputs atomically.

Every writer here goes through a temporary file (or folder) in the destination's directory and an
``os.replace``, so a failed run never leaves a half-written output or clobbers an existing one.
Frames are ``uint8`` arrays of shape (H, W, 3), RGB, unless a function says otherwise.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import math
import os
import re
import shutil
import signal
import socket
import tempfile
import threading
import time
import warnings
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from loomis.errors import InputError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".gif", ".webp"}
OUTPUT_SUFFIXES = {".mp4", ".gif", ".webp"}


# --------------------------------------------------------------------------------------------
# output paths: one check for every command, before any work
# --------------------------------------------------------------------------------------------
def check_output(path: str | os.PathLike, kind: str = "file", create: bool = False) -> Path:
    """Fail early (InputError, exit 2) when ``path`` cannot become an output of ``kind``.

    ``kind`` is ``"file"``, ``"dir"`` or ``"auto"`` (a folder when the path has no suffix).
    Refused: a file path naming an existing folder and the reverse, a missing parent folder
    (unless ``create``: a folder the command makes with its parents), a folder nobody can write.
    An existing output of the right kind is fine: writers replace it atomically, only when done.
    """
    path = Path(path)
    if kind == "auto":
        kind = "dir" if path.suffix == "" else "file"
    if path.exists() and path.is_dir() != (kind == "dir"):
        if kind == "dir":
            raise InputError(f"output {path} is an existing file, not a folder; choose another path")
        raise InputError(f"output {path} is an existing folder; give a file path (e.g. {path / 'out'}…)")
    parent = path.parent
    if not create and not parent.exists():
        raise InputError(f"output folder {parent} does not exist; create it first (mkdir -p {parent})")
    while not parent.exists():
        parent = parent.parent  # the nearest existing ancestor is where the folder will be made
    if not parent.is_dir():
        raise InputError(f"{parent} is not a directory (it is a file), so {path} cannot be written")
    ensure_dir_writable(path if kind == "dir" and path.is_dir() else parent)
    return path


def check_writable(path: str | os.PathLike) -> Path:
    """``check_output(path, "auto")``: an output whose kind follows its suffix."""
    return check_output(path, "auto")


def ensure_dir_writable(directory: str | os.PathLike) -> None:
    """InputError unless a file can really be created in ``directory`` (``os.access`` says yes to
    root even on read-only mounts, so this probes with a temporary file)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".loomis-probe-", dir=directory)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InputError(f"output folder {directory} is not writable ({exc.strerror})") from None


# --------------------------------------------------------------------------------------------
# atomic writing: temp + rename, permissions from the umask, stale temps cleaned, group commits
# --------------------------------------------------------------------------------------------
# Temporaries are ".<name>.lt-<host>-<pid>-<random>.tmp<suffix>" beside their target: the host
# and pid tell a later run whether the writer is gone (then the temp is stale and removed).
_TMP_RE = re.compile(r"^\.(?P<name>.+)\.lt-(?P<host>[0-9a-f]{4})-(?P<pid>\d+)-[^.]+\.tmp(\..*)?$")
_STALE_OTHER_HOST_S = 7 * 24 * 3600  # another machine's temp (shared storage): only when a week old
_cleaned_dirs: set[str] = set()
_group: contextvars.ContextVar[list | None] = contextvars.ContextVar("loomis_io_group", default=None)


def _host_tag() -> str:
    return f"{zlib.crc32(socket.gethostname().encode()) & 0xFFFF:04x}"


def _tmp_prefix(path: Path) -> str:
    return f".{path.name}.lt-{_host_tag()}-{os.getpid()}-"


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows (``/proc/self/status``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # elsewhere: the classic set-and-restore
    os.umask(mask)
    return mask


def _apply_umask(tmp: Path, is_dir: bool) -> None:
    """mkstemp/mkdtemp create 0600/0700 whatever the umask; a finished output gets the mode any
    ordinary tool would give it (0666/0777 less the umask), so ``umask 077`` means private and
    ``umask 022`` means readable by the group, as the user chose."""
    os.chmod(tmp, (0o777 if is_dir else 0o666) & ~current_umask())


def clean_stale_temps(directory: str | os.PathLike) -> list[Path]:
    """Remove temporaries of ours in ``directory`` whose writer is gone: killed by SIGKILL, power
    loss. Each folder is scanned once per process. Returns what was removed."""
    directory = Path(directory or ".")
    key = str(directory.resolve())
    if key in _cleaned_dirs:
        return []
    _cleaned_dirs.add(key)
    removed, host, now = [], _host_tag(), time.time()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    for entry in entries:
        m = _TMP_RE.match(entry.name)
        if not m or not _is_stale(m, host, entry, now):
            continue
        try:
            shutil.rmtree(entry.path) if entry.is_dir(follow_symlinks=False) else os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue  # another process got there first, or not ours to remove
    if removed:
        log.info(
            "removed %d stale temporary file(s) in %s left by an interrupted run", len(removed), directory
        )
    return removed


def _is_stale(m: re.Match, host: str, entry: os.DirEntry, now: float) -> bool:
    if m["host"] != host:
        try:
            return now - entry.stat(follow_symlinks=False).st_mtime > _STALE_OTHER_HOST_S
        except OSError:
            return False
    pid = int(m["pid"])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path`` atomically (inside
    ``commit_together`` only when the whole group succeeds), on failure it is removed and ``path``
    is untouched."""
    path = Path(path)
    parent = path.parent
    clean_stale_temps(parent)
    fd, tmp = tempfile.mkstemp(
        prefix=_tmp_prefix(path), suffix=".tmp" + (suffix if suffix is not None else path.suffix), dir=parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        _apply_umask(tmp_path, is_dir=False)
        _commit_or_defer(tmp_path, path, is_dir=False)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder next to ``path``; on success it takes ``path``'s place (an older
    folder there is removed only after the new one is complete)."""
    path = Path(path)
    clean_stale_temps(path.parent)
    tmp = Path(tempfile.mkdtemp(prefix=_tmp_prefix(path), suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        _apply_umask(tmp, is_dir=True)
        _commit_or_defer(tmp, path, is_dir=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _commit_or_defer(tmp: Path, path: Path, is_dir: bool) -> None:
    pending = _group.get()
    if pending is not None:
        pending.append((tmp, path, is_dir))
    else:
        with deferred_signals():
            _commit(tmp, path, is_dir)


def _commit(tmp: Path, path: Path, is_dir: bool) -> None:
    if is_dir and path.exists():
        old = path.with_name(f"{_tmp_prefix(path)}old.tmp")
        os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, path)


@contextlib.contextmanager
def commit_together() -> Iterator[None]:
    """Outputs written inside this block (``atomic_path``/``atomic_dir`` and every writer built on
    them) appear together when the block succeeds, or none of them does: e.g. a video, its
    sidecar JSON and its contact sheet. The renames run with SIGINT/SIGTERM held back, so an
    interruption lands before the first rename or after the last."""
    if _group.get() is not None:  # nested: the outer group commits
        yield
        return
    pending: list = []
    token = _group.set(pending)
    try:
        yield
    except BaseException:
        for tmp, _, is_dir in pending:
            shutil.rmtree(tmp, ignore_errors=True) if is_dir else tmp.unlink(missing_ok=True)
        raise
    finally:
        _group.reset(token)
    with deferred_signals():
        for tmp, path, is_dir in pending:
            _commit(tmp, path, is_dir)


@contextlib.contextmanager
def deferred_signals(signums: Sequence[int] = (signal.SIGINT, signal.SIGTERM)) -> Iterator[None]:
    """Hold back ``signums`` for the block (a few renames) and deliver them after it. Outside the
    main thread, where handlers cannot be set, the block simply runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[tuple[int, object]] = []
    previous = {s: signal.signal(s, lambda n, f: caught.append((n, f))) for s in signums}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for n, frame in caught[:1]:
            handler = previous[n]
            if callable(handler):
                handler(n, frame)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(n)


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


MAX_IMAGE_PIXELS = 100_000_000
"""Largest image accepted (100 megapixels, e.g. 12500×8000). Decoding holds about 3 bytes per
pixel several times over; a header declaring more is almost always a decompression bomb, and no
backend paints at more than a few megapixels anyway. Resize bigger pictures first."""


def _check_pixels(img: Image.Image, path: Path) -> None:
    if img.width * img.height > MAX_IMAGE_PIXELS:
        raise InputError(
            f"image {path} declares {img.width}x{img.height} pixels, more than the "
            f"{MAX_IMAGE_PIXELS // 1_000_000} megapixel limit (decompression-bomb guard); resize it first"
        )


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Load an image file as (H, W, 3) uint8 RGB, EXIF orientation applied. Bad files (missing,
    empty, corrupt, over ``MAX_IMAGE_PIXELS``) → InputError."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"image {path} does not exist")
    if path.is_dir():
        raise InputError(f"{path} is a directory, not an image")
    if path.stat().st_size == 0:
        raise InputError(f"image {path} is an empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit applies
            img = Image.open(path)
        with img:
            _check_pixels(img, path)  # from the header, before a single pixel is decoded
            img.load()
            img = ImageOps.exif_transpose(img)
            if img.width == 0 or img.height == 0:
                raise InputError(f"image {path} has zero size")
            return to_rgb_uint8(img)
    except UnidentifiedImageError:
        raise InputError(f"{path} is not a readable image (PNG, JPEG, WebP, …)") from None
    except Image.DecompressionBombError:
        raise InputError(
            f"image {path} declares more pixels than the {MAX_IMAGE_PIXELS // 1_000_000} megapixel limit "
            "(decompression-bomb guard); resize it first"
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"image {path} is corrupt or truncated ({exc})") from None


def save_image(path: str | os.PathLike, frame: np.ndarray, description: str | None = None) -> None:
    """Write one frame as an image (format from the suffix), atomically; ``description`` goes into
    the file's own metadata (PNG text chunk, GIF comment, WebP/JPEG EXIF ImageDescription)."""
    fmt = _pil_format(Path(path).suffix)
    with atomic_path(path) as tmp:
        img = Image.fromarray(np.asarray(frame, dtype=np.uint8))
        img.save(tmp, format=fmt, **_description_kwargs(fmt, description))


def _description_kwargs(fmt: str, description: str | None) -> dict:
    """PIL save arguments that embed ``description`` in a ``fmt`` file."""
    if not description:
        return {}
    if fmt == "PNG":
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        info.add_itxt("Description", description)
        info.add_text("Software", "Loomis")
        return {"pnginfo": info}
    if fmt == "GIF":
        return {"comment": description.encode()}
    exif = Image.Exif()
    exif[0x010E] = description  # ImageDescription
    exif[0x0131] = "Loomis"  # Software
    return {"exif": exif}


def read_description(path: str | os.PathLike) -> str | None:
    """The description embedded by ``save_image``/``write_video`` (None when there is none): PNG
    text, GIF comment, WebP EXIF, or the mp4 container's ``comment`` tag. For a frame folder, the
    first frame's."""
    path = Path(path)
    if path.is_dir():
        pngs = sorted(path.glob("*.png"))
        return read_description(pngs[0]) if pngs else None
    if path.suffix.lower() in (".mp4", ".mov", ".mkv", ".m4v"):
        import av

        with av.open(str(path)) as container:
            return container.metadata.get("comment") or container.metadata.get("description")
    with Image.open(path) as img:
        if "Description" in getattr(img, "text", {}):
            return img.text["Description"]
        if "comment" in img.info:
            c = img.info["comment"]
            return c.decode() if isinstance(c, bytes) else c
        return img.getexif().get(0x010E)


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
            _check_pixels(img, path)
            n = getattr(img, "n_frames", 1)
            for i in range(n):
                img.seek(i)
                frames.append(to_rgb_uint8(img.copy()))
                times.append(t)
                t += (img.info.get("duration") or 100) / 1000.0
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
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
    path: str | os.PathLike,
    frames: Sequence[np.ndarray],
    fps: float = 8.0,
    quality: int = 8,
    description: str | None = None,
) -> Path:
    """Write frames to ``.mp4`` (H.264, yuv420p), ``.gif``, ``.webp`` or, for a path without a
    suffix, a folder of numbered PNGs; atomically. ``description`` is embedded in the container's
    own metadata (mp4 ``comment``, GIF comment, WebP EXIF, each PNG's text chunk), so it survives
    a lost sidecar. Returns the path written."""
    path = Path(path)
    if not frames:
        raise InputError("no frames to write")
    check_fps(fps)
    frames = [np.asarray(f, dtype=np.uint8) for f in frames]
    suffix = path.suffix.lower()
    if suffix == "":
        with atomic_dir(path) as tmp:
            for i, f in enumerate(frames):
                Image.fromarray(f).save(tmp / f"{i:05d}.png", **_description_kwargs("PNG", description))
        return path
    if suffix not in OUTPUT_SUFFIXES:
        raise InputError(f"unsupported output {path.name}: use .mp4, .gif, .webp or a folder path")
    with atomic_path(path) as tmp:
        if suffix == ".mp4":
            _write_mp4(tmp, frames, fps, quality, description)
        else:
            pil = [Image.fromarray(f) for f in frames]
            fmt = _pil_format(suffix)
            kwargs = {"lossless": False, "quality": 90} if suffix == ".webp" else {"optimize": False}
            pil[0].save(
                tmp,
                format=fmt,
                save_all=True,
                append_images=pil[1:],
                duration=max(1, round(1000.0 / fps)),
                loop=0,
                **kwargs,
                **_description_kwargs(fmt, description),
            )
    return path


def check_fps(fps: float) -> float:
    """A frame rate players and muxers accept: finite and greater than 0."""
    if not isinstance(fps, (int, float)) or not math.isfinite(fps) or fps <= 0:
        raise InputError(f"fps must be a finite number greater than 0, got {fps}")
    return fps


def _write_mp4(path: Path, frames: list[np.ndarray], fps: float, quality: int, description) -> None:
    with mp4_writer(path, fps, quality=quality, atomic=False, description=description) as append:
        for f in frames:
            append(f)


@contextlib.contextmanager
def mp4_writer(
    path: str | os.PathLike,
    fps: float,
    quality: int | None = 8,
    output_params: Sequence[str] | None = None,
    atomic: bool = True,
    description: str | None = None,
) -> Iterator:
    """Stream frames into an H.264/yuv420p ``.mp4`` without holding them in memory: yields
    ``append(frame)``. Odd sides are padded by edge replication (yuv420p needs even sides). With
    ``atomic`` (default) the file appears only when complete; ``description`` becomes the
    container's ``comment`` tag."""
    import imageio.v2 as imageio

    check_fps(fps)
    params = list(output_params or [])
    if description:
        params += ["-metadata", f"comment={description}"]

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
            output_params=params,
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
