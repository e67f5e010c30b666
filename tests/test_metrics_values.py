"""Every metric against hand-computed numbers (distances, IoU, DTW/DDC, time maps/DTS, Fréchet,
closest-frame pairing), plus the network distances' weight handling (random weights, said so)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from loomis.errors import InputError
from loomis.metrics import distances as D
from loomis.metrics import inverse_painting as IP
from loomis.metrics.closest_frame import closest_frame_scores, frechet_distance, paired_frames


def const(v, h=32, w=32):
    return np.full((h, w, 3), v, np.uint8)


# ---------------------------------------------------------------- weight-free distances
def test_ssim_of_constant_images_is_the_luminance_term():
    x, y = np.full((32, 32), 100.0), np.full((32, 32), 50.0)
    ssim, cs = D.ssim_terms(x, y)
    lum = (2 * 100 * 50 + D._C1) / (100**2 + 50**2 + D._C1)
    assert cs == pytest.approx(1.0) and ssim == pytest.approx(lum)
    # 32 px -> 3 scales (32, 16, 8); cs = 1 at every scale so MS-SSIM = lum ** (w3 / sum w1..3)
    w = D.MSSSIM_WEIGHTS[:3] / D.MSSSIM_WEIGHTS[:3].sum()
    assert D.ms_ssim(x, y) == pytest.approx(lum ** w[2])
    assert D.get_distance("ms-ssim")(const(100), const(100)) == pytest.approx(0.0, abs=1e-12)


def test_ms_ssim_sees_structure():
    rng = np.random.RandomState(0)
    img = rng.randint(0, 255, (64, 64, 3)).astype(np.uint8)
    blurred = np.repeat(np.full((64, 64, 1), img.mean()), 3, 2).astype(np.uint8)
    assert D.get_distance("ms-ssim")(blurred, img) > 0.5


def test_delta_e_hand_values():
    # black vs white: L 0 vs 100, a = b = 0 -> ΔE 100 -> 1.0 (capped scale)
    assert D.get_distance("delta-e")(const(0), const(255)) == pytest.approx(1.0, abs=1e-3)
    # grey 119 has L ≈ 50 (sRGB): ΔE to black ≈ 50 -> 0.5
    assert D.get_distance("delta-e")(const(119), const(0)) == pytest.approx(0.50, abs=0.01)


def test_default_is_mean_of_parts():
    a, b = const(30), const(200)
    parts = [D.get_distance(n)(a, b) for n in ("ms-ssim", "delta-e")]
    assert D.get_distance()(a, b) == pytest.approx(np.mean(parts))


# ---------------------------------------------------------------- Inverse Painting metrics
def test_difference_mask_threshold_and_iou():
    ref = const(0, 2, 2)
    f = ref.copy()
    f[0, 0] = 52  # 52/255 = 0.204 > 0.2
    f[0, 1] = 50  # 0.196 < 0.2
    np.testing.assert_array_equal(IP.difference_mask(f, ref), [[True, False], [False, False]])
    a = np.array([[1, 1], [0, 0]], bool)
    b = np.array([[1, 0], [1, 0]], bool)
    assert IP.iou(a, b) == pytest.approx(1 / 3)
    assert IP.iou(np.zeros((2, 2), bool), np.zeros((2, 2), bool)) == 1.0


def test_dtw_hand_computed():
    assert IP.dtw([0, 1, 2], [0, 1, 2]) == (0.0, 3)
    # [0, 0, 1] vs [0, 1]: (0,0) (1,0) (2,1): cost 0, path 3
    assert IP.dtw([0, 0, 1], [0, 1]) == (0.0, 3)
    # [1, 2] vs [1, 3]: diagonal cost |2-3| = 1 over 2 steps
    assert IP.dtw([1, 2], [1, 3]) == (1.0, 2)
    assert IP.ddc([1, 2], [1, 3]) == 0.5


def test_time_map_and_dts():
    ref = const(200, 1, 3)
    # pixel 0 right from the start; pixel 1 right from frame 1; pixel 2 only at frame 2 (last)
    f0 = np.array([[[200] * 3, [0] * 3, [0] * 3]], np.uint8)
    f1 = np.array([[[200] * 3, [200] * 3, [0] * 3]], np.uint8)
    f2 = ref.copy()
    t = np.array([0.0, 0.25, 1.0])
    np.testing.assert_allclose(IP.time_map([f0, f1, f2], ref, t), [[0.0, 0.25, 1.0]])
    # a pixel that is right, goes wrong, and comes back arrives at the return
    np.testing.assert_allclose(IP.time_map([f2, f0, f2], ref, t), [[0.0, 1.0, 1.0]])


def test_inverse_painting_scores_hand_case():
    w = 4
    ref = const(255, 4, w)
    # gt paints column by column over 5 frames: frame k has k columns done (0 elsewhere)
    gt = []
    for k in range(w + 1):
        f = const(0, 4, w)
        f[:, :k] = 255
        gt.append(f)
    gen = [gt[0], gt[4]]  # jumps from blank to finished
    s = IP.inverse_painting_scores(gen, gt, distance=D.get_distance("delta-e"), reference=ref)
    # aligned: gt times 0,.25,.5,.75,1 -> gen index 0,0,0(tie->earlier),1,1
    d = [k / w for k in (0, 1, 2)] + [1 - 3 / 4, 0]  # ΔE/100 of the aligned pairs (black/white = 1)
    assert s.aligned_distance == pytest.approx(np.mean(d), abs=0.01)
    # masks: gen blank (all wrong) vs gt k columns done: IoU = (w-k)/w, then 1 (0 vs ...), both empty
    ious = [1.0, 0.75, 0.5, 0.0, 1.0]  # k=3 aligned to gen[1] (empty) vs 1 wrong column -> 0
    assert s.iou == pytest.approx(np.mean(ious))
    # time maps: gen all 1.0 (arrive at its last frame); gt column c arrives at (c+1)/4
    np.testing.assert_allclose(s.time_map_gt[0], [0.25, 0.5, 0.75, 1.0])
    assert s.dts == pytest.approx(np.mean([0.75, 0.5, 0.25, 0.0]))
    # distance curves ≈ gen [1, 0], gt [1, .75, .5, .25, 0]: the best warping keeps gen[0] for
    # gt .75 (cost .25) and .5 (.5), gen[1] for .25 (.25) and 0: total 1.0 over 5 steps
    assert IP.dtw([1, 0], [1, 0.75, 0.5, 0.25, 0]) == (pytest.approx(1.0), 5)
    assert s.ddc == pytest.approx(0.2, abs=0.01)


# ---------------------------------------------------------------- closest frame and Fréchet
def test_frechet_distance_one_dimensional():
    a = np.array([[0.0], [2.0]])  # mean 1, var 2 (ddof 1)
    b = np.array([[4.0], [4.0], [4.0]])  # mean 4, var 0
    assert frechet_distance(a, b) == pytest.approx(9 + 2)  # (1-4)^2 + (sqrt2 - 0)^2
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    two = np.array([[0.0, 0.0], [2.0, 2.0], [4.0, 0.0]])
    assert frechet_distance(two, two + [1.0, 0.0]) == pytest.approx(1.0, abs=1e-6)


def test_closest_frame_pairs_by_progress_and_skips_missing_weights():
    gt = [const(v) for v in (0, 100, 200)]
    gen = [const(v) for v in (0, 50, 100, 150, 200)]
    pairs = paired_frames(gen, gt)  # gen t = 0,.25,.5,.75,1 -> gt 0, 0(tie), 1, 1(tie), 2
    assert [int(p[0, 0, 0]) for p in pairs] == [0, 0, 100, 100, 200]
    dist = D.get_distance("delta-e")
    got = closest_frame_scores(
        gen, gt, metrics=("lpips",), backbones={"lpips": InputError("no weights here")}
    )
    assert got["lpips"] is None and "no weights" in got["skipped"]["lpips"]
    expected = np.mean([D.get_distance()(g, p) for g, p in zip(gen, pairs)])
    assert got["msssim-deltae"] == pytest.approx(expected)
    assert dist(gen[1], pairs[1]) > 0


# ---------------------------------------------------------------- networks: refusal and random weights
def test_networks_refuse_without_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    for var in ("LOOMIS_LPIPS_ALEXNET", "LOOMIS_CLIP_WEIGHTS", "LOOMIS_DINOV2", "LOOMIS_INCEPTION"):
        monkeypatch.delenv(var, raising=False)
    for name in ("lpips", "clip", "dinov2"):
        with pytest.raises(InputError, match="weights not found"):
            D.get_distance(name)
    monkeypatch.setenv("LOOMIS_LPIPS_ALEXNET", str(tmp_path / "missing.pth"))
    with pytest.raises(InputError, match="does not exist"):
        D.get_distance("lpips")


def test_lpips_random_backbone_is_labelled_and_loads_a_backbone_file(tmp_path):
    """RANDOM weights (no real AlexNet here): checks plumbing only, never the metric's values."""
    import torch

    from loomis.compat import ensure_torchvision

    ensure_torchvision()
    from torchvision.models import alexnet

    rand = D.get_distance("lpips", allow_random=True)
    assert "random" in rand.name
    a, b = const(10), const(240)
    assert rand(a, a) == pytest.approx(0.0, abs=1e-6) and rand(a, b) > 0
    net = alexnet(weights=None)
    torch.save(net.state_dict(), tmp_path / "alex.pth")
    loaded = D.get_distance("lpips", weights=str(tmp_path / "alex.pth"))
    assert loaded.name == "lpips-alex"
    torch.testing.assert_close(loaded.model.net.slice1[0].weight, net.features[0].weight)


def test_dinov2_random_tiny_embedding_distance():
    """RANDOM tiny DINOv2 (no weights here): cosine distance plumbing only."""
    d = D.get_distance("dinov2", allow_random=True)
    assert "random" in d.name
    a, b = const(10), const(240)
    out = d.to_reference([a, b], a)
    assert out[0] == pytest.approx(0.0, abs=1e-6) and math.isfinite(out[1])
    assert d.embed([a, b]).shape[0] == 2
