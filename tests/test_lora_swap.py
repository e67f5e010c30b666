"""LoRA files through all three key formats, stacking, disable, fuse/unfuse and unload — each
checked against outputs of the tiny model (random weights).

Two levels: the transformer's output on fixed inputs (strong signal; tolerance 1e-5 absolute,
float32 summation order differs between adapters and fused weights) and the sampler's frames (mean
absolute difference below 0.25 levels after a reload, and clearly different from the base model)."""

import numpy as np
import pytest
import torch

from loomis import lora as L
from loomis.sampler import SampleConfig
from loomis.wan import LoraSpec, WanPainter

CFG = SampleConfig(frames=5, steps=2, guidance=1.0, size=(32, 32), seed=3)
PROMPT = "An oil painting. Step by step painting process. A picture."


@pytest.fixture(scope="module")
def image():  # noqa: D103
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)


def _randomise(transformer, adapter, seed, std=1.0):
    g = torch.Generator().manual_seed(seed)
    for name, p in transformer.named_parameters():
        if f"lora_B.{adapter}" in name or f"lora_A.{adapter}" in name:
            p.data = torch.randn(p.shape, generator=g) * std


def _make_lora(tiny_pipe, tmp_path, name, seed, rank=4, alpha=8.0):
    pipe = tiny_pipe()
    L.add_lora(pipe.transformer, rank=rank, alpha=alpha, adapter_name=name)
    _randomise(pipe.transformer, name, seed)
    sd = L.lora_state_dict(pipe.transformer, name)
    path = L.save_lora(
        tmp_path / f"{name}.safetensors", sd, L.LoraMetadata(rank=rank, alpha=alpha, base_model="tiny")
    )
    return pipe, sd, path


def _paint(pipe, image):
    return np.stack(WanPainter(pipe=pipe).paint(image, PROMPT, CFG)).astype(int)


def _forward(pipe):
    """The transformer's velocity prediction on fixed random inputs."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 36, 2, 4, 4, generator=g)
    text = torch.randn(1, 512, 32, generator=g)
    img = torch.randn(1, 17, 16, generator=g)
    with torch.no_grad():
        return pipe.transformer(
            hidden_states=x,
            timestep=torch.tensor([500.0]),
            encoder_hidden_states=text,
            encoder_hidden_states_image=img,
            return_dict=False,
        )[0]


def _close(a, b, tol=1e-5):
    return float((a - b).abs().max()) <= tol


def test_three_formats_match_in_process_adapter(tiny_pipe, tmp_path, image):
    pipe, sd, path = _make_lora(tiny_pipe, tmp_path, "base", seed=1)
    in_process, in_process_px = _forward(pipe), _paint(pipe, image)
    base_pipe = tiny_pipe()
    assert not _close(in_process, _forward(base_pipe), tol=0.1)  # the LoRA really changes the output
    assert np.abs(in_process_px - _paint(base_pipe, image)).max() > 2
    comfy = L.convert_lora(path, tmp_path / "comfy.safetensors", "comfyui")
    musubi = L.convert_lora(comfy, tmp_path / "musubi.safetensors", "musubi")
    back = L.convert_lora(musubi, tmp_path / "back.safetensors", "diffusers")
    assert L.read_lora(comfy).format == "comfyui" and L.read_lora(musubi).format == "musubi"
    for f in (path, comfy, musubi, back):
        painter = WanPainter(pipe=tiny_pipe())
        painter.set_loras([LoraSpec(f)])
        assert _close(_forward(painter.pipe), in_process), f.name
    for f in (comfy,):  # frames too, for the format furthest from native (one sampling run: CPU time)
        painter = WanPainter(pipe=tiny_pipe())
        painter.set_loras([LoraSpec(f)])
        # pixels: the same pipeline run twice already differs by +-1 level here (threaded float32 sums
        # amplified over the sampling steps), so compare the mean
        assert (
            np.abs(np.stack(painter.paint(image, PROMPT, CFG)).astype(int) - in_process_px).mean() < 0.25
        ), f.name


def test_stack_disable_fuse_unload(tiny_pipe, tmp_path):
    _, sd1, p1 = _make_lora(tiny_pipe, tmp_path, "one", seed=1)
    _, sd2, p2 = _make_lora(tiny_pipe, tmp_path, "two", seed=2, rank=2, alpha=2.0)
    base = _forward(tiny_pipe())

    # expected stack: W + 0.7 * (8/4) B1 A1 + 0.5 * (2/2) B2 A2, folded by hand into a fresh model
    manual = tiny_pipe()
    with torch.no_grad():
        for sd, w, scale in ((sd1, 0.7, 2.0), (sd2, 0.5, 1.0)):
            for k in sd:
                if ".lora_A." in k:
                    name = k[len("transformer.") :].split(".lora_A.")[0]
                    mod = manual.transformer.get_submodule(name)
                    mod.weight += w * scale * sd[k.replace("lora_A", "lora_B")] @ sd[k]
    expected = _forward(manual)

    painter = WanPainter(pipe=tiny_pipe())
    painter.set_loras([LoraSpec(p1, 0.7), LoraSpec(p2, 0.5)])
    stacked = _forward(painter.pipe)
    assert _close(stacked, expected) and not _close(stacked, base, tol=0.1)

    painter.set_loras([LoraSpec(p1, 0.7)])  # swap without reloading: one adapter per file
    assert len(painter.adapters) == 2
    assert not _close(_forward(painter.pipe), stacked, tol=0.1)

    painter.disable_loras()
    assert _close(_forward(painter.pipe), base, tol=0)

    painter.set_loras([LoraSpec(p1, 0.7), LoraSpec(p2, 0.5)])
    painter.fuse()
    assert _close(_forward(painter.pipe), stacked)
    painter.unfuse()
    assert _close(_forward(painter.pipe), stacked)
    painter.unload()
    assert _close(_forward(painter.pipe), base)


def test_lora_that_does_not_fit_names_keys(tiny_pipe, tmp_path):
    from loomis.errors import InputError

    sd = {
        "transformer.blocks.7.attn1.to_q.lora_A.weight": torch.zeros(4, 24),
        "transformer.blocks.7.attn1.to_q.lora_B.weight": torch.zeros(24, 4),
        "transformer.blocks.0.attn1.to_q.lora_A.weight": torch.zeros(4, 99),
    }
    path = L.save_lora(tmp_path / "bad.safetensors", sd, L.LoraMetadata(rank=4, alpha=4))
    painter = WanPainter(pipe=tiny_pipe())
    with pytest.raises(
        InputError,
        match=r"2 unmatched keys.*blocks\.7.*; 1 tensor\(s\) whose keys match but shapes differ.*blocks\.0.*\[4, 99\] vs 24 inputs",
    ):
        painter.set_loras([LoraSpec(path)])


def test_inspect_reports_rank_alpha_targets(tiny_pipe, tmp_path):
    from loomis_infer.lora_cli import inspect_lora

    _, _, path = _make_lora(tiny_pipe, tmp_path, "insp", seed=5, rank=4, alpha=8.0)
    info = inspect_lora(path)
    assert info["format"] == "diffusers" and info["rank"] == 4 and info["alpha"] == 8.0
    assert info["blocks"] == 2 and set(info["targets"]) == set(L.DEFAULT_TARGETS)
    assert info["metadata"]["base_model"] == "tiny"


def test_stock_diffusers_reads_rank_and_alpha(tiny_pipe, tmp_path):
    """Our native file restores alpha through diffusers' own metadata path."""
    _, _, path = _make_lora(tiny_pipe, tmp_path, "stock", seed=6, rank=4, alpha=8.0)
    pipe = tiny_pipe()
    pipe.load_lora_weights(str(path), adapter_name="x")
    layer = pipe.transformer.blocks[0].attn1.to_q
    assert layer.r["x"] == 4 and layer.scaling["x"] == pytest.approx(2.0)
