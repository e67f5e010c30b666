"""Outputs take the mode the user's umask gives, like any ordinary tool (files 0666 & ~umask,
folders 0777 & ~umask): ``umask 077`` on a shared cluster means private outputs, ``umask 022``
readable ones. Checked through the commands themselves: a video with its sidecar and sheet, a
frame folder, a dataset (folders, frames, index), a LoRA."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
from loomis_data.cli import main as data_main
from loomis_infer.lora_cli import main as lora_main
from loomis_infer.paint_cli import main as paint_main
from PIL import Image


def _run(main, argv):
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in argv])
    assert exc.value.code == 0


def _modes(root):
    return {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in root.rglob("*")}


@pytest.mark.parametrize("umask", [0o077, 0o022])
def test_outputs_follow_the_umask(tmp_path, umask, capsys):
    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 40, 3), np.uint8)).save(src / "i.png")
    out = tmp_path / "out"
    out.mkdir()
    old = os.umask(umask)
    try:
        _run(paint_main, [src / "i.png", "-o", out / "v.mp4", "--sheet", "--frames", "3"])
        _run(paint_main, [src / "i.png", "-o", out / "frames", "--frames", "2"])
        _run(data_main, ["synth", src / "i.png", "--out", out / "ds" / "synth", "--frames", "3"])
        from loomis import lora as L
        from loomis.models import build_transformer
        from loomis.specs import SPECS

        model = build_transformer(SPECS["tiny"])
        L.add_lora(model, rank=1, alpha=1.0)
        L.save_lora(out / "lora.safetensors", L.lora_state_dict(model), L.LoraMetadata(rank=1, alpha=1.0))
        _run(lora_main, ["convert", out / "lora.safetensors", out / "comfy.safetensors", "--to", "comfyui"])
    finally:
        os.umask(old)
    capsys.readouterr()
    modes = _modes(out)
    for name in (
        "v.mp4",
        "v.mp4.json",
        "v.mp4.sheet.png",
        "frames/00000.png",
        "lora.safetensors",
        "comfy.safetensors",
    ):
        assert modes[name] == 0o666 & ~umask, (name, oct(modes[name]))
    assert modes["frames"] == 0o777 & ~umask
    dataset = {k: v for k, v in modes.items() if k.startswith("ds/")}
    assert len(dataset) >= 6  # ds, ds/synth, the index, a sample folder, its frames
    for name, mode in dataset.items():
        is_dir = (out / name).is_dir()
        assert mode == (0o777 if is_dir else 0o666) & ~umask, (name, oct(mode))
