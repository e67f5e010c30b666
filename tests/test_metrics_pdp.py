"""Perceptual Distance Profile against hand-computed profiles."""

from __future__ import annotations

import math

import numpy as np
import pytest

from loomis.errors import InputError
from loomis.metrics import get_distance, pdp
from loomis.metrics.distances import Distance


class MeanAbsDistance(Distance):
    """Mean absolute pixel difference / 255: a distance whose values are trivial to hand-compute."""

    name = "test-mean-abs"

    def features(self, frame):
        return frame.astype(np.float64)

    def compare(self, feats, ref_feat):
        return np.array([np.abs(f - ref_feat).mean() / 255.0 for f in feats])


def grey(v: int, h: int = 8, w: int = 8) -> np.ndarray:
    return np.full((h, w, 3), v, np.uint8)


# Trapezoidal rule on 200 points integrates a quadratic with error (b-a) h^2 / 6 * f''/2 ~ 1e-5.
TOL = 1e-4


def test_identical_linear_profiles_of_different_lengths_score_zero():
    assert pdp.profile_distance([1.0, 0.0], [1.0, 0.5, 0.0], normalize=False) == pytest.approx(0.0, abs=1e-12)
    assert pdp.profile_distance([4.0, 2.0, 0.0], [1.0, 0.0], normalize=True) == pytest.approx(0.0, abs=1e-12)


def test_hand_computed_unnormalised():
    # gen stays at 1, gt goes linearly 1 -> 0: diff = t, sqrt(∫ t^2) = sqrt(1/3).
    assert pdp.profile_distance([1, 1], [1, 0], normalize=False) == pytest.approx(math.sqrt(1 / 3), abs=TOL)
    # constant offset 0.25 over the whole time axis: sqrt(∫ 0.0625) = 0.25, any lengths.
    got = pdp.profile_distance([0.75, 0.5, 0.25], [0.5, 0.25, 0.0], normalize=False)
    assert got == pytest.approx(0.25, abs=1e-9)


def test_hand_computed_with_frame_times():
    # gen reaches 0 at t=0.5 and stays (times 0, 5, 10 s); gt linear. diff = |t - p(t)|:
    # on [0, .5]: p = 1 - 2t, gt = 1 - t -> diff t; on [.5, 1]: diff 1 - t. ∫ = 2 * ∫_0^.5 t^2 = 1/12.
    got = pdp.profile_distance([1, 0, 0], [1, 0], times_gen=[0, 5, 10], normalize=False)
    assert got == pytest.approx(math.sqrt(1 / 12), abs=TOL)
    # unequal spacing given by time stamps instead of frame index changes the answer
    even = pdp.profile_distance([1, 0, 0], [1, 0], normalize=False)
    assert even == pytest.approx(math.sqrt(1 / 12), abs=TOL)
    skew = pdp.profile_distance([1, 0, 0], [1, 0], times_gen=[0, 9, 10], normalize=False)
    # gen = 1 - t/0.9 on [0, .9]: diff = t/0.9 - t = t/9; then 1 - t on [.9, 1]
    exact = (1 / 81) * 0.9**3 / 3 + 0.1**3 / 3
    assert skew == pytest.approx(math.sqrt(exact), abs=TOL)


def test_normalisation_on_and_off():
    gen, gt = [0.6, 0.3, 0.2], [0.8, 0.4]
    # raw: gen piecewise; normalised: gen -> [1, .25, 0], gt -> [1, 0]
    norm = pdp.profile_distance(gen, gt, normalize=True)
    # normalised diff: on [0,.5]: gen = 1 - 1.5 t, gt = 1 - t -> diff .5t ; on [.5,1]: gen = .5 - .5t,
    # gt = 1 - t -> diff .5 - .5t. ∫ = 2 * .25 * (.5^3/3) = 1/48
    assert norm == pytest.approx(math.sqrt(1 / 48), abs=TOL)
    raw = pdp.profile_distance(gen, gt, normalize=False)
    # raw diff: [0,.5]: gen = .6 - .6t, gt = .8 - .4t -> -.2 - .2t ; [.5,1]: gen = .4 - .2t -> -.4 + .2t
    exact = ((0.2 + 0.2 * 0.5) ** 3 - 0.2**3) / (3 * 0.2) + ((0.4 - 0.2 * 0.5) ** 3 - (0.4 - 0.2) ** 3) / (
        3 * 0.2
    )
    assert raw == pytest.approx(math.sqrt(exact), abs=TOL)


def test_constant_profiles():
    np.testing.assert_array_equal(pdp.normalize_profile([0.3, 0.3, 0.3]), [1, 1, 1])
    np.testing.assert_array_equal(pdp.normalize_profile([0.0, 0.0]), [0, 0])
    # never moves away from the blank canvas: normalised ones vs a linear 1 -> 0: sqrt(1/3)
    assert pdp.profile_distance([0.5, 0.5], [1, 0], normalize=True) == pytest.approx(
        math.sqrt(1 / 3), abs=TOL
    )
    # finished from the first frame: zeros vs linear: also sqrt(1/3); raw: 0.5 - (1 - t) = t - .5
    assert pdp.profile_distance([0, 0, 0], [1, 0], normalize=True) == pytest.approx(math.sqrt(1 / 3), abs=TOL)
    assert pdp.profile_distance([0.5, 0.5], [1, 0], normalize=False) == pytest.approx(
        math.sqrt(1 / 12), abs=TOL
    )
    assert pdp.profile_distance([0.2, 0.2], [0.2, 0.2], normalize=True) == 0.0


def test_frames_end_to_end_with_hand_distance():
    gt = [grey(0), grey(51), grey(102)]  # distances to the last: 0.4, 0.2, 0
    gen = [grey(0), grey(102)]  # 0.4, 0
    res = pdp.perceptual_distance_profile(gen, gt, distance=MeanAbsDistance())
    np.testing.assert_allclose(res.raw_gt, [0.4, 0.2, 0.0])
    np.testing.assert_allclose(res.raw_gen, [0.4, 0.0])
    assert res.pdp == pytest.approx(0.0, abs=1e-12) and res.pdp_norm == pytest.approx(0.0, abs=1e-12)
    assert res.distance == 0.0 and res.distance_name == "test-mean-abs"
    # generated ends at 51: distance 0.2; profile [0.4, 0.2] vs [0.4, 0.2, 0] -> raw diff 0.2 t
    res = pdp.perceptual_distance_profile(
        [grey(0), grey(51)], gt, distance=MeanAbsDistance(), normalize=False
    )
    assert res.distance == pytest.approx(0.2)
    assert res.pdp == pytest.approx(0.2 * math.sqrt(1 / 3), abs=TOL)
    assert res.score == res.pdp and len(res.profile_gen) == pdp.SAMPLES
    d = res.to_dict()
    assert {"pdp", "pdp_norm", "distance", "distance_name"} <= set(d)


def test_video_against_itself_scores_zero(rgb_image):
    frames = [(rgb_image * a).astype(np.uint8) for a in (0.0, 0.3, 0.7, 1.0)]
    frames[0][:] = 255  # a white canvas first
    for name in ("msssim-deltae", "ms-ssim", "delta-e"):
        res = pdp.perceptual_distance_profile(frames, frames, distance=name)
        assert res.pdp == 0.0 and res.pdp_norm == 0.0 and res.distance == 0.0
        assert res.distance_name == name
        assert res.raw_gt[0] > res.raw_gt[-1]


def test_mismatched_sizes_are_resized(rgb_image):
    import cv2

    frames = [np.full_like(rgb_image, 255), rgb_image]
    big = [cv2.resize(f, (160, 96), interpolation=cv2.INTER_LINEAR) for f in frames]
    res = pdp.perceptual_distance_profile(big, frames)
    assert res.pdp < 0.05 and res.distance < 0.05


def test_one_frame_is_refused(rgb_image):
    with pytest.raises(InputError, match="at least 2"):
        pdp.perceptual_distance_profile([rgb_image], [rgb_image, rgb_image])


def test_default_distance_is_named_and_weight_free():
    assert get_distance().name == "msssim-deltae"
    with pytest.raises(InputError, match="unknown distance"):
        get_distance("nope")
