import json

import numpy as np
import pytest
import torch

from loomis.errors import InputError
from loomis.models import build_transformer, resolve_model, save_tiny
from loomis.sampler import SampleConfig
from loomis.specs import SPECS
from loomis.wan import WanPainter


def test_tiny_obeys_the_real_couplings():
    """docs/stack-facts.md's couplings hold for every spec."""
    for spec in SPECS.values():
        t = spec.transformer
        assert t["in_channels"] == 36 and t["out_channels"] == 16
        assert t["added_kv_proj_dim"] == t["num_attention_heads"] * t["attention_head_dim"]
        assert t["image_dim"] == spec.image_encoder["hidden_size"]
        assert spec.image_encoder["num_hidden_layers"] >= 2
        assert t["text_dim"] == spec.text_encoder["d_model"]


def test_full_size_14b_builds_on_meta_device():
    model = build_transformer(SPECS["wan2.1-i2v-14b-480p"], device="meta")
    n = sum(p.numel() for p in model.parameters())
    assert 14e9 < n < 18e9  # Wan 2.1 I2V 14B (with the image cross-attention) is ~16.4B parameters
    assert len(model.blocks) == 40


def test_tiny_round_trips_through_a_diffusers_directory(tmp_path, tiny_pipe):
    path = save_tiny(tmp_path / "tiny-dir")
    assert json.loads((path / "model_index.json").read_text())["_class_name"] == "WanImageToVideoPipeline"
    resolved = resolve_model(str(path))
    assert resolved.kind == "dir" and resolved.spec is not None and resolved.spec.name == "tiny"
    loaded = WanPainter.load(str(path), dtype=torch.float32, device="cpu")
    image = np.random.default_rng(1).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    cfg = SampleConfig(frames=5, steps=2, size=(32, 32))
    a = np.stack(loaded.paint(image, "x", cfg)).astype(int)
    b = np.stack(WanPainter(pipe=tiny_pipe()).paint(image, "x", cfg)).astype(int)
    assert np.abs(a - b).mean() < 0.25


def test_resolve_model_errors(tmp_path, monkeypatch):
    with pytest.raises(InputError, match="neither a known spec"):
        resolve_model("no-such-model")
    with pytest.raises(InputError, match="model_index.json"):
        resolve_model(str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("LOOMIS_WAN21_I2V_14B_480P", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(InputError, match="LOOMIS_WAN21_I2V_14B_480P"):
        resolve_model("wan2.1-i2v-14b-480p")


def test_spec_env_var_points_at_a_directory(tmp_path, monkeypatch):
    save_tiny(tmp_path / "m")
    monkeypatch.setenv("LOOMIS_WAN21_I2V_14B_480P", str(tmp_path / "m"))
    r = resolve_model("wan2.1-i2v-14b-480p")
    assert r.kind == "dir" and r.location == str(tmp_path / "m")


def test_local_tiny_directory_gets_tiny_defaults(tmp_path, rgb_image):
    from loomis.paint import PaintConfig, Painter

    save_tiny(tmp_path / "m")
    result = Painter(PaintConfig(model=str(tmp_path / "m"), steps=1)).paint(rgb_image, "oil")
    assert len(result.frames) == SPECS["tiny"].frames  # not the 81 of a full-size model
    assert result.record["model"] == str(tmp_path / "m")
