"""Shared fixtures. Tests use tiny random-weight models and synthetic data made in tmp_path;
``../shared/realdata`` is used only where present (skipped with a reason otherwise)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


def realdata_dir() -> Path | None:
    env = os.environ.get("LOOMIS_REALDATA")
    path = Path(env) if env else REPO.parent / "shared" / "realdata"
    return path if path.is_dir() else None


@pytest.fixture
def realdata() -> Path:
    path = realdata_dir()
    if path is None:
        pytest.skip("real test material absent: set LOOMIS_REALDATA or place ../shared/realdata")
    return path


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:  # torch missing entirely: GPU tests cannot run either
        has_cuda = False
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU (none present)")
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip_gpu)


@pytest.fixture
def rgb_image() -> np.ndarray:
    """A 48x80 test picture with structure (sky gradient, ground, a disc)."""
    h, w = 48, 80
    y, x = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = (80 + 100 * y / h).astype(np.uint8)
    img[..., 1] = (120 + 80 * x / w).astype(np.uint8)
    img[..., 2] = 200
    img[y > 30] = (60, 120, 40)
    disc = (y - 20) ** 2 + (x - 50) ** 2 < 64
    img[disc] = (230, 200, 40)
    return img


@pytest.fixture
def tiny_pipe():
    """Makes fresh ``tiny`` WanImageToVideoPipelines (seed 0); ``loomis.models`` builds the models
    once per process and hands out deep copies."""
    from loomis.models import build_tiny_pipeline

    return lambda: build_tiny_pipeline(0)
