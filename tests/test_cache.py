"""``loomis-data cache``: frozen-encoder outputs as safetensors shards; resumable, sharded, compact
(bf16, prompts at their real length, medium and prompt in the header); training from an fp32 cache
equals training with on-the-fly encoding bit for bit, from the bf16 cache within bf16 tolerance,
and needs neither the dataset nor the encoders."""

from __future__ import annotations

import pytest
import torch
from loomis_data.cli import main as data_main
from safetensors.torch import load_file
from train_support import make_dataset, read_metrics, run_training

from loomis.cache import scan_shards
from loomis.errors import InputError


def cache(argv, capsys=None) -> int:
    with pytest.raises(SystemExit) as exc:
        data_main(["cache", *map(str, argv)])
    return exc.value.code


TINY = ["--model", "tiny", "--frames", "9", "--size", "64x48", "--encoder-dtype", "float32"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("cdata"), n=3, variants=True)


def test_cache_is_resumable_and_sharded(dataset, tmp_path):
    out = tmp_path / "c"
    assert cache([dataset, *TINY, "--out", out, "--rank", 1, "--world", 2, "--shard-size", 1]) == 0
    part = scan_shards(out)
    assert sorted(part) == ["s001"]  # rank 1 of 2 takes every second item (sorted by key)
    assert cache([dataset, *TINY, "--out", out, "--variants", "--shard-size", 2]) == 0
    full = scan_shards(out)
    assert sorted(full) == ["s000", "s000@pencil", "s001", "s001@pencil", "s002", "s002@pencil"]
    assert full["s001"]["shard"] == part["s001"]["shard"]  # kept, not recomputed
    shards = sorted(p.name for p in out.glob("shard-*.safetensors"))
    assert cache([dataset, *TINY, "--out", out, "--variants"]) == 0  # nothing left to do
    assert sorted(p.name for p in out.glob("shard-*.safetensors")) == shards
    t = load_file(str(full["s000"]["shard"]))
    entry = full["s000"]
    from loomis.mediums import build_prompt
    from loomis.models import build_tiny_components

    tokens = len(build_tiny_components(0)["tokenizer"](entry["prompt"]).input_ids)
    assert entry["medium"] == "acrylic" and entry["prompt"] == build_prompt("acrylic", "picture 0")
    assert t["s000/prompt_embeds"].shape == (tokens, 32) == (entry["tokens"], 32)  # real length
    assert t["s000/condition"].shape == (20, 3, 6, 8) and t["s000/latents"].shape == (16, 3, 6, 8)
    assert t["s000/image_embeds"].shape[-1] == 16
    assert {v.dtype for v in t.values()} == {torch.bfloat16}


def test_cache_bytes_per_item_old_and_new():
    """Format 2 (bf16, real-length prompt) vs format 1 (fp32, padded to 512) at 81 frames, 480p."""
    from loomis.cache import item_bytes

    lat = 16 * 21 * 60 * 104  # 2,096,640 latent values; the condition has 20 channels
    assert item_bytes(81, 832, 480, 100, 4, padded=True) == (lat * 36 // 16 + 512 * 4096 + 257 * 1280) * 4
    assert abs(item_bytes(81, 832, 480, 100, 4, padded=True) / 1e6 - 28.57) < 0.01  # the 28.6 MB
    new = item_bytes(81, 832, 480, 100)
    assert new <= 12e6 and abs(new / 1e6 - 10.91) < 0.01
    # the target holds for prompts up to 230 umT5 tokens (Loomis prompts: medium words + a caption)
    assert item_bytes(81, 832, 480, 230) <= 12e6 < item_bytes(81, 832, 480, 240)


def test_old_format_cache_is_refused(dataset, tmp_path, capsys):
    import json

    out = tmp_path / "c"
    assert cache([dataset, *TINY, "--out", out, "--no-aspect-buckets"]) == 0
    manifest = json.loads((out / "cache.json").read_text())
    (out / "cache.json").write_text(json.dumps({**manifest, "version": 1}))
    with pytest.raises(InputError, match="format 1.*rebuild it"):
        run_training(dataset, tmp_path / "r", [f"data.cache={out}", "data.aspect_buckets=false"])


def test_training_from_cache_equals_online(dataset, tmp_path, capsys):
    """fp32 cache: bit-identical to on-the-fly encoding; bf16 cache (the default): the same loss
    curve within bf16 rounding of the inputs; and training from the cache reads no dataset."""
    sets = ["train.max_steps=3", "train.save_every=3", "data.aspect_buckets=false"]
    for dtype in ("float32", "bfloat16"):
        assert (
            cache([dataset, *TINY, "--out", tmp_path / dtype, "--dtype", dtype, "--no-aspect-buckets"]) == 0
        )
    run_training(dataset, tmp_path / "online", sets)
    run_training(dataset, tmp_path / "fp32", sets + [f"data.cache={tmp_path / 'float32'}"])
    assert read_metrics(tmp_path / "online") == read_metrics(tmp_path / "fp32")
    # no dataset at all: cut its index away (the cache carries medium and prompt)
    index = dataset / "dataset.jsonl"
    index.rename(dataset / "moved.jsonl")
    try:
        trainer, _ = run_training(None, tmp_path / "bf16", sets + [f"data.cache={tmp_path / 'bfloat16'}"])
    finally:
        (dataset / "moved.jsonl").rename(index)
    assert trainer.mediums == ["acrylic"] and not hasattr(trainer.features, "comps")
    fp32 = [m["loss"] for m in read_metrics(tmp_path / "fp32")]
    bf16 = [m["loss"] for m in read_metrics(tmp_path / "bf16")]
    # bf16 keeps 8 bits of mantissa (relative error <= 2^-9 per input); measured: 3.8e-5
    print(
        f"bf16 vs fp32 cache: max relative loss difference {max(abs(a - b) / a for a, b in zip(fp32, bf16)):.2e}"
    )
    assert max(abs(a - b) / a for a, b in zip(fp32, bf16)) < 1e-3, (fp32, bf16)


def test_cache_mismatch_and_bad_options(dataset, tmp_path, capsys):
    out = tmp_path / "c"
    assert cache([dataset, *TINY, "--out", out, "--no-aspect-buckets"]) == 0
    from loomis_train.cli import main as train_main
    from train_support import REPO

    with pytest.raises(SystemExit) as exc:
        train_main(
            [
                str(REPO / "configs/tiny.yaml"),
                "--data",
                str(dataset),
                "--output",
                str(tmp_path / "r"),
                "--set",
                f"data.cache={out}",
                "--set",
                "data.frames=13",
                "--set",
                "logging.tensorboard=false",
            ]
        )
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "config key data.frames" in err and "rebuild the cache" in err
    assert cache([dataset, "--model", "tiny", "--frames", "10"]) == 2
    assert "frames must be 4k+1" in capsys.readouterr().err
