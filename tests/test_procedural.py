"""Behaviour of the procedural painter: shape, determinism, progress, mediums, face path."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from loomis.errors import InputError
from loomis.mediums import medium_names
from loomis.procedural import ProceduralConfig, paint
from loomis.procedural.face import detect_face
from loomis.procedural.schedule import plan_cuts


def _dist(frames):
    last = frames[-1].astype(np.float32)
    return np.array([np.abs(f.astype(np.float32) - last).mean() for f in frames])


@pytest.fixture
def picture(rgb_image) -> np.ndarray:
    # 48x80 is too small to have strokes of several sizes; 3x keeps it fast but real.
    return np.repeat(np.repeat(rgb_image, 3, 0), 3, 1)


def test_frame_count_size_and_ends(picture):
    frames = paint(picture, "oil", ProceduralConfig(frames=9, seed=0))
    assert len(frames) == 9
    assert all(f.shape == picture.shape and f.dtype == np.uint8 for f in frames)
    assert np.array_equal(frames[-1], picture)  # faithful medium ends on the input
    ground = np.array([196, 170, 134], np.float32)  # oil's toned ground (mediums.yaml)
    assert np.abs(frames[0].astype(np.float32) - ground).mean() < 8  # first frame = blank ground


def test_max_side_scales_down(picture):
    frames = paint(picture, "acrylic", ProceduralConfig(frames=3, max_side=120))
    assert max(frames[0].shape[:2]) == 120
    assert frames[0].shape[:2] == (72, 120)


def test_deterministic_per_seed(picture):
    a = paint(picture, "oil", ProceduralConfig(frames=6, seed=3))
    b = paint(picture, "oil", ProceduralConfig(frames=6, seed=3))
    c = paint(picture, "oil", ProceduralConfig(frames=6, seed=4))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert any(not np.array_equal(x, y) for x, y in zip(a[1:-1], c[1:-1]))


@pytest.mark.parametrize("speed", ["human", "linear", "fast", "strokes"])
def test_progress_is_monotone_ish(picture, speed):
    d = _dist(paint(picture, "acrylic", ProceduralConfig(frames=12, seed=1, speed=speed)))
    assert d[-1] == 0 and d[0] > 20
    # Layering may briefly add distance (sketch lines, a stroke over a finished spot) but
    # never much, and the process gets substantially closer in every quarter of the video.
    assert np.all(np.diff(d) <= 0.1 * d[0])
    quarters = [d[int(q * (len(d) - 1))] for q in (0, 0.25, 0.5, 0.75, 1.0)]
    assert all(b < a for a, b in zip(quarters, quarters[1:])), quarters


def test_fast_profile_is_front_loaded(picture):
    fast = _dist(paint(picture, "oil", ProceduralConfig(frames=11, speed="fast")))
    lin = _dist(paint(picture, "oil", ProceduralConfig(frames=11, speed="linear")))
    assert fast[3] < lin[3]


@pytest.mark.parametrize("medium", medium_names())
def test_every_medium_runs(picture, medium):
    frames = paint(picture, medium, ProceduralConfig(frames=5, seed=0))
    assert len(frames) == 5 and frames[0].shape == picture.shape
    assert not np.array_equal(frames[0], frames[-1])


def test_transfer_target_is_stylised(picture):
    frames = paint(picture, "pencil-mono", ProceduralConfig(frames=4))
    last = frames[-1].astype(int)
    assert np.abs(last[..., 0] - last[..., 1]).max() == 0  # monochrome
    assert not np.array_equal(frames[-1], picture)


def test_unknown_medium_and_bad_inputs(picture):
    with pytest.raises(InputError, match="valid mediums"):
        paint(picture, "crayon-on-moon")
    with pytest.raises(InputError):
        paint(picture[..., 0].astype(np.float32), "oil")
    with pytest.raises(InputError):
        paint(np.zeros((4, 4, 3), np.uint8), "oil")
    with pytest.raises(InputError):
        paint(picture, "oil", ProceduralConfig(frames=1))
    with pytest.raises(InputError):
        paint(picture, "oil", ProceduralConfig(speed="warp"))


def test_depth_map_changes_order(picture):
    h, w = picture.shape[:2]
    near_top = np.linspace(1, 0, h)[:, None].repeat(w, 1)
    a = paint(picture, "acrylic", ProceduralConfig(frames=7, seed=0))
    b = paint(picture, "acrylic", ProceduralConfig(frames=7, seed=0, depth=near_top))
    assert any(not np.array_equal(x, y) for x, y in zip(a[1:-1], b[1:-1]))


def test_progress_callback(picture):
    calls = []
    paint(picture, "oil", ProceduralConfig(frames=5), progress=lambda i, n: calls.append((i, n)))
    assert calls[-1] == (5, 5) and len(calls) == 5


def test_plan_cuts_cover_all_strokes():
    dist = np.linspace(10, 0, 101)
    phases = ["block"] * 40 + ["details"] * 60
    for speed in ("human", "linear", "fast", "strokes"):
        cuts = plan_cuts(dist, phases, {"block": 0.5, "details": 0.5}, 11, speed)
        assert cuts[0] == 0 and cuts[-1] == 100 and cuts == sorted(cuts)


def _astronaut():
    data = pytest.importorskip("skimage.data")
    import cv2

    return cv2.resize(data.astronaut(), (256, 256), interpolation=cv2.INTER_AREA)


def test_face_is_found_and_constructed():
    img = _astronaut()
    box = detect_face(img)
    assert box is not None
    x, y, w, h = box
    assert 60 < x + w / 2 < 140 and 10 < y + h / 2 < 90  # the astronaut's face, upper middle
    frames = paint(img, "loomis", ProceduralConfig(frames=12, seed=0))
    assert np.array_equal(frames[-1], img)
    # Construction (the ball) shows early, around the face, before any shading elsewhere.
    early = np.abs(frames[2].astype(int) - frames[0].astype(int)).sum(-1) > 20
    ys, xs = np.nonzero(early)
    assert len(ys) > 50
    assert np.median(xs) == pytest.approx(x + w / 2, abs=w) and np.median(ys) < y + 1.5 * h


def test_no_face_warns_and_draws_pencil(picture, caplog):
    with caplog.at_level(logging.WARNING, logger="loomis.procedural"):
        frames = paint(picture, "loomis", ProceduralConfig(frames=4, seed=0))
    assert "no face" in caplog.text
    pencil = paint(picture, "pencil", ProceduralConfig(frames=4, seed=0))
    assert all(np.array_equal(a, b) for a, b in zip(frames, pencil))
