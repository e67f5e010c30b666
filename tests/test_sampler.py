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
