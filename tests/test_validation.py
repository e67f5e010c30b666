"""Validation's explicit inputs: the medium's fps in the written videos, the resolved settings in
the report, and ground truth picked with the training clip indices."""

import json
from dataclasses import replace
from types import MappingProxyType

import numpy as np
from loomis_train.validation import Target, dataset_targets, validate
from synthetic import reveal_process

from loomis.clips import clip_indices
from loomis.dataset import write_sample
from loomis.io import read_video
from loomis.mediums import get_medium
from loomis.sampler import resolve_sampling
from loomis.specs import SPECS


def test_validate_writes_the_mediums_fps_and_the_settings(tiny_pipe, tmp_path, rgb_image):
    medium = replace(get_medium("oil"), sampler=MappingProxyType({"fps": 12.0}))
    pipe = tiny_pipe()
    pipe.transformer.train()

    def settings(t):
        return resolve_sampling(SPECS["tiny"], t.medium, frames=5, steps=1, size=(32, 32))

    report = validate(pipe, [Target("a", rgb_image, medium)], settings, tmp_path / "v", "cpu")
    assert read_video(tmp_path / "v" / "a.mp4").fps == 12.0
    written = json.loads((tmp_path / "v" / "validation.json").read_text())
    assert written == report and report["samples"]["a"]["sampling"]["steps"] == 1
    assert report["samples"]["a"]["prompt"].startswith("An oil painting.") and report["pdp"] is None
    assert pipe.transformer.training  # left as it was found


def test_ground_truth_uses_the_training_clip_indices(tmp_path, rgb_image):
    frames = reveal_process(rgb_image, 12)
    progress = [0.0, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 0.99, 1.0]  # uneven
    meta = {"frames": [{"progress": p, "time": float(i)} for i, p in enumerate(progress)]}
    write_sample(tmp_path / "d", "v1", frames, medium="pencil", split="val", meta=meta)
    (target,) = dataset_targets(tmp_path / "d", "val", 4, 5, "progress")
    expected = list(reversed(clip_indices(progress, list(map(float, range(12))), 5, "progress")))
    assert expected != [round(x) for x in np.linspace(0, 11, 5)]  # not the old even spacing
    assert len(target.truth) == 5 and target.medium.name == "pencil"
    for got, i in zip(target.truth, expected):
        assert np.array_equal(got, frames[i])
    assert np.array_equal(target.image, frames[-1])


def test_validate_takes_the_paint_caches_and_leaves_no_hooks(tiny_pipe, tmp_path, rgb_image):
    from loomis.accel import AccelConfig, StepCache

    pipe, cache = tiny_pipe(), StepCache(AccelConfig(cache="first-block", cache_threshold=0.05))

    def settings(t):
        return resolve_sampling(SPECS["tiny"], t.medium, frames=5, steps=4, size=(32, 32))

    report = validate(
        pipe, [Target("a", rgb_image, get_medium("oil"))], settings, tmp_path, "cpu", cache=cache
    )
    counts = report["samples"]["a"]["cache"]
    assert counts["transformer_passes"] == 8 and counts["computed_passes"] + counts["reused_passes"] == 8
    assert not pipe.transformer.is_cache_enabled  # the training transformer is left as it was
    assert not pipe.transformer.blocks[0].ffn._forward_hooks
