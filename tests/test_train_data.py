"""The clip pipeline: reverse, resample, bucket, pad, batch, variants, bad samples (no model)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from loomis_train.config import DataConfig
from loomis_train.data import BatchPlan
from train_support import make_dataset, painting, process

from loomis.clips import clip_indices, load_clip, load_items
from loomis.dataset import write_sample
from loomis.errors import InputError
from loomis.geometry import resize_and_pad


def test_clip_indices_by_progress_and_time_by_hand():
    progress = [0.0, 0.1, 0.2, 0.9, 1.0]
    # targets 0, .5, 1 -> nearest progress: idx 0, idx 2 (|.2-.5| < |.9-.5|), idx 4; then reversed
    assert clip_indices(progress, None, 3, "progress") == (4, 2, 0)
    times = [0.0, 10.0, 20.0, 30.0, 40.0]
    assert clip_indices(progress, times, 3, "time") == (4, 2, 0)
    times = [0.0, 1.0, 2.0, 3.0, 40.0]  # a long last stretch: evenly in time picks idx 3 for t=20
    assert clip_indices(progress, times, 3, "time") == (4, 3, 0)
    # fewer frames than the clip: frames repeat, ends kept
    idx = clip_indices([0.0, 1.0], None, 5, "progress")
    assert idx[0] == 1 and idx[-1] == 0 and len(idx) == 5


def test_clip_is_reversed_finished_first(tmp_path):
    data = make_dataset(tmp_path / "d", n=1, frames=12)
    cfg = DataConfig(path=str(data), frames=5, size=[64, 48], aspect_buckets=False)
    (item,) = load_items(cfg.path, cfg)
    clip = load_clip(item, cfg)
    assert clip["video"].shape == (3, 5, 48, 64)
    final = painting(0)
    first = ((clip["video"][:, 0].permute(1, 2, 0) + 1) * 127.5).round().to(torch.uint8).numpy()
    assert np.abs(first.astype(int) - final.astype(int)).max() <= 1  # frame 0 = finished painting
    assert torch.all(clip["video"][:, -1] == 1.0)  # last frame = blank (white) canvas
    assert np.array_equal(clip["image"], first)  # the I2V condition is frame 0
    assert clip["prompt"].startswith("Acrylic") or "painting process" in clip["prompt"]


def test_aspect_buckets_and_padding(tmp_path):
    final = painting(3, h=80, w=40)  # portrait
    write_sample(tmp_path / "d", "tall", process(final, 6), medium="oil")
    cfg = DataConfig(path=str(tmp_path / "d"), frames=5, size=[64, 48], aspect_buckets=True)
    (item,) = load_items(cfg.path, cfg)
    assert item.bucket[0] < item.bucket[1]  # a portrait bucket
    clip = load_clip(item, cfg)
    expected, box = resize_and_pad(final, item.bucket)
    got = ((clip["video"][:, 0].permute(1, 2, 0) + 1) * 127.5).round().to(torch.uint8).numpy()
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1
    assert clip["video"].shape[2:] == (item.bucket[1], item.bucket[0])


def test_batch_plan_same_bucket_ranks_and_determinism():
    buckets = [(64, 48)] * 5 + [(48, 64)] * 4
    plans = [BatchPlan(buckets, 2, seed=1, rank=r, world=2) for r in range(2)]
    e0 = [p.epoch(0) for p in plans]
    assert all(len(b) == plans[0].per_rank == 2 for b in e0)
    for batches in e0:
        for b in batches:
            assert len(b) == 2 and len({buckets[i] for i in b}) == 1
    seen = [i for batches in e0 for b in batches for i in b]
    assert len(seen) == len(set(seen))  # ranks get disjoint items
    assert plans[0].epoch(0) == BatchPlan(buckets, 2, seed=1, rank=0, world=2).epoch(0)
    assert plans[0].epoch(0) != plans[0].epoch(1) or plans[0].epoch(0) != plans[0].epoch(2)
    it = plans[0].iterate(0, 1)
    assert next(it)[:2] == (0, 1) and next(it)[:2] == (1, 0)  # resumes mid-epoch, then rolls over
    with pytest.raises(InputError, match="data.batch_size"):
        BatchPlan([(64, 48)] * 3, 4, seed=0)


def test_bad_samples_reported_with_id_and_policy(tmp_path, caplog):
    data = make_dataset(tmp_path / "d", n=2)
    write_sample(data, "weird", process(painting(5), 4), medium="no-such-medium")
    (data / "s001" / "frames" / "00000.png").write_bytes(b"not a png")
    cfg = DataConfig(path=str(data), frames=5, size=[64, 48])
    items = load_items(cfg.path, cfg)
    assert [it.sample.id for it in items] == ["s000"]
    assert "weird" in caplog.text and "s001" in caplog.text
    cfg.on_bad = "error"
    with pytest.raises(InputError, match="weird|s001"):
        load_items(cfg.path, cfg)


def test_variants_condition_and_prompt(tmp_path):
    data = make_dataset(tmp_path / "d", n=2, variants=True)
    cfg = DataConfig(path=str(data), frames=5, size=[64, 48], condition="variants")
    items = load_items(cfg.path, cfg)
    assert [it.key for it in items] == ["s000@pencil", "s001@pencil"]
    clip = load_clip(items[0], cfg)
    grey = json.loads((data / "s000" / "meta.json").read_text())["variants"][0]["path"]
    assert grey == "variants/pencil.png"
    assert np.ptp(clip["image"].astype(int), axis=2).max() == 0  # the grey variant is the condition
    assert "Acrylic" in clip["prompt"] or "acrylic" in clip["prompt"].lower()  # target medium = real process
    # a sample without variants is a reported problem in the transfer stage
    write_sample(data, "novar", process(painting(7), 4), medium="acrylic")
    assert len(load_items(cfg.path, cfg)) == 2


def test_frames_smaller_than_the_training_size_are_upscaled_with_a_warning(tmp_path, caplog):
    write_sample(tmp_path / "d", "small", process(painting(1, h=24, w=32), 6), medium="oil")
    write_sample(tmp_path / "d", "big", process(painting(2, h=96, w=128), 6), medium="oil")
    cfg = DataConfig(path=str(tmp_path / "d"), frames=5, size=[64, 48], aspect_buckets=False)
    with caplog.at_level("WARNING", logger="loomis.clips"):
        assert len(load_items(cfg.path, cfg)) == 2
    (msg,) = [r.getMessage() for r in caplog.records if "upscaled" in r.getMessage()]
    assert "1 sample(s)" in msg and "x2.00" in msg and "(small)" in msg and "--max-size" in msg
    caplog.clear()
    cfg.size = [32, 24]  # now both fit without upscaling
    with caplog.at_level("WARNING", logger="loomis.clips"):
        load_items(cfg.path, cfg)
    assert not [r for r in caplog.records if "upscaled" in r.getMessage()]
