"""Config loading and the command line's exit-2 contract (no model is built here)."""

from __future__ import annotations

import pytest
from loomis_train.cli import main
from loomis_train.config import apply_set, build_config, load_config
from train_support import REPO, make_dataset

from loomis.errors import InputError


def run_cli(argv, capsys) -> tuple[int, str]:
    code, _, err = run_cli_out(argv, capsys)
    return code, err


def run_cli_out(argv, capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    captured = capsys.readouterr()
    return exc.value.code, captured.out, captured.err


@pytest.mark.parametrize("name", ["base", "transfer", "tiny"])
def test_shipped_configs_load(name):
    cfg = load_config(REPO / "configs" / f"{name}.yaml", check_paths=False)
    assert (cfg.data.frames - 1) % 4 == 0
    if name == "transfer":
        assert cfg.train.stage == "transfer" and cfg.data.condition == "variants" and cfg.lora.init_from
        assert cfg.lora.rank == 32  # inherited from base.yaml through "extends"
    assert cfg.distributed.deepspeed_config.endswith("zero2.json")


def test_set_overrides_and_types():
    cfg = load_config(
        REPO / "configs/tiny.yaml",
        ["optim.lr=5e-5", "data.size=[96, 64]", "lora.init_from=null"],
        check_paths=False,
    )
    assert cfg.optim.lr == 5e-5 and cfg.data.size == [96, 64] and cfg.lora.init_from is None
    assert build_config(apply_set({}, "optim.warmup_steps=3")).optim.warmup_steps == 3
    with pytest.raises(InputError, match="KEY=VALUE"):
        apply_set({}, "optim.lr")


@pytest.mark.parametrize(
    "sets, expect",
    [
        (["data.framez=9"], "config key data.framez: unknown key"),
        (["optim.lr=fast"], "config key optim.lr: expected a number"),
        (["data.frames=10"], "config key data.frames: 10 is not 4k+1"),
        (["train.max_steps=1.5"], "config key train.max_steps: expected an integer"),
        (["data.resample=random"], "config key data.resample"),
        (["data.size=[50, 48]"], "config key data.size"),
        (["nosection.x=1"], "config key nosection: unknown key"),
        (["train.max_steps=abc"], "config key train.max_steps: expected an integer"),
        (["data.synthetic=1000"], "config key data.synthetic"),
    ],
)
def test_config_errors_exit_2_naming_the_key(tmp_path, capsys, sets, expect):
    data = make_dataset(tmp_path / "d")
    argv = [str(REPO / "configs/tiny.yaml"), "--data", str(data), "--output", str(tmp_path / "o")]
    for s in sets:
        argv += ["--set", s]
    code, err = run_cli(argv, capsys)
    assert code == 2
    assert err.startswith("error: ") and expect in err and err.count("\n") == 1


def test_missing_dataset_and_config(tmp_path, capsys):
    code, err = run_cli([str(REPO / "configs/tiny.yaml"), "--data", str(tmp_path / "nope")], capsys)
    assert code == 2 and "data.path" in err and "not a Loomis dataset" in err
    code, err = run_cli([str(tmp_path / "missing.yaml")], capsys)
    assert code == 2 and "does not exist" in err


def test_print_config_and_launcher_local_rank(capsys):
    code, out, _ = run_cli_out(
        [str(REPO / "configs/tiny.yaml"), "--print-config", "--local_rank=0", "--max-steps", "7"], capsys
    )
    assert code == 0 and "max_steps: 7" in out


def test_help_lists_flags(capsys):
    code, _ = run_cli(["--help"], capsys)
    assert code == 0


def test_config_hash_ignores_bookkeeping():
    a = load_config(REPO / "configs/tiny.yaml", ["train.output=/a"], check_paths=False)
    b = load_config(REPO / "configs/tiny.yaml", ["train.output=/b", "train.keep_last=9"], check_paths=False)
    c = load_config(REPO / "configs/tiny.yaml", ["optim.lr=0.5"], check_paths=False)
    assert a.hash() == b.hash() != c.hash()


def test_bad_set_leaves_an_existing_run_untouched(tmp_path, capsys):
    """``--set train.max_steps=abc`` on an existing run: exit 2, nothing in it changes."""
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text("old\n")
    argv = [str(REPO / "configs/tiny.yaml"), "--output", str(run), "--resume", "--set", "train.max_steps=abc"]
    code, err = run_cli(argv, capsys)
    assert code == 2 and "train.max_steps" in err and (run / "config.yaml").read_text() == "old\n"
    assert sorted(p.name for p in run.rglob("*")) == ["checkpoints", "config.yaml"]


def test_deepspeed_config_policy_and_buckets(tmp_path):
    """Precision modes off whatever the JSON says (the LoRA trains in fp32), "auto" buckets scaled
    to the trainable size, explicit numbers kept."""
    import json

    from loomis_train.distributed import bucket_size, deepspeed_config

    lora_14b = 180_000_000  # rank-32 LoRA on every block Linear of the 14B
    ds = deepspeed_config(str(REPO / "configs/deepspeed/zero2.json"), 1, 2, 1.0, 8, lora_14b)
    z = ds["zero_optimization"]
    assert z["reduce_bucket_size"] == z["allgather_bucket_size"] == 45_000_000 == bucket_size(lora_14b)
    assert ds["bf16"] == {"enabled": False} and ds["fp16"] == {"enabled": False}
    assert ds["train_batch_size"] == 16 and ds["gradient_accumulation_steps"] == 2
    assert bucket_size(1000) == 2**20 and bucket_size(10**10) == 5 * 10**8
    z3 = deepspeed_config(str(REPO / "configs/deepspeed/zero3.json"), 1, 1, 1.0, 2, lora_14b)
    assert z3["zero_optimization"]["stage3_prefetch_bucket_size"] == 45_000_000
    mine = tmp_path / "ds.json"
    mine.write_text(
        json.dumps({"bf16": {"enabled": True}, "zero_optimization": {"stage": 2, "reduce_bucket_size": 7}})
    )
    ds = deepspeed_config(str(mine), 1, 1, 1.0, 1, lora_14b)
    assert ds["bf16"] == {"enabled": False} and ds["zero_optimization"]["reduce_bucket_size"] == 7


def test_no_other_application_imports_the_trainer_and_it_imports_none():
    """Issue 14: clips, buckets and the cache format are core; the data tools and benchmarks reach
    the trainer only as a process (``python -m loomis_train…``), never as an import."""
    import ast

    apps = {"train": "loomis_train", "dataset_tools": "loomis_data", "infer": "loomis_infer",
            "evaluate": "loomis_eval", "studio": "loomis_studio", "bench": None}  # fmt: skip
    found = []
    for folder, own in apps.items():
        for path in (REPO / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module]
                for name in names:
                    top = name.split(".")[0]
                    if (
                        top.startswith("loomis_")
                        and top != own
                        and (folder == "train" or top == "loomis_train")
                    ):
                        found.append(f"{path.relative_to(REPO)} imports {name}")
    assert not found, found
