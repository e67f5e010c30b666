"""Bad input, family by family (issue 15): every case exits 2 with a one-line ``error: …`` that
says what to fix, before any work, and leaves every existing file exactly as it was."""

from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from loomis_data.cli import main as data_main
from loomis_eval.cli import main as eval_main
from loomis_infer.lora_cli import main as lora_main
from loomis_infer.paint_cli import main as paint_main
from loomis_studio.lesson_cli import main as lesson_main
from loomis_train.cli import main as train_main
from PIL import Image

from tests.readonly import readonly_dir

REPO = Path(__file__).resolve().parents[1]
MAINS = {
    "paint": paint_main,
    "lora": lora_main,
    "train": train_main,
    "data": data_main,
    "eval": eval_main,
    "lesson": lesson_main,
}


@pytest.fixture
def world(tmp_path, monkeypatch):
    """An image, an existing output with its sidecar, a dataset, a folder, a file."""
    monkeypatch.chdir(tmp_path)
    for var in ("LOOMIS_MODEL", "LOOMIS_WAN21_I2V_14B_480P", "HF_HUB_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty Hugging Face cache
    Image.fromarray(np.full((24, 32, 3), 120, np.uint8)).save(tmp_path / "img.png")
    (tmp_path / "out.mp4").write_bytes(b"old video")
    (tmp_path / "out.mp4.json").write_text('{"old": true}')
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "dataset.jsonl").write_text("")
    Image.new("RGB", (4000, 200), (90, 120, 150)).save(tmp_path / "strip.png")  # 20:1
    Image.new("RGB", (4000, 20), (90, 120, 150)).save(tmp_path / "thin.png")  # 200:1
    (tmp_path / "folder").mkdir()
    (tmp_path / "afile").write_text("keep")
    return tmp_path


def _snapshot(root: Path) -> dict:
    """Every entry with its bytes and mtime (a folder: its presence; the writability probe
    touches a folder's own mtime, not its content)."""
    return {
        str(p.relative_to(root)): (hashlib.sha1(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        if p.is_file()
        else "dir"
        for p in sorted(root.rglob("*"))
    }


def check_refused(world: Path, capsys, cmd: str, argv: list[str], message: str) -> None:
    argv = [a.format(w=world, repo=REPO) for a in argv]
    before = _snapshot(world)
    with pytest.raises(SystemExit) as exc:
        MAINS[cmd](argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2, err
    lines = err.splitlines()  # loomis-paint may first say which backend it chose
    assert lines[-1].startswith("error: ") and "Traceback" not in err, err
    assert [ln for ln in lines if ln.startswith("error")] == lines[-1:], err  # one line
    assert message in lines[-1], err
    assert _snapshot(world) == before  # nothing written, nothing replaced, no temporaries


NUMBERS = [
    ("paint", ["img.png", "-o", "out.mp4", "--frames", "0"], "--frames: must be from 2 to 1001"),
    ("paint", ["img.png", "-o", "out.mp4", "--frames", "2000000"], "every frame is held in memory"),
    ("paint", ["img.png", "-o", "out.mp4", "--steps", "0"], "--steps: must be from 1 to 1000"),
    ("paint", ["img.png", "-o", "out.mp4", "--steps", "1000000000"], "more steps add time, not detail"),
    ("paint", ["img.png", "-o", "out.mp4", "--fps", "0"], "--fps: must be greater than 0"),
    ("paint", ["img.png", "-o", "out.mp4", "--fps", "-8"], "--fps: must be greater than 0"),
    ("paint", ["img.png", "-o", "out.mp4", "--fps", "inf"], "--fps: must be a finite number"),
    ("paint", ["img.png", "-o", "out.mp4", "--fps", "nan"], "--fps: must be a finite number"),
    ("paint", ["img.png", "-o", "out.mp4", "--guidance", "nan"], "--guidance: must be a finite number"),
    ("paint", ["img.png", "-o", "out.mp4", "--size", "100000x100000"], "each side must be from 16 to 2048"),
    ("paint", ["img.png", "-o", "out.mp4", "--seed", "-1"], "--seed: must be from 0 to 4294967295"),
    ("paint", ["strip.png", "-o", "out.mp4", "--model", "tiny"], "painted at 64x3 px on a 64x48 canvas"),
    ("paint", ["thin.png", "-o", "out.mp4"], "its short side must be at least 16 px"),
    ("eval", ["out.mp4", "out.mp4", "--max-frames", "-1"], "--max-frames: must be from 0 to 100000"),
    ("data", ["synth", "img.png", "--out", "ds", "--frames", "0"], "--frames: must be from 2"),
    ("data", ["synth", "img.png", "--out", "ds", "--per-image", "0"], "--per-image: must be from 1 to 1000"),
    (
        "data",
        ["synth", "img.png", "--out", "ds", "--max-side", "100000"],
        "--max-side: must be from 16 to 2048",
    ),
    ("data", ["curate", "img.png", "--out", "ds", "--medium", "oil", "--sample-fps", "nan"], "finite"),
    (
        "train",
        ["{repo}/configs/tiny.yaml", "--data", "ds", "--max-steps", "0"],
        "--max-steps: must be from 1",
    ),
]


@pytest.mark.parametrize("cmd,argv,message", NUMBERS, ids=[f"{c} " + " ".join(a) for c, a, _ in NUMBERS])
def test_numbers(world, capsys, cmd, argv, message):
    check_refused(world, capsys, cmd, argv, message)


ENVIRONMENT = [
    (["img.png", "-o", "out.mp4", "--device", "tpu9"], "unknown device 'tpu9'; use cpu, cuda or cuda:N"),
    (["img.png", "-o", "out.mp4", "--backend", "wan"], "no model given: pass --model"),
    (["img.png", "-o", "out.mp4", "--model", "wan2.1-i2v-14b-480p"], "set LOOMIS_WAN21_I2V_14B_480P=DIR"),
    (["img.png", "-o", "out.mp4", "--model", "tiny", "--device", "cuda"], "CUDA is not available"),
]


@pytest.mark.parametrize("argv,message", ENVIRONMENT, ids=[" ".join(a[3:]) for a, _ in ENVIRONMENT])
def test_environment(world, capsys, argv, message):
    if "cuda" in argv:
        import torch

        if torch.cuda.is_available():
            pytest.skip("this machine has CUDA")
    check_refused(world, capsys, "paint", argv, message)


def _bomb(path: Path, w: int, h: int) -> None:
    """A valid tiny PNG whose header declares w×h pixels (decompression bomb)."""
    Image.new("RGB", (2, 2)).save(path)
    data = bytearray(path.read_bytes())
    data[16:24] = struct.pack(">II", w, h)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("cmd", ["paint", "synth"])
def test_hostile_files(world, capsys, cmd):
    _bomb(world / "bomb.png", 70000, 70000)
    argv = ["bomb.png", "-o", "out.mp4"] if cmd == "paint" else ["synth", "bomb.png", "--out", "ds"]
    check_refused(world, capsys, "paint" if cmd == "paint" else "data", argv, "megapixel limit")


OUTPUTS = [
    ("lora", ["convert", "img.png", "folder", "--to", "comfyui"], "output folder is an existing folder"),
    ("lora", ["convert", "img.png", "nowhere/x.safetensors", "--to", "comfyui"], "nowhere does not exist"),
    ("lora", ["convert", "img.png", "ro/x.safetensors", "--to", "comfyui"], "not writable"),
    ("data", ["synth", "img.png", "--out", "ro/ds"], "not writable"),
    ("data", ["synth", "img.png", "--out", "afile"], "is an existing file, not a folder"),
    ("train", ["{repo}/configs/tiny.yaml", "--data", "ds", "--output", "ro/run"], "not writable"),
    (
        "train",
        ["{repo}/configs/tiny.yaml", "--data", "ds", "--output", "afile"],
        "existing file, not a folder",
    ),
    ("paint", ["img.png", "-o", "ro/out.mp4"], "not writable"),
    ("paint", ["img.png", "-o", "folder.mp4"], "is an existing folder"),
    ("paint", ["img.png", "img.png", "--batch", "-o", "ro/videos"], "not writable"),
    ("eval", ["compare", "out.mp4", "a=out.mp4", "--out", "afile"], "is an existing file, not a folder"),
    ("lesson", ["out.mp4", "-o", "ro/lesson"], "not writable"),
    ("lesson", ["out.mp4", "-o", "nowhere/lesson"], "nowhere does not exist"),
]


@pytest.mark.parametrize("cmd,argv,message", OUTPUTS, ids=[f"{c} " + " ".join(a) for c, a, _ in OUTPUTS])
def test_output_paths(world, capsys, cmd, argv, message):
    (world / "folder.mp4").mkdir()
    if "folder" in argv and cmd == "lora":
        message = "is an existing folder"
    if any(a.startswith("ro/") for a in argv):
        with readonly_dir(world / "ro"):
            check_refused(world, capsys, cmd, argv, message)
    else:
        check_refused(world, capsys, cmd, argv, message)


MESSAGES = [
    (
        "paint",
        ["img.png", "-o", "out.mp4", "--model", "tiny", "--lora", "x.safetensors:abc"],
        "weight 'abc' is not a number",
    ),
    ("lora", ["inspect", "folder"], "folder is a folder; give a LoRA .safetensors file"),
    ("train", ["folder.yaml"], "is a folder; give a YAML file"),
]


@pytest.mark.parametrize("cmd,argv,message", MESSAGES, ids=[c for c, _, _ in MESSAGES])
def test_misleading_messages_are_fixed(world, capsys, cmd, argv, message):
    (world / "folder.yaml").mkdir()
    check_refused(world, capsys, cmd, argv, message)
    assert "does not exist" not in capsys.readouterr().err


def test_readme_limits_are_the_enforced_ones():
    from loomis import cli

    readme = (REPO / "README.md").read_text()
    for value in (cli.MAX_FRAMES, cli.MAX_STEPS, cli.MAX_SIDE, cli.MIN_SIDE):
        assert str(value) in readme
    contract = (REPO / "docs" / "contract.md").read_text()
    for value in ("2 – 1001", "1 – 1000", "16 – 2048", "≥ 16 px", "100 megapixels"):
        assert value in contract
