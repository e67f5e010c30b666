"""Step caches on the tiny pipeline: the run record's computed/reused counts equal the decisions
the diffusers hooks made (recorded independently by wrapping the hooks' own decision functions),
cache off is bit-identical to the plain pipeline call, and a conservative FirstBlockCache stays
within a stated tolerance of the uncached frames (on the tiny random-weight model)."""

import json

import numpy as np
import pytest

from loomis.accel import AccelConfig
from loomis.models import build_tiny_pipeline
from loomis.sampler import SampleConfig, paint_with_pipeline
from loomis.wan import WanPainter

CFG = SampleConfig(frames=5, steps=6, size=(32, 32))  # guidance 5: a cond and an uncond pass per step
PASSES = CFG.steps * 2


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def plain(image):
    """Today's output: the pipeline called with no cache object at all."""
    return np.stack(paint_with_pipeline(build_tiny_pipeline(0), image, "p", CFG)).astype(int)


def _paint(accel: AccelConfig, image) -> tuple[np.ndarray, dict]:
    painter = WanPainter(pipe=build_tiny_pipeline(0), accel=accel)
    frames = np.stack(painter.paint(image, "p", CFG)).astype(int)
    return frames, painter.cache.last


def test_cache_off_is_bit_identical_and_counts_every_pass(image, plain):
    frames, last = _paint(AccelConfig(), image)
    assert np.array_equal(frames, plain)
    assert last["transformer_passes"] == last["computed_passes"] == PASSES and last["reused_passes"] == 0
    assert last["block_runs"] == last["block_slots"] == PASSES * 2  # tiny: 2 blocks


def _record(monkeypatch, cls, name, decide):
    """Wrap a hook method; ``decide(self, result)`` → True (computed) / False (reused) / None."""
    seen = []
    original = getattr(cls, name)

    def wrapped(self, *a, **k):
        out = original(self, *a, **k)
        verdict = decide(self, out)
        if verdict is not None:
            seen.append(verdict)
        return out

    monkeypatch.setattr(cls, name, wrapped)
    return seen


def test_first_block_counts_are_the_hooks_decisions(image, monkeypatch):
    from diffusers.hooks.first_block_cache import FBCHeadBlockHook

    seen = _record(
        monkeypatch, FBCHeadBlockHook, "_should_compute_remaining_blocks", lambda s, out: bool(out)
    )
    _, last = _paint(AccelConfig(cache="first-block", cache_threshold=0.05), image)
    assert len(seen) == PASSES
    assert (last["computed_passes"], last["reused_passes"]) == (sum(seen), PASSES - sum(seen))
    assert last["reused_passes"] > 0
    # a reused pass still runs the head block: block runs = computed x 2 + reused x 1
    assert last["block_runs"] == 2 * last["computed_passes"] + last["reused_passes"]


def test_taylorseer_follows_its_schedule(image, monkeypatch):
    from diffusers.hooks.taylorseer_cache import TaylorSeerCacheHook

    seen = _record(
        monkeypatch,
        TaylorSeerCacheHook,
        "_measure_should_compute",
        lambda s, out: None if out[1].is_inactive else bool(out[0]),  # proj_out's decision per pass
    )
    _, last = _paint(AccelConfig(cache="taylorseer", cache_threshold=2), image)
    # per context (cond, uncond): step i computes when i < 3 or (i - 3 - 1) % 2 == 0
    by_hand = [i < 3 or (i - 4) % 2 == 0 for i in range(CFG.steps)]
    assert sorted(seen) == sorted(by_hand * 2) and last["computed_passes"] == 2 * sum(by_hand) == sum(seen)
    assert last["reused_passes"] == PASSES - last["computed_passes"] > 0


def test_magcache_calibrates_then_reuses_as_decided(image, monkeypatch):
    from diffusers.hooks.mag_cache import MagCacheHeadHook

    painter = WanPainter(pipe=build_tiny_pipeline(0), accel=AccelConfig(cache="magcache"))
    painter.paint(image, "p", CFG)
    calibration = painter.cache.last
    assert calibration["reused_passes"] == 0 and len(calibration["mag_ratios"]) == CFG.steps
    assert calibration["mag_ratios"][0] == 1.0
    seen = _record(
        monkeypatch,
        MagCacheHeadHook,
        "new_forward",
        lambda s, out: s.state_manager.get_state().should_compute,
    )
    ratios = tuple(calibration["mag_ratios"])
    _, last = _paint(AccelConfig(cache="magcache", cache_ratios=ratios, cache_threshold=0.06), image)
    assert len(seen) == PASSES and last["computed_passes"] == sum(seen) and last["reused_passes"] > 0


def test_text_kv_cache_is_lossless(image, plain):
    frames, last = _paint(AccelConfig(cache="text-kv"), image)
    assert np.abs(frames - plain).max() <= 1 and last["computed_passes"] == PASSES


def test_conservative_first_block_within_tolerance(image, plain):
    """Stated tolerance at threshold 0.05 on the tiny model: at most 2 levels anywhere, 0.05 on
    average (measured: max 1, mean 0.001 with 14 of 20 passes reused at 10 steps)."""
    frames, last = _paint(AccelConfig(cache="first-block", cache_threshold=0.05), image)
    diff = np.abs(frames - plain)
    assert last["reused_passes"] > 0 and diff.max() <= 2 and diff.mean() <= 0.05


def test_cli_records_counts_and_reuses_calibrated_ratios(tmp_path, rgb_image, capsys):
    from loomis_infer.paint_cli import main
    from PIL import Image

    Image.fromarray(rgb_image).save(tmp_path / "in.png")
    base = [str(tmp_path / "in.png"), "--model", "tiny", "--frames", "5", "--steps", "4", "--size", "32x32"]
    for extra, out in (
        (["--cache", "magcache"], "cal.mp4"),
        (["--cache", "magcache", "--cache-ratios", str(tmp_path / "cal.mp4.json")], "fast.mp4"),
    ):
        with pytest.raises(SystemExit) as exc:
            main(base + extra + ["-o", str(tmp_path / out)])
        assert exc.value.code == 0, capsys.readouterr().err
    cal = json.loads((tmp_path / "cal.mp4.json").read_text())
    fast = json.loads((tmp_path / "fast.mp4.json").read_text())
    assert len(cal["cache"]["mag_ratios"]) == 4 and cal["cache"]["reused_passes"] == 0
    assert fast["cache"]["reused_passes"] > 0 and fast["accel"]["cache_ratios"] == cal["cache"]["mag_ratios"]
    assert (
        fast["cache"]["computed_passes"] + fast["cache"]["reused_passes"]
        == fast["cache"]["transformer_passes"]
        == 8
    )
    assert "MagCache" not in capsys.readouterr().out  # diffusers' print does not reach stdout


@pytest.mark.parametrize(
    "argv,msg",
    [
        (["--cache", "pab"], "invalid choice"),
        (["--cache", "taylorseer", "--cache-threshold", "2.5"], "whole number"),
        (["--cache", "first-block", "--cache-threshold", "nan"], "must be a finite number"),
        (["--cache-ratios", "missing.json", "--cache", "magcache"], "cannot read cache ratios"),
    ],
)
def test_bad_cache_options_exit_2(tmp_path, rgb_image, capsys, argv, msg):
    from loomis_infer.paint_cli import main
    from PIL import Image

    Image.fromarray(rgb_image).save(tmp_path / "in.png")
    with pytest.raises(SystemExit) as exc:
        main([str(tmp_path / "in.png"), "--model", "tiny", "-o", str(tmp_path / "o.mp4")] + argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and msg in err and not (tmp_path / "o.mp4").exists()
