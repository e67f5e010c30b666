"""torchvision, lpips and open_clip import on this machine's torch (CPU build here, where PyPI's
torchvision is a CUDA build whose C++ ops cannot load)."""

import importlib

import torch

import loomis  # noqa: F401  (applies the shim)


def test_torchvision_and_dependents_import():
    tv = importlib.import_module("torchvision")
    model = tv.models.alexnet()
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 1000)
    for name in ("lpips", "open_clip"):
        assert importlib.import_module(name) is not None


def test_transformers_image_processor_imports():
    from transformers import CLIPImageProcessor

    out = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})(
        images=[torch.zeros(3, 40, 40).numpy().transpose(1, 2, 0)], return_tensors="pt"
    )
    assert out["pixel_values"].shape == (1, 3, 32, 32)
