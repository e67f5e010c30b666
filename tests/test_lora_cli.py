"""``loomis-lora`` inspect / convert / check, and a misfit LoRA through ``loomis-paint``."""

import json

import pytest
import torch
from loomis_infer.lora_cli import main as lora_main
from loomis_infer.paint_cli import main as paint_main
from PIL import Image

from loomis import lora as L


def run(main, argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


@pytest.fixture
def tiny_lora(tmp_path):
    """A rank-2 LoRA on every default target of the tiny transformer (random values)."""
    from loomis.models import build_transformer
    from loomis.specs import SPECS

    model = build_transformer(SPECS["tiny"])
    L.add_lora(model, rank=2, alpha=4.0)
    for name, p in model.named_parameters():
        if "lora_" in name:
            p.data.normal_()
    meta = L.LoraMetadata(rank=2, alpha=4.0, base_model="tiny", mediums=["oil"], config_hash="abc")
    return L.save_lora(tmp_path / "t.safetensors", L.lora_state_dict(model), meta)


def test_inspect_json(tiny_lora, capsys):
    code, out, _ = run(lora_main, ["inspect", str(tiny_lora), "--json"], capsys)
    info = json.loads(out)
    assert code == 0 and info["format"] == "diffusers" and info["rank"] == 2 and info["alpha"] == 4.0
    assert info["tensors"] == 2 * 2 * len(L.DEFAULT_TARGETS)  # 2 blocks x A/B x targets
    assert info["metadata"]["mediums"] == ["oil"] and info["metadata"]["config_hash"] == "abc"


def test_convert_then_check_against_tiny_and_14b(tiny_lora, tmp_path, capsys):
    comfy = tmp_path / "c.safetensors"
    assert run(lora_main, ["convert", str(tiny_lora), str(comfy), "--to", "comfyui"], capsys)[0] == 0
    keys = list(L.read_lora(comfy).state_dict)
    assert all(k.startswith("transformer.blocks.") for k in keys)  # read back in native keys
    from safetensors import safe_open

    with safe_open(str(comfy), "pt") as f:
        assert any(k.startswith("diffusion_model.blocks.0.self_attn.q.lora_down") for k in f.keys())
    code, out, _ = run(lora_main, ["check", str(comfy), "--model", "tiny"], capsys)
    assert code == 0 and "fit tiny" in out
    code, _, err = run(lora_main, ["check", str(comfy), "--model", "wan2.1-i2v-14b-480p"], capsys)
    assert code == 2 and "does not fit wan2.1-i2v-14b-480p" in err and "shapes differ" in err
    assert "unmatched keys" not in err  # the keys name real layers: only the model size differs


def test_convert_refuses_non_safetensors_output(tiny_lora, tmp_path, capsys):
    code, _, err = run(
        lora_main, ["convert", str(tiny_lora), str(tmp_path / "x.pt"), "--to", "musubi"], capsys
    )
    assert code == 2 and ".safetensors" in err and not (tmp_path / "x.pt").exists()


def test_paint_refuses_misfit_lora_naming_keys(tmp_path, rgb_image, capsys):
    sd = {
        "transformer.blocks.9.attn1.to_q.lora_A.weight": torch.zeros(2, 24),
        "transformer.blocks.9.attn1.to_q.lora_B.weight": torch.zeros(24, 2),
    }
    bad = L.save_lora(tmp_path / "bad.safetensors", sd, L.LoraMetadata(rank=2, alpha=2))
    Image.fromarray(rgb_image).save(tmp_path / "i.png")
    out = tmp_path / "o.mp4"
    code, _, err = run(
        paint_main,
        [str(tmp_path / "i.png"), "--model", "tiny", "--lora", f"{bad}:0.5", "-o", str(out)],
        capsys,
    )
    assert code == 2 and "unmatched keys" in err and "blocks.9.attn1.to_q" in err
    assert not out.exists()


def test_check_against_a_local_directory(tiny_lora, tmp_path, capsys):
    from loomis.models import save_tiny

    model_dir = save_tiny(tmp_path / "tiny-dir")
    code, out, _ = run(lora_main, ["check", str(tiny_lora), "--model", str(model_dir)], capsys)
    assert code == 0 and "fit" in out
    code, _, err = run(lora_main, ["check", str(tiny_lora), "--model", "owner/not-local"], capsys)
    assert code == 2 and "local Diffusers directory" in err
