"""The reverse → forward flip and letterboxing, on a stand-in pipeline whose output order is known."""

from types import SimpleNamespace

import numpy as np
import pytest

from loomis.errors import InputError
from loomis.sampler import SampleConfig, paint_with_pipeline, prepare_condition, to_painting_order
from loomis.wan import LoraSpec


class KnownOrderPipeline:
    """Returns frame i filled with i/100 (Wan's order: frame 0 = the finished picture), and records
    what it was called with."""

    def __init__(self):
        self.calls = []

    def set_progress_bar_config(self, **kw):
        self.progress_cfg = kw

    def __call__(
        self, image, height, width, num_frames, callback_on_step_end=None, num_inference_steps=1, **kw
    ):
        self.calls.append(dict(image=image, height=height, width=width, num_frames=num_frames, **kw))
        for step in range(num_inference_steps):
            callback_on_step_end(self, step, 0, {})
        frames = np.stack([np.full((height, width, 3), i / 100.0, np.float32) for i in range(num_frames)])
        return SimpleNamespace(frames=frames[None])


def test_flip_to_painting_order_and_crop_pad():
    pipe = KnownOrderPipeline()
    image = np.zeros((50, 100, 3), np.uint8)  # 2:1, will be letterboxed into a 64x48 canvas
    seen = []
    frames = paint_with_pipeline(
        pipe,
        image,
        "p",
        SampleConfig(frames=9, steps=3, size=(64, 48)),
        progress=lambda d, t: seen.append((d, t)),
    )
    call = pipe.calls[0]
    assert (call["width"], call["height"], call["num_frames"]) == (64, 48, 9)
    assert call["image"].size == (64, 48)
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert pipe.progress_cfg == {"disable": True}
    assert len(frames) == 9
    # painting order: the model's last frame (blank canvas) comes first
    values = [int(f[0, 0, 0]) for f in frames]
    assert values == [round(i / 100 * 255) for i in range(8, -1, -1)]
    # pad cropped: 100x50 fits 64x32 inside 64x48
    assert frames[0].shape == (32, 64, 3)


def test_condition_canvas_keeps_content_centered():
    image = np.zeros((50, 100, 3), np.uint8)
    canvas, box = prepare_condition(image, (64, 48))
    assert canvas.shape == (48, 64, 3) and (box.x, box.y, box.w, box.h) == (0, 8, 64, 32)
    assert (canvas[:8] == 255).all() and (canvas[8:40] == 0).all()


def test_to_painting_order_uint8_passthrough():
    frames = [np.full((2, 2, 3), v, np.uint8) for v in (10, 20, 30)]
    out = to_painting_order(frames, prepare_condition(np.zeros((2, 2, 3), np.uint8), (16, 16))[1])
    assert [int(f[0, 0, 0]) for f in out] == [30, 20, 10]


@pytest.mark.parametrize(
    "cfg,msg",
    [
        (SampleConfig(frames=48), "4k"),
        (SampleConfig(steps=0), "steps"),
        (SampleConfig(guidance=-1), "guidance"),
    ],
)
def test_sample_config_validation(cfg, msg):
    with pytest.raises(InputError, match=msg):
        cfg.validate()


def test_lora_spec_parse():
    assert LoraSpec.parse("a/b.safetensors").weight == 1.0
    s = LoraSpec.parse("a/b.safetensors:0.5")
    assert str(s.path) == "a/b.safetensors" and s.weight == 0.5
    assert LoraSpec.parse("c:\\x.safetensors:-1").weight == -1.0


# --------------------------------------------------------------------------------------------
# resolve_sampling: one place, one precedence
# --------------------------------------------------------------------------------------------
def _medium(**sampler):
    from dataclasses import replace
    from types import MappingProxyType

    from loomis.mediums import get_medium

    return replace(get_medium("oil"), sampler=MappingProxyType(sampler))


def test_spec_defaults_then_medium_then_preset_then_flags():
    from loomis.sampler import resolve_sampling
    from loomis.specs import SPECS

    big, tiny = SPECS["wan2.1-i2v-14b-480p"], SPECS["tiny"]
    s = resolve_sampling(big, _medium())
    assert (s.frames, s.steps, s.guidance, s.fps, s.scheduler, s.shift) == (81, 40, 5.0, 16.0, "unipc", 3.0)
    assert s.area == 832 * 480 and s.size is None
    t = resolve_sampling(tiny, _medium())
    assert (t.frames, t.area) == (9, 64 * 48)  # the tiny spec's own defaults, no special case
    m = resolve_sampling(big, _medium(steps=30, fps=12.0))
    assert (m.steps, m.fps, m.guidance) == (30, 12.0, 5.0)
    p = resolve_sampling(big, _medium(steps=30, fps=12.0), preset="fast")
    assert (p.steps, p.guidance, p.scheduler, p.shift, p.fps) == (4, 1.0, "euler", 5.0, 12.0)
    f = resolve_sampling(big, _medium(steps=30), preset="fast", steps=6, shift=None, scheduler="unipc")
    assert (f.steps, f.shift, f.scheduler) == (6, 5.0, "unipc")  # None leaves the lower layer's value


def test_every_medium_row_resolves_and_unknown_preset_is_an_error():
    from loomis.mediums import registry
    from loomis.sampler import resolve_sampling

    for medium in registry().values():
        assert resolve_sampling(None, medium).frames == 81  # no spec (a hub id): the 480p defaults
    with pytest.raises(InputError, match="unknown preset 'turbo'; presets: fast"):
        resolve_sampling(None, None, preset="turbo")


@pytest.mark.parametrize(
    "over,msg",
    [
        ({"fps": 0.0}, "fps must be a finite number > 0"),
        ({"guidance": float("nan")}, "guidance must be a finite number >= 0"),
        ({"shift": float("inf")}, "shift must be"),
        ({"scheduler": "ddim"}, "unknown scheduler 'ddim'"),
    ],
)
def test_resolved_values_are_checked(over, msg):
    from loomis.sampler import resolve_sampling

    with pytest.raises(InputError, match=msg):
        resolve_sampling(None, None, **over)


def test_canvas_follows_the_spec_area_and_the_image_aspect():
    w, h = SampleConfig(area=832 * 480).canvas_size((1000, 500))
    assert w % 16 == 0 and h % 16 == 0 and abs(w / h - 2.0) < 0.1 and abs(w * h / (832 * 480) - 1) < 0.1
    assert SampleConfig(area=832 * 480, size="160x96").canvas_size((1000, 500)) == (160, 96)


def test_the_720p_spec_samples_with_shift_5(tiny_pipe):
    """A 720p spec samples with shift 5.0: read back from the scheduler the pipeline ran with,
    and its sigmas are the unshifted ones mapped by shift*s / (1 + (shift-1)*s)."""
    from dataclasses import replace

    from loomis.sampler import resolve_sampling
    from loomis.schedulers import make_scheduler
    from loomis.specs import SPECS

    assert resolve_sampling(SPECS["wan2.1-i2v-14b-480p"], None).shift == 3.0
    shift = 5.0
    cfg = replace(resolve_sampling(SPECS["wan2.1-i2v-14b-720p"], None), frames=5, steps=3, size=(32, 32))
    assert cfg.shift == shift
    pipe = tiny_pipe()
    pipe.scheduler = make_scheduler(1.0, "euler")  # whatever the folder held: replaced per call
    paint_with_pipeline(pipe, np.zeros((32, 32, 3), np.uint8), "p", cfg)
    assert type(pipe.scheduler).__name__ == "UniPCMultistepScheduler"
    assert pipe.scheduler.config.flow_shift == shift
    plain = make_scheduler(1.0)
    plain.set_timesteps(3)
    s1 = plain.sigmas[:-1].double()
    expected = shift * s1 / (1 + (shift - 1) * s1)
    assert np.allclose(pipe.scheduler.sigmas[:-1].double().numpy(), expected.numpy(), atol=1e-6)


def test_a_720p_folder_is_told_from_a_480p_one(tmp_path):
    import json

    from loomis.models import resolve_model
    from loomis.specs import SPECS

    for name, shift in (("a", 3.0), ("b", 5.0)):
        d = tmp_path / name
        (d / "transformer").mkdir(parents=True)
        (d / "scheduler").mkdir()
        (d / "model_index.json").write_text("{}")
        (d / "transformer" / "config.json").write_text(
            json.dumps(dict(SPECS["wan2.1-i2v-14b-480p"].transformer))
        )
        (d / "scheduler" / "scheduler_config.json").write_text(json.dumps({"flow_shift": shift}))
    assert resolve_model(str(tmp_path / "a")).spec.name == "wan2.1-i2v-14b-480p"
    assert resolve_model(str(tmp_path / "b")).spec.name == "wan2.1-i2v-14b-720p"
