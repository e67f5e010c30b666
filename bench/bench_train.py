"""Training step speed.

* CPU (always): the ``tiny`` config end to end through ``Trainer`` (synthetic clip, on-the-fly
  encoding memoised): seconds per optimizer step and peak RSS.
* GPU (only with CUDA): one full-size random-weight Wan 2.1 I2V 14B DiT with the default LoRA
  (rank 32 on every block Linear), bf16 base, gradient checkpointing, at 480x832x81 (21x60x104
  latents, 32,760 tokens): seconds per step (fwd + bwd + AdamW, mean of 3 after a warm-up) and
  peak CUDA memory. Skipped, and said so, without CUDA. ``python -m bench.bench_train --gpu`` runs
  only that part.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

import torch


def _tiny_dataset(root: Path) -> Path:
    import numpy as np

    from loomis.dataset import write_sample

    h, w, n = 48, 64, 12
    rng = np.random.default_rng(0)
    final = (rng.random((h, w, 3)) * 255).astype(np.uint8)
    frames = []
    for i in range(n):
        f = np.full_like(final, 255)
        f[: round(h * i / (n - 1))] = final[: round(h * i / (n - 1))]
        frames.append(f)
    write_sample(root, "bench", frames, medium="acrylic", caption="bench")
    return root


def cpu_tiny(steps: int = 30) -> dict:
    from loomis_train.config import load_config
    from loomis_train.distributed import DistEnv
    from loomis_train.trainer import Trainer

    repo = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        data = _tiny_dataset(Path(tmp) / "d")
        sets = [
            f"data.path={data}",
            f"train.output={tmp}/run",
            f"train.max_steps={steps}",
            f"train.save_every={steps}",
            "logging.tensorboard=false",
        ]
        trainer = Trainer(load_config(repo / "configs/tiny.yaml", sets), DistEnv())
        t0 = time.perf_counter()
        trainer.build_data()
        trainer.build_model()
        trainer.setup_engine()
        trainer.build_data = trainer.build_model = trainer.setup_engine = lambda: None  # already done
        t_build = time.perf_counter() - t0
        t0 = time.perf_counter()
        trainer.run()
        t_run = time.perf_counter() - t0
    return {
        "tiny_build_s": round(t_build, 2),
        "tiny_s_per_step": round(t_run / steps, 4),
        "tiny_steps": steps,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def gpu_14b(frames: int = 81, height: int = 480, width: int = 832, steps: int = 3) -> dict:
    """One full-size random-weight 14B LoRA step (needs ~80 GB: the fp32 build peaks near 56 GB)."""
    from loomis import diffusion
    from loomis.lora import add_lora
    from loomis.models import build_transformer
    from loomis.specs import SPECS

    spec = SPECS["wan2.1-i2v-14b-480p"]
    dev = torch.device("cuda")
    torch.manual_seed(0)
    model = build_transformer(spec, dtype=torch.bfloat16, device=dev)
    model.requires_grad_(False)
    add_lora(model, rank=32, alpha=32)
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.data = p.data.float()
    model.enable_gradient_checkpointing()
    model.train()
    opt = torch.optim.AdamW(params, lr=1e-4)
    f, h, w = diffusion.latent_frames(frames), height // 8, width // 8
    x0 = torch.randn(1, 16, f, h, w, device=dev)
    cond = torch.randn(1, 20, f, h, w, device=dev)
    text = torch.randn(1, 512, 4096, device=dev, dtype=torch.bfloat16)
    img = torch.randn(1, 257, 1280, device=dev, dtype=torch.bfloat16)

    def step() -> float:
        t = diffusion.sample_timesteps(1).to(dev)
        noise = torch.randn_like(x0)
        pred = model(
            hidden_states=diffusion.model_input(diffusion.noisy_latents(x0, noise, t), cond).bfloat16(),
            timestep=diffusion.model_timestep(t),
            encoder_hidden_states=text,
            encoder_hidden_states_image=img,
            return_dict=False,
        )[0]
        loss = diffusion.flow_loss(pred, diffusion.flow_target(x0, noise))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return float(loss)

    step()  # warm-up (kernels, allocator)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    return {
        "gpu": torch.cuda.get_device_name(),
        "gpu_14b_s_per_step": round((time.perf_counter() - t0) / steps, 2),
        "gpu_14b_peak_mem_gib": round(torch.cuda.max_memory_allocated() / 2**30, 1),
        "gpu_shape": f"{width}x{height}x{frames}",
        "lora_params_m": round(sum(p.numel() for p in params) / 1e6, 1),
    }


def run(out_dir=None) -> dict:
    result = cpu_tiny()
    if torch.cuda.is_available():
        result.update(gpu_14b())
    else:
        result["gpu_14b"] = (
            "skipped: no CUDA device here (run on a GPU machine: python -m bench.bench_train --gpu)"
        )
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(gpu_14b() if "--gpu" in sys.argv else run(), indent=2))
