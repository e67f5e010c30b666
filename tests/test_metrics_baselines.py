"""The trivial baselines are what they claim: a linear fade is linear (hand values), the blur
reveal sharpens monotonically and ends on the picture; ``compare --baselines`` adds their rows."""

from __future__ import annotations

import json

import numpy as np
import pytest

from loomis.errors import InputError
from loomis.metrics.baselines import BASELINE_NAMES, baselines, blur_reveal, fade


def test_fade_frames_are_hand_values():
    picture = np.full((4, 6, 3), (55, 105, 255), np.uint8)
    frames = fade(picture, (255, 255, 255), frames=5)  # t = 0, .25, .5, .75, 1
    got = [tuple(int(v) for v in f[0, 0]) for f in frames]
    assert got == [(255, 255, 255), (205, 218, 255), (155, 180, 255), (105, 143, 255), (55, 105, 255)]


def test_fade_profile_is_linear_in_pixel_distance(rgb_image):
    frames = fade(rgb_image, (255, 255, 255), frames=9)
    ref = rgb_image.astype(float)
    prof = np.array([np.abs(f.astype(float) - ref).mean() for f in frames])
    want = prof[0] * (1 - np.linspace(0, 1, 9))  # distance falls by the same amount each frame
    np.testing.assert_allclose(prof, want, atol=0.5)  # rounding to uint8 only
    assert prof[-1] == 0


def test_fade_first_starts_from_the_first_frames_mean_colour(rgb_image):
    first = np.zeros_like(rgb_image)
    first[:, : rgb_image.shape[1] // 2] = 200  # mean colour 100 grey
    out = baselines(rgb_image, first, frames=4)
    assert list(out) == list(BASELINE_NAMES)
    assert (out["fade-first"][0] == 100).all() and (out["fade-white"][0] == 255).all()
    for frames in out.values():
        assert len(frames) == 4 and np.array_equal(frames[-1], rgb_image)


def test_blur_reveal_sharpens_monotonically(rgb_image):
    frames = blur_reveal(rgb_image, frames=6)
    ref = rgb_image.astype(float)
    dist = [np.abs(f.astype(float) - ref).mean() for f in frames]
    assert all(a > b for a, b in zip(dist, dist[1:])) and dist[-1] == 0


def test_too_few_frames_is_an_input_error(rgb_image):
    with pytest.raises(InputError):
        fade(rgb_image, (0, 0, 0), frames=1)


def test_compare_with_baselines_adds_their_rows(tmp_path, rgb_image):
    from loomis_eval.cli import main
    from synthetic import reveal_process

    from loomis.io import write_video

    gt = write_video(tmp_path / "gt", reveal_process(rgb_image, 6))
    gen = write_video(tmp_path / "gen", reveal_process(rgb_image, 8))
    out = tmp_path / "o"
    with pytest.raises(SystemExit) as exc:
        main(["compare", str(gt), f"ours={gen}", "--out", str(out), "--closest", "none", "--baselines"])
    assert exc.value.code == 0
    methods = json.loads((out / "results.json").read_text())["methods"]
    assert list(methods) == ["ours", *BASELINE_NAMES]
    # The reveal process is the ground truth's own kind; every baseline is farther from it.
    assert all(methods[b]["pdp_norm"] > methods["ours"]["pdp_norm"] for b in BASELINE_NAMES)
    assert "fade-white" in (out / "table.md").read_text()
