"""Issue 12's process properties, on synthetic pictures with known lines and regions: the digital
recipe (white page, line art before colour, arrives at the input), no pop-in, ``linear`` is
linear by the evaluation's distance, the recipe table, the progress bar through ``loomis.paint``."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from loomis.mediums import Medium, get_medium, registry
from loomis.metrics import get_distance
from loomis.procedural import ProceduralConfig, paint
from loomis.procedural.kinds import KINDS, recipe_for


@pytest.fixture(scope="module")
def drawing() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An illustration on white: a red disc and a blue box with black outlines.
    Returns (picture, line mask, interior mask)."""
    img = np.full((120, 160, 3), 255, np.uint8)
    cv2.circle(img, (55, 60), 32, (220, 60, 50), -1)
    cv2.rectangle(img, (95, 30), (145, 95), (50, 80, 210), -1)
    lines = np.zeros(img.shape[:2], np.uint8)
    cv2.circle(lines, (55, 60), 32, 255, 3)
    cv2.rectangle(lines, (95, 30), (145, 95), 255, 3)
    img[lines > 0] = (20, 20, 20)
    inner = np.zeros(img.shape[:2], np.uint8)
    cv2.circle(inner, (55, 60), 24, 255, -1)
    cv2.rectangle(inner, (103, 38), (137, 87), 255, -1)
    return img, lines > 0, inner > 0


def test_digital_starts_white_draws_lines_before_colour_and_arrives(drawing):
    img, lines, inner = drawing
    frames = paint(img, "digital", ProceduralConfig(frames=25, seed=0))
    assert frames[0].min() >= 250  # a white page
    assert np.array_equal(frames[-1], img)
    # Line art: a good share of the outline pixels dark (the drawn line is thinner than the mask).
    line_dark = [(f[lines].mean(-1) < 100).mean() >= 0.15 for f in frames]
    # Colour: the shapes' insides at least half-way from the white page to their colour.
    coloured = [np.abs(f[inner].astype(float) - img[inner]).mean() < 100 for f in frames]
    first_lines, first_colour = line_dark.index(True), coloured.index(True)
    assert first_lines < first_colour, (first_lines, first_colour)
    # While the line art is there, the shapes' insides are still the white page.
    assert frames[first_lines][inner].mean() > 200


@pytest.mark.parametrize("medium", list(registry()))
def test_last_frame_change_is_small(drawing, medium):
    img = drawing[0]
    frames = paint(img, medium, ProceduralConfig(frames=49, seed=0))
    d = get_distance().to_reference(frames, frames[-1])  # transfer targets end on their restyling
    total = d[0] - d[-1]
    assert total > 0
    assert (d[-2] - d[-1]) <= 0.03 * total, (medium, (d[-2] - d[-1]) / total)


@pytest.mark.parametrize("medium", ["acrylic", "digital"])
def test_linear_crosses_half_distance_at_mid_time(drawing, medium):
    img = drawing[0]
    frames = paint(img, medium, ProceduralConfig(frames=41, seed=0, speed="linear"))
    d = get_distance().to_reference(frames, img)
    half = d[-1] + 0.5 * (d[0] - d[-1])
    t = np.linspace(0, 1, len(d))
    crossing = float(np.interp(-half, -np.minimum.accumulate(d), t))  # first time d <= half
    assert abs(crossing - 0.5) <= 0.1, crossing


def test_every_medium_recipe_is_in_the_one_table():
    for medium in registry().values():
        assert recipe_for(medium).recipe in KINDS
    broken = Medium("x", "process", "", "w", procedural={"recipe": "fresco"})
    with pytest.raises(ValueError, match="fresco"):
        recipe_for(broken)


def test_painter_takes_the_medium_object(drawing):
    img = drawing[0]
    med = get_medium("digital")
    a = paint(img, med, ProceduralConfig(frames=4, seed=2))
    b = paint(img, "digital", ProceduralConfig(frames=4, seed=2))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_progress_reaches_the_caller_through_loomis_paint(drawing):
    from loomis.paint import PaintConfig, Painter

    calls = []
    painter = Painter(PaintConfig(backend="procedural", frames=6, seed=0))
    res = painter.paint(drawing[0], "acrylic", progress=lambda i, n: calls.append((i, n)))
    assert len(res.frames) == 6
    assert calls == [(i, 6) for i in range(1, 7)]  # once per frame, in order


def test_human_curve_exponent_follows_the_pictures_chroma():
    from dataclasses import replace

    from loomis.procedural.config import Recipe
    from loomis.procedural.painter import human_exponent

    rc = replace(Recipe(), curve=(1.2, -4.0))
    grey = np.full((8, 8, 3), 120, np.uint8)  # chroma 0: a = 1.2 + 4 * 0.3
    assert human_exponent(rc, grey) == pytest.approx(2.4)
    half = np.zeros((8, 8, 3), np.uint8)
    half[..., 0] = 102  # chroma 0.4: a = 1.2 - 0.4
    assert human_exponent(rc, half) == pytest.approx(0.8)
    red = np.zeros((8, 8, 3), np.uint8)
    red[..., 0] = 255  # chroma 1 -> clipped to the floor
    assert human_exponent(rc, red) == pytest.approx(0.6)
    assert human_exponent(Recipe(), grey) is None


def test_human_curve_places_cuts_on_the_distance():
    from loomis.procedural.schedule import plan_cuts

    dist = np.linspace(1.0, 0.0, 2001)  # one stroke = 0.0005 of the distance
    cuts = plan_cuts(dist, ["a"] * 2000, {"a": 1.0}, 5, "human", perceptual=dist, exponent=2.0)
    # (1 - t)^2 at t = 0, .25, .5, .75, 1 leaves 1, .5625, .25, .0625, 0 of the distance
    assert cuts == [0, 875, 1500, 1875, 2000]


def test_digital_human_follows_its_per_picture_curve(drawing):
    from loomis.procedural.kinds import recipe_for
    from loomis.procedural.painter import human_exponent

    img = drawing[0]
    a = human_exponent(recipe_for(get_medium("digital")), img)
    assert a is not None
    frames = paint(img, "digital", ProceduralConfig(frames=41, seed=0))  # speed human
    d = get_distance().to_reference(frames, img)
    left = (d[20] - d[-1]) / (d[0] - d[-1])  # at mid-time
    assert left == pytest.approx(0.5**a, abs=0.1), (left, a)
