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
