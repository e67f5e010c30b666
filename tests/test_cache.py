"""``loomis-data cache``: frozen-encoder outputs as safetensors shards; resumable, sharded, and
training from the cache equals training with on-the-fly encoding, bit for bit."""

from __future__ import annotations

import pytest
from loomis_data.cli import main as data_main
from loomis_train.features import scan_shards
from safetensors.torch import load_file
from test_train_support import make_dataset, read_metrics, run_training


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
    assert t["s000/prompt_embeds"].shape == (512, 32)  # padded to 512 tokens
    assert t["s000/condition"].shape == (20, 3, 6, 8) and t["s000/latents"].shape == (16, 3, 6, 8)
    assert t["s000/image_embeds"].shape[-1] == 16


def test_training_from_cache_equals_online(dataset, tmp_path):
    out = tmp_path / "c"
    assert cache([dataset, *TINY, "--out", out, "--no-aspect-buckets"]) == 0
    sets = ["train.max_steps=3", "train.save_every=3", "data.aspect_buckets=false"]
    run_training(dataset, tmp_path / "online", sets)
    run_training(dataset, tmp_path / "cached", sets + [f"data.cache={out}"])
    assert read_metrics(tmp_path / "online") == read_metrics(tmp_path / "cached")


def test_cache_mismatch_and_bad_options(dataset, tmp_path, capsys):
    out = tmp_path / "c"
    assert cache([dataset, *TINY, "--out", out, "--no-aspect-buckets"]) == 0
    from loomis_train.cli import main as train_main
    from test_train_support import REPO

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
