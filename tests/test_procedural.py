"""Behaviour of the procedural painter: shape, determinism, progress, mediums, face path."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from loomis.errors import InputError
from loomis.mediums import medium_names
from loomis.metrics import get_distance
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
    frames = paint(picture, "acrylic", ProceduralConfig(frames=12, seed=1, speed=speed))
    d = _dist(frames)
    assert d[-1] == 0 and d[0] > 20
    # Layering may briefly add distance (sketch lines, a stroke over a finished spot) but
    # never much, and the process gets substantially closer in every quarter of the video.
    assert np.all(np.diff(d) <= 0.1 * d[0])
    # Progress is placed on the evaluation's distance (finish.measure_plan), so by that one:
    p = get_distance().to_reference(frames, frames[-1])
    quarters = [p[int(q * (len(p) - 1))] for q in (0, 0.25, 0.5, 0.75, 1.0)]
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


def _small_astronaut():
    data = pytest.importorskip("skimage.data")
    import cv2

    return cv2.resize(data.astronaut(), (192, 192), interpolation=cv2.INTER_AREA)


def _lum(img):
    return img.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def test_coloring_book_outlines_first_then_flat_fills():
    import cv2

    from loomis.procedural.stylise import stylise

    img = _small_astronaut()
    frames = paint(img, "coloring-book", ProceduralConfig(frames=21, seed=0))
    final = frames[-1]
    _, layout = stylise(img, "coloring-book", np.random.default_rng(0))  # the painter's first draw
    ink = _lum(final) < 40
    # Early (outlines phase, t=0.25): thin dark lines where the final outlines are, nothing filled.
    early = frames[5]
    dark = _lum(early) < 60
    assert dark.sum() > 0.03 * dark.size
    assert (dark & ink).sum() > 0.95 * dark.sum()
    assert (layout.regions[dark] == 0).mean() > 0.9  # on the outlines of the region map
    thick = cv2.erode(dark.astype(np.uint8), np.ones((5, 5), np.uint8))
    assert thick.sum() < 0.05 * dark.sum()  # lines, not blobs
    filled = (_lum(early) < 235) & ~dark
    assert filled.mean() < 0.03
    # Later (t=0.75): many pixels coloured in, each with its final flat colour, area by area.
    late = frames[15]
    done = np.abs(late.astype(int) - final.astype(int)).max(-1) <= 2
    coloured = done & (layout.regions > 0) & (_lum(final) < 235)
    assert coloured.mean() > 0.3
    ids = layout.regions.ravel()
    area = np.bincount(ids, minlength=ids.max() + 1).astype(float)
    frac = np.bincount(ids, weights=done.ravel(), minlength=ids.max() + 1) / np.maximum(area, 1)
    partial = (frac[1:] > 0.15) & (frac[1:] < 0.85)
    assert area[1:][partial].sum() < 0.25 * area[1:].sum()  # one area at a time


def test_children_crayon_outlines_then_waxy_fills():
    from loomis.procedural.stylise import stylise

    img = _small_astronaut()
    frames = paint(img, "children", ProceduralConfig(frames=21, seed=0))
    final = frames[-1]
    _, layout = stylise(img, "children", np.random.default_rng(0))
    paper = _lum(frames[0])
    early = _lum(frames[4])
    drawn = np.abs(early - paper) > 30
    assert drawn.mean() > 0.02 and (layout.regions[drawn] == 0).mean() > 0.9  # outlines only
    # The finished fills are crayon: uneven, with the paper showing through in places.
    fills = layout.regions > 0
    lum = _lum(final)
    stds = [lum[layout.regions == r].std() for r in np.unique(layout.regions[fills])[:10]]
    assert np.median(stds) > 4
    assert (lum[fills] > 240).mean() > 0.01
    mid = np.abs(frames[12].astype(int) - final.astype(int)).max(-1) <= 2
    assert 0.2 < (mid & fills).sum() / fills.sum() < 0.95  # coloured in part by part


def test_pencil_contours_are_long_lines():
    import cv2

    img = _small_astronaut()
    frames = paint(img, "pencil", ProceduralConfig(frames=21, seed=0))
    # End of the contours phase (construction 0.08 + contours 0.22 of the time): dark lines.
    lines = np.abs(_lum(frames[6]) - _lum(frames[0])) > 60
    n, _, stats, _ = cv2.connectedComponentsWithStats(lines.astype(np.uint8), connectivity=8)
    area = stats[1:, cv2.CC_STAT_AREA]
    area = area[area >= 5]
    assert len(area) > 3
    assert area.mean() / 2 > 300  # mean line length (2 px wide) in pixels; was ~190 as segments


def test_contour_lines_follow_edges_in_long_strokes():
    from loomis.procedural.strokes import contour_lines, polyline_length

    img = np.full((200, 300), 230, np.float32)
    import cv2

    cv2.circle(img, (100, 100), 60, 40, -1)
    cv2.rectangle(img, (190, 40), (280, 170), 90, -1)
    lines = contour_lines(img, sigma=1.5, min_length=20, seg_len=200)
    lengths = sorted((polyline_length(ln) for ln in lines), reverse=True)
    assert len(lines) <= 4  # one line per shape (long ones cut in a few hand movements)
    assert sum(lengths[:2]) > 0.8 * (2 * np.pi * 60)  # the circle, almost all of it


def test_composition_lines_drawn_once():
    import cv2

    from loomis.mediums import get_medium
    from loomis.procedural.kinds import recipe_for
    from loomis.procedural.painter import _make_plan
    from loomis.procedural.recipes import region_outlines

    img = _small_astronaut()
    plan = _make_plan(
        img,
        recipe_for(get_medium("acrylic")),
        ProceduralConfig(),
        np.random.default_rng(0),
    )
    lines = region_outlines(plan, 1 / 70)
    assert len(lines) >= 3
    count = np.zeros(img.shape[:2], np.int32)
    for ln in lines:
        mask = np.zeros(img.shape[:2], np.uint8)
        cv2.polylines(mask, [ln.round().astype(np.int32).reshape(-1, 1, 2)], False, 1, 5)
        count += mask
    # Shared borders are not traced twice (only crossings overlap).
    assert (count >= 2).sum() < 0.05 * (count >= 1).sum()


def _saturated(img) -> np.ndarray:
    import cv2

    return cv2.cvtColor(img, cv2.COLOR_RGB2HSV)[..., 1] > 60


def _fine_detail(img) -> np.ndarray:
    import cv2

    grey = img.astype(np.float32).mean(-1)
    return grey - cv2.GaussianBlur(grey, (0, 0), 2.0)


def test_pencil_earns_the_colour_of_a_colour_picture(caplog):
    from loomis.procedural import painter

    img = _small_astronaut()
    painter._hinted.clear()
    with caplog.at_level(logging.INFO, logger="loomis.procedural"):
        frames = paint(img, "pencil", ProceduralConfig(frames=21, seed=0))
        paint(img, "pencil", ProceduralConfig(frames=5, seed=1))
    assert caplog.text.count("pencil-mono") == 1  # the graphite-only hint, once
    assert np.array_equal(frames[-1], img)
    sat = np.array([_saturated(f).mean() for f in frames])
    assert sat[:8].max() < 0.005  # graphite phases (first 40%): no colour at all
    assert sat[12] > 0.15  # coloured pencil has laid colour well before the end
    # Until the last 20% the colour is hatched, not the photograph: none of its fine detail.
    ref = _fine_detail(frames[-1]).ravel()
    corr = [np.corrcoef(_fine_detail(f).ravel(), ref)[0, 1] for f in frames[1:16]]
    assert max(corr) < 0.3, corr
    # Over the colour phase the error falls steadily: no frame jumps most of the way.
    d = _dist(frames)
    colour = d[8:]
    assert np.all(np.diff(colour) <= 0.5)
    assert -np.diff(colour).min() < 0.15 * d[0]


def test_pencil_on_a_grey_picture_stays_graphite(caplog):
    from loomis.procedural import painter

    grey = np.repeat(_lum(_small_astronaut()).astype(np.uint8)[..., None], 3, -1)
    painter._hinted.clear()
    with caplog.at_level(logging.INFO, logger="loomis.procedural"):
        frames = paint(grey, "pencil", ProceduralConfig(frames=9, seed=0))
    assert "pencil-mono" not in caplog.text
    spread = [np.ptp(f.astype(int), axis=-1).max() for f in frames]
    assert max(spread) <= 8  # paper and graphite only: no colour
    assert np.array_equal(frames[-1], grey)


def test_watercolor_washes_light_to_dark_with_paper_showing():
    img = _small_astronaut()
    frames = paint(img, "watercolor", ProceduralConfig(frames=21, seed=0))
    lum = np.array([_lum(f).mean() for f in frames])
    # Transparent glazes only darken: mid-process frames are lighter than the finished picture,
    # and the picture darkens (on average) frame by frame, never lightening much.
    assert np.all(lum[1:16] > lum[-1]) and lum.min() > lum[-1] - 1.0  # rims pool only a little
    assert np.all(np.diff(lum) <= 0.5)
    assert lum[5] - lum[-1] > 0.3 * (lum[0] - lum[-1])  # early: pale washes, darks still to come
    d = _dist(frames)
    assert -np.diff(d).min() < 0.25 * d[0]  # no single frame paints most of it
    assert d[-2] < 0.05 * d[0]  # the last strokes reach the target: no pop-in at the end
    final = frames[-1]
    assert (_lum(final) > 238).mean() > 0.02  # highlights left as bare paper (lum ~247)
    mid = frames[10].astype(np.float32)
    assert _lum(mid).mean() > _lum(final).mean()
    # A watercolour, not the photograph: lighter overall.
    assert _lum(final).mean() > _lum(img).mean() + 15
