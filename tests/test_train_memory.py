"""Frozen-weight memory options on the tiny model: where the weights live, the same gradients as
without the option (block swap) or the fp8 storage dtype (fp8), and the one-clip overfit still
lowers the loss under each."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from train_support import REPO, make_dataset, tiny_overrides


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("mem"), n=1)


def trainer_for(dataset, out, *sets):
    from loomis_train.config import load_config
    from loomis_train.distributed import DistEnv
    from loomis_train.trainer import Trainer

    cfg = load_config(REPO / "configs/tiny.yaml", tiny_overrides(dataset, out) + list(sets))
    t = Trainer(cfg, DistEnv())
    t.build_data()
    t.build_model()
    t.setup_engine()
    return t


def grads(trainer) -> torch.Tensor:
    trainer.noise_gen.manual_seed(5)
    for p in trainer.params:
        p.grad = None
    trainer.train_step(trainer.features.batch([0])).backward()
    return torch.cat([p.grad.flatten() for p in trainer.params])


def test_block_swap_keeps_weights_on_host_and_gradients_equal(dataset, tmp_path):
    plain = trainer_for(dataset, tmp_path / "a", "model.gradient_checkpointing=true")
    swap = trainer_for(dataset, tmp_path / "b", "model.gradient_checkpointing=true", "model.blocks_to_swap=1")
    (s,) = swap.swapped
    assert s.block is swap.transformer.blocks[-1] and s.frozen and s.swaps == 0
    g0, g1 = grads(plain), grads(swap)
    assert s.swaps == 2  # in for the forward, in again for recompute + backward
    assert all(p.data.data_ptr() == h.data_ptr() for p, h in zip(s.frozen, s.host))  # back on the host
    assert all(p.device.type == "cpu" for p in s.frozen)
    lora = [p for p in s.block.parameters() if p.requires_grad]
    assert lora and all(p.grad is not None for p in lora) and any(p.grad.abs().sum() > 0 for p in lora)
    assert torch.allclose(g0, g1, rtol=1e-5, atol=1e-7), (g0 - g1).abs().max()


def test_fp8_frozen_storage_dtypes(dataset, tmp_path):
    t = trainer_for(dataset, tmp_path, "model.fp8_frozen=true")
    q = t.transformer.blocks[0].attn1.to_q
    assert q.base_layer.weight.dtype == torch.float8_e4m3fn
    assert q.lora_A["default"].weight.dtype == torch.float32
    assert t.dtypes["lora"] == ["float32"] and t.dtypes["fp32_kept"] == ["float32"]
    assert "float8_e4m3fn" in t.dtypes["base"]
    g = grads(t)
    assert torch.isfinite(g).all() and g.abs().sum() > 0
    assert q.base_layer.weight.dtype == torch.float8_e4m3fn  # stored back in fp8 after the forward


@pytest.mark.parametrize(
    "options",
    [
        ["model.fp8_frozen=true", "model.blocks_to_swap=1"],  # both at once in the default run
        pytest.param(["model.fp8_frozen=true"], marks=pytest.mark.slow),
        pytest.param(["model.blocks_to_swap=1"], marks=pytest.mark.slow),
    ],
)
def test_overfit_still_lowers_the_loss(dataset, tmp_path, options):
    """Measured (25 steps, lr 1e-2, mean of the first/last 5 losses): fp8 1.295 -> 1.102, swap
    1.290 -> 1.102."""
    from train_support import run_training

    sets = ["train.max_steps=25", "train.save_every=25", "optim.lr=1e-2", "lora.rank=16", "lora.alpha=16"]
    _, result = run_training(dataset, tmp_path, sets + options)
    losses = [v for _, v in result.losses]
    first, last = np.mean(losses[:5]), np.mean(losses[-5:])
    print(f"{options}: train loss (mean of 5) {first:.4f} -> {last:.4f}")
    assert last < 0.95 * first
