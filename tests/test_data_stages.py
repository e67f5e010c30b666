"""Unit tests of the curation stages on small synthetic inputs (no weights, no video files)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from loomis_data import canvas, occlusion, overlays, select, split_screen, trim
from loomis_data.batch import gather_inputs, parse_shard, sample_ids
from loomis_data.captioning import clean_caption
from loomis_data.variants import make_variant

from loomis.errors import InputError


def test_masked_median_matches_nanmedian():
    rng = np.random.default_rng(0)
    stack = rng.integers(0, 256, (11, 6, 7, 3)).astype(np.uint8)
    mask = rng.random((11, 6, 7)) < 0.4
    mask[-1] = False  # the previous result is never masked
    got = occlusion.masked_median(stack, mask)
    ref = stack.astype(float)
    ref[np.broadcast_to(mask[..., None], ref.shape)] = np.nan
    valid = (~mask).sum(0)
    exact = valid % 2 == 1  # the two agree exactly for an odd number of valid values
    np.testing.assert_array_equal(got[exact], np.nanmedian(ref, axis=0)[exact].astype(np.uint8))
    lo = np.sort(np.where(np.isnan(ref), np.inf, ref), axis=0)
    idx = (valid - 1) // 2
    lower = np.take_along_axis(lo, np.broadcast_to(idx[None, ..., None], (1, *got.shape)), 0)[0]
    np.testing.assert_array_equal(got[~exact], lower[~exact].astype(np.uint8))


def _scene(quad, h=180, w=320, fill=245):
    img = np.full((h, w, 3), (90, 60, 40), np.uint8)
    cv2.fillConvexPoly(img, quad.astype(np.int32), (fill, fill, fill))
    return img


def test_canvas_quad_found_and_stable():
    quad = np.float32([[60, 30], [250, 26], [262, 160], [52, 164]])
    frames = np.stack([_scene(quad) for _ in range(12)])
    frames[5:, 100:140, 150:200] = (200, 150, 120)  # a hand resting on part of the canvas
    found = canvas.find_canvas(frames)
    assert found is not None
    assert np.abs(found - quad).max() < 2.0
    w, h = canvas.canvas_size(found, 128)
    assert max(w, h) == 128 and w > h


def test_no_canvas_in_flat_video():
    frames = np.full((6, 90, 160, 3), 80, np.uint8)
    assert canvas.find_canvas(frames) is None


def test_exposure_gains_track_background():
    quad = np.float32([[60, 30], [250, 26], [262, 160], [52, 164]])
    base = _scene(quad).astype(np.float32)
    frames = np.stack([np.clip(base * g, 0, 255).astype(np.uint8) for g in (0.95, 1.0, 1.05)])
    gains = canvas.exposure_gains(frames, canvas.background_mask((180, 320), quad))
    np.testing.assert_allclose(gains, [0.95, 1.0, 1.05], atol=0.02)


def test_split_column_within_window():
    frames = np.zeros((5, 100, 200, 3), np.uint8)
    frames[:, :, :93] = 200
    frames[:, :, 93:] = 60
    frames[:, :, 30] = 0  # a stronger edge outside 40-60 % must be ignored
    x = split_screen.find_split_column(frames)
    assert x == 93
    ref = split_screen.reference_photo(frames, x)
    assert ref.shape[1] <= 93


def test_occlusion_removes_moving_blob_and_keeps_new_paint():
    h, w = 60, 80
    prev = np.full((h, w, 3), 240, np.uint8)
    samples = np.repeat(prev[None], 15, axis=0).copy()
    samples[3:, 10:30, 10:30] = (30, 90, 200)  # paint that appears early and stays
    for i in range(15):  # a skin-coloured blob wandering across
        x = 5 + 4 * i
        samples[i, 35:50, x : x + 12] = (214, 160, 128)
    clean, occluded = occlusion.clean_segment(samples, prev, occlusion.OcclusionConfig())
    assert occluded > 0
    assert np.abs(clean[15:25, 15:25].astype(int) - (30, 90, 200)).max() < 5
    assert np.abs(clean[35:50].astype(int) - 240).max() < 5


def test_resting_brush_over_fresh_paint_is_removed():
    """A dark brush (not skin) that rests on fresh paint for most of the segment is the plain
    median there; it is an occluder because the canvas comes back when it leaves."""
    h, w = 60, 80
    prev = np.full((h, w, 3), 240, np.uint8)
    samples = np.repeat(prev[None], 30, axis=0).copy()
    samples[2:, 20:40, 20:60] = (60, 120, 50)  # green paint, early in the segment
    samples[6:26, 25:31, 25:55] = (70, 45, 25)  # the brush rests on it for 20 of 30 samples
    clean, _ = occlusion.clean_segment(samples, prev, occlusion.OcclusionConfig())
    err = np.abs(clean[20:40, 20:60].astype(int) - (60, 120, 50)).max(-1)
    assert (err > 5).mean() < 0.01  # a corner pixel may blend at the analysis scale


def test_paint_layers_within_one_segment_are_kept():
    """Three states in one segment (blank, a red layer, a blue one over it): every layer deviates
    from the per-channel median, but persistent runs are paint, so the result is painted rather
    than the stale previous canvas (the median is per channel and may mix the layers' channels)."""
    h, w = 40, 40
    prev = np.full((h, w, 3), 246, np.uint8)
    samples = np.repeat(prev[None], 30, axis=0).copy()
    samples[8:] = (200, 60, 50)
    samples[22:] = (50, 60, 200)
    clean, _ = occlusion.clean_segment(samples, prev, occlusion.OcclusionConfig())
    assert (np.abs(clean.astype(int) - 246).max(-1) > 150).all()
    assert (clean[..., 1] < 80).all()  # the layers' shared green, not the blank's


def test_fill_from_next_segment_where_hidden_all_segment():
    """Paint laid under a hand that covers the spot for a whole segment: the segment's result
    keeps the stale state there; the next segment's first clean view fills it."""
    h, w = 60, 80
    prev = np.full((h, w, 3), 240, np.uint8)
    seg = np.repeat(prev[None], 30, axis=0).copy()
    seg[:, 15:45, 20:50] = (214, 160, 128)  # the hand, there all segment
    cfg = occlusion.OcclusionConfig()
    skin_ok = np.zeros((h, w), bool)
    masks = occlusion.segment_masks(seg, prev, cfg, skin_ok=skin_ok)
    clean, _ = occlusion.clean_segment(seg, prev, cfg, masks=masks)
    stale = masks.all(0)
    assert stale[25:35, 30:40].all() and np.abs(clean[30, 35].astype(int) - 240).max() < 5
    nxt = np.repeat(prev[None], 30, axis=0).copy()
    nxt[:, 20:40, 25:45] = (40, 80, 160)  # the paint that was under it
    nxt[:4, 15:45, 20:50] = (214, 160, 128)  # the hand leaves after four samples
    nmasks = occlusion.segment_masks(nxt, clean, cfg, skin_ok=skin_ok)
    filled, still = occlusion.fill_from_next(clean, stale, nxt, nmasks)
    assert not still.any()
    assert np.abs(filled[22:38, 27:43].astype(int) - (40, 80, 160)).max() < 5
    assert np.abs(filled[:10].astype(int) - 240).max() < 5  # seen pixels untouched


def test_painting_interval_ignores_single_flash():
    act = np.zeros(60, np.float32)
    act[5] = 0.5  # one flash in the intro
    act[12:40] = 0.05
    first, last = trim.painting_interval(act)
    assert (first, last) == (11, 39)
    with pytest.raises(InputError):
        trim.painting_interval(np.zeros(10, np.float32))


def test_overlay_found_only_where_static_with_structure():
    rng = np.random.default_rng(1)
    n, h, w = 20, 80, 120
    samples = rng.integers(0, 255, (n, 1, 1, 3)).astype(np.uint8) * np.ones((1, h, w, 1), np.uint8)
    samples[:, 60:75, 85:115] = 250
    cv2.putText(samples[0], "TV", (88, 73), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (200, 30, 30), 1)
    samples[:, 60:75, 85:115] = samples[0, 60:75, 85:115]
    samples[:, 5:25, 5:40] = 240  # never painted, flat: not an overlay
    mask = overlays.find_overlays(samples)
    assert mask[62:73, 88:112].mean() > 0.8
    assert not mask[8:22, 8:37].any()
    out = overlays.inpaint(samples[-1], mask)
    assert out.shape == samples[-1].shape


def test_duplicates_and_progress_aware_pick():
    frames = [np.full((20, 20, 3), v, np.uint8) for v in (0, 0, 100, 150, 175, 187, 193, 193)]
    keep = select.drop_duplicates(frames)
    assert keep == [0, 2, 3, 4, 5, 7]
    kept = [frames[i] for i in keep]
    prog = select.progress(kept)
    assert prog[0] == 0 and prog[-1] == 1 and np.all(np.diff(prog) >= 0)
    idx = select.pick(prog, np.arange(len(kept), dtype=float), 3, progress_aware=True)
    assert idx[0] == 0 and idx[-1] == len(kept) - 1 and len(idx) == 3
    assert idx[1] == 1  # half of the change happens in the first step


def test_caption_cleaning_drops_medium_and_style():
    assert clean_caption("An oil painting of a lake at sunset") == "A lake at sunset."
    assert (
        clean_caption("This image shows a woman in a red hat, in the style of Matisse.")
        == "A woman in a red hat."
    )
    assert "watercolor" not in clean_caption("A watercolor sketch of a cat").lower()


def test_shard_and_ids(tmp_path):
    assert parse_shard("1/4") == (1, 4)
    for bad in ("4/4", "x", "1/0"):
        with pytest.raises(InputError):
            parse_shard(bad)
    a, b = tmp_path / "a" / "clip.mp4", tmp_path / "b" / "clip.mp4"
    ids = sample_ids([a, b, tmp_path / "My Video!.mov"])
    assert ids[a] != ids[b] and ids[tmp_path / "My Video!.mov"] == "My-Video"
    lst = tmp_path / "list.txt"
    lst.write_text("# videos\nx.mp4\n\n/abs/y.mp4\n")
    vids, batch = gather_inputs(str(lst))
    assert batch and vids == [tmp_path / "x.mp4", tmp_path.__class__("/abs/y.mp4")]


@pytest.mark.parametrize("medium", ["pencil-mono", "children", "coloring-book"])
def test_weight_free_variants(rgb_image, medium):
    out = make_variant(rgb_image, medium)
    assert out.shape == rgb_image.shape and out.dtype == np.uint8
    if medium == "pencil-mono":
        assert np.all(out[..., 0] == out[..., 1])
    with pytest.raises(InputError):
        make_variant(rgb_image, "photo")


def test_shadow_is_the_canvas_dimmed_not_new_paint():
    from loomis_data.occlusion import shadow_mask

    ref = np.full((4, 4, 3), (200, 150, 100), np.uint8)
    shadow = (ref * 0.6).astype(np.uint8)  # same colour, 40 % darker
    paint = np.full_like(ref, (60, 140, 90))  # darker too, but another colour
    faint = (ref * 0.97).astype(np.uint8)  # compression-level flicker
    got = shadow_mask(np.stack([shadow, paint, faint, ref]), ref, 14)
    assert got[0].all() and not got[1].any() and not got[2].any() and not got[3].any()


def test_inpaint_in_a_crop_equals_full_frame_telea():
    from loomis_data.overlays import inpaint

    img = np.random.default_rng(0).integers(0, 255, (200, 300, 3), dtype=np.uint8)
    m = np.zeros((200, 300), bool)
    m[150:170, 220:280] = True
    m[2:6, 290:299] = True  # a second hole at the border
    want = cv2.inpaint(img, m.astype(np.uint8), 5, cv2.INPAINT_TELEA)
    np.testing.assert_array_equal(inpaint(img, m), want)
