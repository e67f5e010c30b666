"""The lesson core: stage boundaries, step palettes, Kubelka–Munk recipes, the lesson model."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from lesson_synth import BLOCK_COLOURS, BOUNDS, process
from skimage import color

from loomis.errors import InputError
from loomis.lesson import LessonConfig, build_lesson
from loomis.lesson.measure import change_mask, stroke_width
from loomis.lesson.mixing import PaintSet, default_paints, parse_paints, rgb_to_lab
from loomis.lesson.model import rle_decode, rle_encode
from loomis.lesson.palette import delta_e, extract_palette

colour = pytest.importorskip("colour", reason="mixing needs colour-science (pip install loomis[studio])")
pytestmark = pytest.mark.filterwarnings("ignore:Trimming")  # CMFs span 360-830 nm, the paints 380-780


@pytest.fixture(scope="module")
def frames():
    return process()


@pytest.fixture(scope="module")
def paints():
    return PaintSet(default_paints())


def _spans(lesson):
    return [(s.name, s.frames) for s in lesson.stages]


def test_stage_boundaries_on_a_process_with_known_stages(frames):
    lesson = build_lesson(frames, "acrylic", LessonConfig(recipes=False))
    want = list(zip(["drawing", "block-in", "layers", "details"], zip([0, *BOUNDS[:-1]], BOUNDS)))
    assert _spans(lesson) == want
    # Steps lie inside their stage, in order, and cover it.
    for st in lesson.stages:
        steps = [lesson.steps[i] for i in st.steps]
        assert 1 <= len(steps) <= 3
        assert steps[0].frames[0] == st.frames[0] and steps[-1].frames[1] == st.frames[1]
        assert all(a.frames[1] == b.frames[0] for a, b in zip(steps, steps[1:]))
    kinds = {st.name: lesson.steps[st.steps[0]] for st in lesson.stages}
    assert kinds["block-in"].brush_frac > 3 * kinds["details"].brush_frac  # big brush, then small
    assert kinds["drawing"].instruction.startswith("Draw the main lines")
    assert kinds["block-in"].instruction.startswith("Block in")


def test_stage_names_follow_the_medium_and_what_the_process_does(frames):
    digital = build_lesson(frames, "digital", LessonConfig(recipes=False, steps_per_stage=1))
    assert [s.name for s in digital.stages] == ["line art", "flats", "shading", "details"]
    assert [s.frames for s in digital.stages] == [
        s.frames for s in build_lesson(frames, None, LessonConfig(recipes=False, steps_per_stage=1)).stages
    ]
    # Without the drawing, the first stage is a block-in, not a "drawing".
    no_drawing = build_lesson(frames[BOUNDS[0] :], "acrylic", LessonConfig(recipes=False, steps_per_stage=1))
    assert [s.name for s in no_drawing.stages] == ["block-in", "layers", "details"]
    assert [s.frames[1] for s in no_drawing.stages] == [b - BOUNDS[0] for b in BOUNDS[1:]]


def test_palette_of_a_step_with_known_colours():
    known = [(200, 60, 50), (40, 90, 160), (230, 200, 70)]
    before = np.full((120, 160, 3), 245, np.uint8)
    after = before.copy()
    cv2.rectangle(after, (10, 10), (89, 109), known[0], -1)  # 80x100: 8000 px
    cv2.circle(after, (120, 40), 28, known[1], -1, cv2.LINE_AA)  # anti-aliased edges
    cv2.ellipse(after, (120, 95), (30, 14), 0, 0, 360, known[2], -1, cv2.LINE_AA)
    rng = np.random.default_rng(0)
    after = np.clip(after.astype(int) + rng.integers(-2, 3, after.shape), 0, 255).astype(np.uint8)
    lab_b, lab_a = (color.rgb2lab(x).astype(np.float32) for x in (before, after))
    mask, _ = change_mask(lab_b, lab_a)
    pal = extract_palette(lab_a, mask)
    assert len(pal) == 3
    want = color.rgb2lab(np.array([known], np.uint8))[0]
    for swatch, lab in zip(pal, want):  # most used first: the rectangle, the disc, the ellipse
        assert delta_e(swatch.lab, lab) <= 3.0, (swatch.hex, swatch.name)
    assert pal[0].share > pal[1].share > pal[2].share
    assert [hue in s.name for s, hue in zip(pal, ("red", "blue", "yellow"))] == [True] * 3


def test_stroke_width_of_known_lines():
    mask = np.zeros((80, 80), np.uint8)
    cv2.line(mask, (5, 20), (75, 20), 1, 9)
    assert abs(stroke_width(mask.astype(bool)) - 9) <= 1.5
    thin = np.zeros((80, 80), np.uint8)
    cv2.line(thin, (5, 10), (70, 60), 1, 1)
    assert stroke_width(thin.astype(bool)) <= 2


def _km_lab(ps: PaintSet, weights: dict[str, float]) -> np.ndarray:
    """The mix computed here by hand (K/S per paint, strength-weighted mean, back to R) and
    taken to Lab through colour-science's own spectral integration — not the PaintSet's path."""
    idx = [ps.names.index(n) for n in weights]
    r = ps.reflectance[idx]
    ks = (1 - r) ** 2 / (2 * r)
    c = np.array(list(weights.values())) * ps.strength[idx]
    mix = (c[:, None] * ks).sum(0) / c.sum()
    refl = 1 + mix - np.sqrt(mix**2 + 2 * mix)
    sd = colour.SpectralDistribution(dict(zip(range(380, 781, 10), refl)))
    cmfs = colour.MSDS_CMFS["CIE 1931 2 Degree Standard Observer"]
    xyz = colour.sd_to_XYZ(sd, cmfs, colour.SDS_ILLUMINANTS["D65"]) / 100
    return color.xyz2lab(xyz.reshape(1, 1, 3)).reshape(3)


@pytest.mark.parametrize(
    "mix",
    [
        {"ultramarine blue": 0.3, "cadmium yellow medium": 0.7},
        {"titanium white": 0.8, "burnt sienna": 0.2},
        {"alizarin crimson": 0.45, "phthalo green": 0.55},
    ],
)
def test_recipe_recovers_an_exact_mix_of_two_paints(paints, mix):
    recipe = paints.recipe(_km_lab(paints, mix))
    assert set(recipe.paints) == set(mix)
    for name, w in zip(recipe.paints, recipe.weights):
        assert abs(w - mix[name]) < 0.03, (name, w)
    assert recipe.delta_e < 0.5
    assert "part" in recipe.text() or "%" in recipe.text()


def test_recipe_for_a_tube_colour_is_that_tube_and_errors_are_stated(paints):
    r = paints.recipe(rgb_to_lab(paints.paints[7].rgb))
    assert r.paints == [paints.paints[7].name] and r.delta_e < 1.0
    far = paints.recipe(rgb_to_lab((10, 230, 20)))  # a neon green no listed tube reaches
    assert far.delta_e > 3 and f"ΔE {far.delta_e:.1f}" in far.text()


def test_paint_list_validation():
    ok = parse_paints(
        [{"name": "red", "rgb": "#c83232"}, {"name": "white", "rgb": [250, 250, 250], "strength": 1}], "t"
    )
    assert ok[0].rgb == (200, 50, 50) and ok[1].strength == 1.0
    for bad, msg in [
        ([], "list of paints"),
        ([{"rgb": "#fff000"}], "needs a name"),
        ([{"name": "x", "rgb": "blue"}], "rgb"),
        ([{"name": "x", "rgb": "#010101"}, {"name": "x", "rgb": "#020202"}], "twice"),
        ([{"name": "x", "rgb": "#010101", "strength": 0}], "strength"),
        ([{"name": "x", "rgb": "#010101", "colour": 1}], "unknown keys"),
        ([{"name": "x", "rgb": "#010101", "reflectance": [0.5] * 3}], "reflectance"),
    ]:
        with pytest.raises(InputError, match=msg):
            parse_paints(bad, "t")


def test_rle_round_trip():
    rng = np.random.default_rng(0)
    for mask in (rng.random((17, 23)) > 0.6, np.ones((4, 5), bool), np.zeros((3, 3), bool)):
        rle = rle_encode(mask)
        assert sum(rle["counts"]) == mask.size
        assert np.array_equal(rle_decode(rle), mask)
    assert rle_encode(np.array([[True, False]]))["counts"] == [0, 1, 1]


def test_lesson_json_holds_regions_palettes_recipes(frames):
    lesson = build_lesson(frames[:12], "acrylic", LessonConfig(steps_per_stage=1))
    data = lesson.to_json()
    assert data["format"] == "loomis-lesson/1" and data["stages"] and data["steps"]
    step = data["steps"][-1]
    region = rle_decode(step["region"]["rle"])
    assert region.shape == tuple(step["region"]["rle"]["size"]) and region.any()
    sw = step["palette"][0]
    assert sw["hex"].startswith("#") and sw["recipe"]["paints"] and sw["recipe"]["delta_e"] >= 0
    blocks = color.rgb2lab(np.array([BLOCK_COLOURS], np.uint8))[0]
    # the block-in's colours are found again, each within ΔE 3 of one laid down
    found = [np.array(s["lab"]) for s in data["steps"][-1]["palette"]]
    assert min(float(delta_e(f, b)) for f in found for b in blocks) <= 3.0


def test_stage_words_come_from_the_medium_recipe_row():
    from loomis.lesson.stages import VOCABULARY, vocabulary
    from loomis.procedural.kinds import KINDS

    assert {k.stages for k in KINDS.values()} <= set(VOCABULARY)  # every row names known words
    assert vocabulary("oil") == VOCABULARY["paint"] and vocabulary("loomis") == VOCABULARY["pencil"]
    assert vocabulary("coloring-book") == VOCABULARY["digital"] == vocabulary("digital")
    assert vocabulary("watercolor")[1] == ("washes", "block")
    assert vocabulary("no-such-medium") == vocabulary(None) == VOCABULARY["paint"]
