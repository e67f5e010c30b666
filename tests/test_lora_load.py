"""A LoRA file is read once per load and its converted tensors are what diffusers loads: counted
reads, bare ``blocks.N`` keys (which diffusers alone loads nothing from), and the guard that turns
"nothing loaded" into exit 2 naming the keys."""

import json

import numpy as np
import pytest
import safetensors
import safetensors.torch
import torch
from loomis_infer.paint_cli import main
from PIL import Image
from safetensors.torch import save_file

import loomis.lora as L
from loomis.errors import InputError
from loomis.wan import LoraSpec, WanPainter


def _lora(tiny_pipe, seed: int, rank: int = 4, alpha: float = 8.0) -> dict[str, torch.Tensor]:
    pipe = tiny_pipe()
    L.add_lora(pipe.transformer, rank=rank, alpha=alpha, adapter_name="x")
    g = torch.Generator().manual_seed(seed)
    for name, p in pipe.transformer.named_parameters():
        if ".lora_" in name:
            p.data = torch.randn(p.shape, generator=g)
    return L.lora_state_dict(pipe.transformer, "x")


def _forward(pipe) -> torch.Tensor:
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


@pytest.fixture
def count_reads(monkeypatch):
    """Counts every way the file could be opened: ours (safe_open in loomis.lora) and diffusers'
    (safetensors.torch.load_file / safetensors.safe_open)."""
    counts = {"loomis": 0, "elsewhere": 0}

    def wrap(fn, key):
        def counted(*a, **k):
            counts[key] += 1
            return fn(*a, **k)

        return counted

    monkeypatch.setattr(L, "safe_open", wrap(L.safe_open, "loomis"))
    monkeypatch.setattr(safetensors.torch, "load_file", wrap(safetensors.torch.load_file, "elsewhere"))
    monkeypatch.setattr(safetensors, "safe_open", wrap(safetensors.safe_open, "elsewhere"))
    return counts


def test_cli_reads_a_lora_file_once(tiny_pipe, tmp_path, rgb_image, capsys, count_reads):
    path = L.save_lora(tmp_path / "p.safetensors", _lora(tiny_pipe, 1), L.LoraMetadata(rank=4, alpha=8.0))
    Image.fromarray(rgb_image).save(tmp_path / "in.png")
    argv = [
        str(tmp_path / "in.png"),
        "--model",
        "tiny",
        "--frames",
        "5",
        "--steps",
        "1",
        "-o",
        str(tmp_path / "o.mp4"),
    ]
    with pytest.raises(SystemExit) as exc:
        main(argv + ["--lora", f"{path}:0.5"])
    assert exc.value.code == 0, capsys.readouterr().err
    assert count_reads == {"loomis": 1, "elsewhere": 0}
    assert json.loads((tmp_path / "o.mp4.json").read_text())["loras"] == [{"path": str(path), "weight": 0.5}]


def test_painter_reads_each_file_once_across_swaps(tiny_pipe, tmp_path, count_reads):
    a = L.save_lora(tmp_path / "a.safetensors", _lora(tiny_pipe, 1), L.LoraMetadata(rank=4, alpha=8.0))
    b = L.save_lora(tmp_path / "b.safetensors", _lora(tiny_pipe, 2), L.LoraMetadata(rank=4, alpha=4.0))
    painter = WanPainter(pipe=tiny_pipe())
    count_reads["loomis"] = 0  # _lora's pipes are built before; only loads count from here
    for loras in ([LoraSpec(a)], [LoraSpec(a), LoraSpec(b, 0.3)], [LoraSpec(b)], [LoraSpec(a, 2.0)]):
        painter.set_loras(loras)
    assert count_reads == {"loomis": 2, "elsewhere": 0}


def test_in_memory_load_keeps_the_files_alpha(tiny_pipe, tmp_path):
    """alpha/rank = 2 must act exactly as diffusers' own file load (which reads the header)."""
    path = L.save_lora(tmp_path / "p.safetensors", _lora(tiny_pipe, 3), L.LoraMetadata(rank=4, alpha=8.0))
    ours = WanPainter(pipe=tiny_pipe())
    ours.set_loras([LoraSpec(path)])
    stock = tiny_pipe()
    stock.load_lora_weights(str(path), adapter_name="s")
    assert torch.allclose(_forward(ours.pipe), _forward(stock), atol=1e-5)


def test_bare_blocks_keys_load_and_change_the_output(tiny_pipe, tmp_path):
    """``blocks.N…`` keys (PEFT without the ``transformer.`` prefix): diffusers given the path
    loads none of them; given our converted state dict, they act as the native file does."""
    sd = _lora(tiny_pipe, 4)
    native = L.save_lora(tmp_path / "native.safetensors", sd, L.LoraMetadata(rank=4, alpha=4.0))
    bare = tmp_path / "bare.safetensors"
    save_file({k.removeprefix("transformer."): v for k, v in sd.items()}, str(bare))
    assert L.read_lora(bare).format == "peft"
    base = _forward(tiny_pipe())
    outs = []
    for f in (native, bare):
        painter = WanPainter(pipe=tiny_pipe())
        painter.set_loras([LoraSpec(f)])
        outs.append(_forward(painter.pipe))
    assert not torch.allclose(outs[1], base, atol=0.1)  # it changes the output ...
    assert torch.allclose(outs[1], outs[0], atol=1e-5)  # ... exactly as the native file


def test_a_lora_diffusers_loads_nothing_from_is_exit_2_naming_keys(tiny_pipe, tmp_path, monkeypatch):
    path = L.save_lora(tmp_path / "p.safetensors", _lora(tiny_pipe, 5), L.LoraMetadata(rank=4, alpha=4.0))
    painter = WanPainter(pipe=tiny_pipe())
    monkeypatch.setattr(painter.pipe, "load_lora_weights", lambda *a, **k: None)  # diffusers took nothing
    with pytest.raises(InputError, match=r"loaded none of its tensors \(keys such as transformer\.blocks\.0"):
        painter.set_loras([LoraSpec(path)])


@pytest.mark.parametrize("text", ["x.safetensors:abc", "x.safetensors:"])
def test_lora_weight_that_is_not_a_number(text):
    with pytest.raises(InputError, match="weight after ':' must be a number"):
        LoraSpec.parse(text)


def test_lora_spec_reads_lazily_and_once(tiny_pipe, tmp_path, count_reads):
    path = L.save_lora(tmp_path / "p.safetensors", _lora(tiny_pipe, 6), L.LoraMetadata(rank=4, alpha=4.0))
    count_reads["loomis"] = 0
    spec = LoraSpec.parse(str(path))
    assert spec.file is None
    first = spec.read()
    assert spec.read() is first and count_reads["loomis"] == 1
    assert np.isclose(first.alpha, 4.0)
