"""Few-step LoRAs: a synthetic file in the lightx2v / CausVid key format (original Wan names,
lora_down/lora_up with .alpha, bias deltas as .diff_b, a head LoRA, zeroed norm .diff entries)
loads through diffusers' converter, stacks with a painting LoRA, and the fast preset samples 4
Euler steps at shift 5 without guidance. Both LoRAs change the output."""

import json

import numpy as np
import pytest
import torch
from loomis_infer.paint_cli import main
from PIL import Image
from safetensors.torch import save_file

import loomis.lora as L
from loomis.specs import SPECS
from loomis.wan import LoraSpec, WanPainter

_ORIGINAL = {  # original Wan module -> (in, out) at tiny size
    "self_attn.q": (24, 24), "self_attn.k": (24, 24), "self_attn.v": (24, 24), "self_attn.o": (24, 24),
    "cross_attn.q": (24, 24), "cross_attn.k": (24, 24), "cross_attn.v": (24, 24), "cross_attn.o": (24, 24),
    "cross_attn.k_img": (24, 24), "cross_attn.v_img": (24, 24), "ffn.0": (24, 32), "ffn.2": (32, 24),
}  # fmt: skip


def distill_lora(path, rank: int = 8, seed: int = 0):
    """A step-distill LoRA laid out as lightx2v publishes them for Wan 2.1 I2V."""
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for block in range(SPECS["tiny"].transformer["num_layers"]):
        for name, (d_in, d_out) in _ORIGINAL.items():
            key = f"diffusion_model.blocks.{block}.{name}"
            sd[f"{key}.lora_down.weight"] = torch.randn(rank, d_in, generator=g) * 0.5
            sd[f"{key}.lora_up.weight"] = torch.randn(d_out, rank, generator=g) * 0.5
            sd[f"{key}.alpha"] = torch.tensor(float(rank))
            sd[f"{key}.diff_b"] = torch.randn(d_out, generator=g) * 0.1
        sd[f"diffusion_model.blocks.{block}.norm3.diff"] = torch.zeros(24)  # dropped by the converter
    sd["diffusion_model.head.head.lora_down.weight"] = torch.randn(4, 24, generator=g) * 0.5
    sd["diffusion_model.head.head.lora_up.weight"] = torch.randn(64, 4, generator=g) * 0.5
    save_file(sd, str(path))
    return path


def painting_lora(tiny_pipe, path, seed: int = 1):
    pipe = tiny_pipe()
    L.add_lora(pipe.transformer, rank=4, alpha=4.0, adapter_name="p")
    g = torch.Generator().manual_seed(seed)
    for name, p in pipe.transformer.named_parameters():
        if ".lora_" in name:
            p.data = torch.randn(p.shape, generator=g)
    return L.save_lora(path, L.lora_state_dict(pipe.transformer, "p"), L.LoraMetadata(rank=4, alpha=4.0))


def _forward(pipe):
    g = torch.Generator().manual_seed(0)
    x, text, img = (
        torch.randn(1, 36, 2, 4, 4, generator=g),
        torch.randn(1, 512, 32, generator=g),
        torch.randn(1, 17, 16, generator=g),
    )
    with torch.no_grad():
        return pipe.transformer(
            hidden_states=x, timestep=torch.tensor([500.0]), encoder_hidden_states=text,
            encoder_hidden_states_image=img, return_dict=False,
        )[0]  # fmt: skip


def test_distill_format_converts_and_stacks(tiny_pipe, tmp_path):
    distill = distill_lora(tmp_path / "lightx2v.safetensors")
    lora = L.read_lora(distill)
    assert lora.format == "comfyui" and "transformer.proj_out.lora_A.weight" in lora.state_dict
    assert "transformer.blocks.0.attn1.to_q.lora_B.bias" in lora.state_dict  # .diff_b → LoRA bias
    paint = painting_lora(tiny_pipe, tmp_path / "paint.safetensors")
    painter = WanPainter(pipe=tiny_pipe())
    base = _forward(painter.pipe)
    outs = {}
    for name, loras in (
        ("distill", [LoraSpec(distill)]),
        ("paint", [LoraSpec(paint)]),
        ("both", [LoraSpec(distill), LoraSpec(paint)]),
    ):
        painter.set_loras(loras)
        outs[name] = _forward(painter.pipe)
    for a, b in (("distill", "both"), ("paint", "both"), ("distill", "paint")):
        assert (outs[a] - outs[b]).abs().max() > 0.05, (a, b)
    assert (outs["distill"] - base).abs().max() > 0.05 and (outs["paint"] - base).abs().max() > 0.05
    head = painter.pipe.transformer.proj_out
    assert head.lora_B[painter.active[0][0]].bias is not None  # the head LoRA and its bias delta loaded


def test_fast_preset_with_stacked_loras_from_the_cli(tiny_pipe, tmp_path, rgb_image, capsys):
    distill = distill_lora(tmp_path / "lightx2v.safetensors")
    paint = painting_lora(tiny_pipe, tmp_path / "paint.safetensors")
    Image.fromarray(rgb_image).save(tmp_path / "in.png")
    base = [
        str(tmp_path / "in.png"),
        "--model",
        "tiny",
        "--frames",
        "5",
        "--size",
        "32x32",
        "--preset",
        "fast",
    ]
    runs = {"both": ["--lora", str(distill), "--lora", f"{paint}:0.8"], "paint": ["--lora", f"{paint}:0.8"],
            "distill": ["--lora", str(distill)]}  # fmt: skip
    frames = {}
    for name, extra in runs.items():
        with pytest.raises(SystemExit) as exc:
            main(base + extra + ["-o", str(tmp_path / f"{name}.webp")])
        assert exc.value.code == 0, capsys.readouterr().err
        from loomis.io import read_video

        frames[name] = np.stack(read_video(tmp_path / f"{name}.webp").frames).astype(int)
    meta = json.loads((tmp_path / "both.webp.json").read_text())
    s = meta["sampling"]
    assert (s["steps"], s["guidance"], s["scheduler"], s["shift"]) == (4, 1.0, "euler", 5.0)
    assert meta["cache"]["transformer_passes"] == 4  # guidance 1: one pass per step
    assert [x["weight"] for x in meta["loras"]] == [1.0, 0.8] and meta["negative_prompt"] is None
    # sampling is deterministic (a repeat is bit-identical), so any difference is the LoRA's;
    # measured here: mean 0.9 / max 11 levels without the distill LoRA, 1.1 / 7 without the other
    for other in ("paint", "distill"):
        diff = np.abs(frames["both"] - frames[other])
        assert diff.mean() > 0.3 and diff.max() >= 5, other
