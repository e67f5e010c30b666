"""The development set of real painting processes (``../shared/realdata``), and its split.

Evaluation and tuning only: the material is never part of the project. ``realdata_root()`` finds
it (``$LOOMIS_REALDATA`` or ``../shared/realdata`` next to the checkout) or returns None; callers
skip with a reason when it is absent.

Split (deterministic, fixed once): the digital-illustration sequences sorted by name; every third
one starting with the third (positions 2, 5, 8, … of the sorted list) is **held out**, the rest is
the **tuning** part. Tuning decisions look at the tuning part only; the held-out part reports
whether they carry over. The two acrylic processes are their own group (``acrylic``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from loomis.io import load_image

DIGITAL = "waihinchan_ML-Painting-Process-Predict"
HOLDOUT_EVERY = 3


@dataclass
class RealProcess:
    name: str
    group: str  # "tuning" | "held-out" | "acrylic"
    frames: list[np.ndarray]
    times: list[float] | None = None


def realdata_root() -> Path | None:
    env = os.environ.get("LOOMIS_REALDATA")
    path = Path(env) if env else Path(__file__).resolve().parents[3] / "shared" / "realdata"
    return path if path.is_dir() else None


def split(names: list[str]) -> dict[str, str]:
    """name -> "tuning" | "held-out" (every third of the sorted names, from the third, held out)."""
    return {
        n: ("held-out" if i % HOLDOUT_EVERY == HOLDOUT_EVERY - 1 else "tuning")
        for i, n in enumerate(sorted(names))
    }


def digital_names(root: Path) -> list[str]:
    base = root / DIGITAL
    return sorted(p.name for p in base.iterdir() if (p / "frames").is_dir()) if base.is_dir() else []


def _frames(folder: Path, side: int | None) -> list[np.ndarray]:
    files = sorted(f for f in folder.iterdir() if f.suffix.lower() in (".jpg", ".png"))
    return [_fit(load_image(f), side) for f in files]


def _fit(img: np.ndarray, side: int | None) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    if side is None or max(h, w) <= side:
        return img
    s = side / max(h, w)
    return cv2.resize(img, (max(8, round(w * s)), max(8, round(h * s))), interpolation=cv2.INTER_AREA)


def load_digital(root: Path, side: int | None = None) -> list[RealProcess]:
    """Every digital-illustration process (frames evenly spaced: the set has no time stamps)."""
    groups = split(digital_names(root))
    return [RealProcess(n, groups[n], _frames(root / DIGITAL / n / "frames", side)) for n in sorted(groups)]


def load_acrylic(root: Path, side: int | None = None) -> list[RealProcess]:
    """The two real acrylic processes (the first with the time stamps in its file names)."""
    out = []
    a = root / "ArmastusChen_inverse_painting" / "sample_timelapse_frames"
    if a.is_dir():
        files = sorted(a.glob("*.jpg"))
        stamps = [re.search(r"t(\d+)m(\d+)s", f.name) for f in files]
        times = [int(m[1]) * 60 + int(m[2]) for m in stamps] if all(stamps) else None
        out.append(
            RealProcess("acrylic-landscape", "acrylic", [_fit(load_image(f), side) for f in files], times)
        )
    b = root / "inversepainting_github_io" / "comparison" / "gt_frames_decoded"
    if b.is_dir():
        out.append(RealProcess("acrylic-lake", "acrylic", _frames(b, side)))
    return out


def load_all(root: Path, side: int | None = None) -> list[RealProcess]:
    return load_digital(root, side) + load_acrylic(root, side)
