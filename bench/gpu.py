"""``make bench-gpu``: Wan 2.1 I2V 14B at full size with random weights, 480p x 81 frames, on one
GPU, in one prepared run of at most ``--budget`` seconds (default 480), without network access.

Measures: seconds per transformer pass and peak memory for the plain call, each attention backend
installed (flash, flash 3, sage, cuDNN), each step cache (the cost of a computed and of a reused
pass), ``--compile`` (regional), fp8 weight storage; the whole pipeline for 2 steps including the
81-frame VAE decode with and without VAE tiling (peak memory, and how far tiled frames are from
untiled ones); then the training benchmark's GPU part (``bench.bench_train.run_gpu``) with the time
left. Writes ``bench/results/gpu.json`` (atomically) and prints a summary. Sections that cannot
run (a backend not installed, too little time left) are recorded as such, not fatal.

The machine may have CUDA torch but no diffusers: carry wheels (docs/inference.md, "GPU
benchmark"). ``--rehearse`` runs every section at toy size on the CPU (the tiny spec, 64x48 x 9
frames; ``--rehearse wide``: two blocks of the real 14B width) to prove the script end to end where
no GPU is.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # runs from a plain checkout: loomis/ and bench/ importable

import torch  # noqa: E402

import loomis  # noqa: E402,F401  (first: its torchvision shim must precede diffusers on CPU-only torch)
from loomis import gpu_bench as G  # noqa: E402
from loomis.specs import SPECS, ModelSpec  # noqa: E402

ATTENTION = ("flash", "_flash_3", "sage", "_native_cudnn", "_native_flash")
CACHES = ("first-block", "magcache", "taylorseer", "text-kv")
STEPS_PER_VIDEO = 40  # Wan's default; two passes per step with guidance


@dataclass
class Setup:
    spec: ModelSpec
    size: tuple[int, int]
    frames: int
    dtype: torch.dtype
    device: str
    passes: int  # timed passes per measurement
    num_layers: int | None = None


def setup(rehearse: str | None) -> Setup:
    if rehearse == "tiny":
        return Setup(SPECS["tiny"], (64, 48), 9, torch.float32, "cpu", 2)
    if rehearse == "wide":  # the real 14B widths (heads, text and image dims), two blocks, tiny video
        return Setup(SPECS["wan2.1-i2v-14b-480p"], (64, 48), 5, torch.bfloat16, "cpu", 1, num_layers=2)
    if not torch.cuda.is_available():
        raise SystemExit("error: no CUDA device; run with --rehearse to rehearse on the CPU")
    return Setup(SPECS["wan2.1-i2v-14b-480p"], (832, 480), 81, torch.bfloat16, "cuda", 3)


class Run:
    """Sections under one time budget; each records its result or why it did not run."""

    def __init__(self, budget_s: float, skip: set[str], device: str):
        self.t0 = time.perf_counter()
        self.budget_s, self.skip, self.device = budget_s, skip, device
        self.results: dict = {}

    def left(self) -> float:
        return self.budget_s - (time.perf_counter() - self.t0)

    def section(self, name: str, fn, needs_s: float):
        if name in self.skip:
            self.results[name] = "skipped: --skip"
        elif self.left() < needs_s:
            self.results[name] = f"skipped: {self.left():.0f} s left of the budget, needs ~{needs_s:.0f} s"
        else:
            t0 = time.perf_counter()
            try:
                self.results[name] = fn()
            except Exception as exc:  # a failing section is a result (e.g. a backend not installed)
                self.results[name] = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"}
                traceback.print_exc()
            if isinstance(self.results[name], dict):
                self.results[name]["section_s"] = round(time.perf_counter() - t0, 1)
        print(f"[bench-gpu] {name}: {json.dumps(self.results[name], default=str)[:400]}", flush=True)
        _free(self.device)
        return self.results[name]


def _free(device) -> None:
    import gc

    gc.collect()
    if str(device).startswith("cuda"):
        torch.cuda.empty_cache()


def plain(model, s: Setup, inputs: dict) -> dict:
    check = G.check_output(model, inputs)
    if not (check["finite"] and check["input_dependent"]):
        raise RuntimeError(f"random transformer output unusable: {check}")
    G.reset_peak(s.device)
    seconds = G.time_passes(model, inputs, s.device, s.passes)
    return {"s_per_pass": _mean(seconds), "passes": seconds, "peak_gib": G.peak_gib(s.device), **check}


def attention(model, s: Setup, inputs: dict) -> dict:
    out = {}
    for backend in ATTENTION:
        try:
            model.set_attention_backend(backend)
            G.reset_peak(s.device)
            seconds = G.time_passes(model, inputs, s.device, s.passes)
            out[backend] = {"s_per_pass": _mean(seconds), "peak_gib": G.peak_gib(s.device),
                            "finite": G.check_output(model, inputs)["finite"]}  # fmt: skip
        except Exception as exc:  # not installed / not supported on this GPU
            out[backend] = f"unavailable: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        finally:
            model.set_attention_backend("native")
    return out


def caches(model, s: Setup, inputs: dict) -> dict:
    return {name: G.time_cache(model, inputs, s.device, name, passes=s.passes + 1) for name in CACHES}


def compiled(model, s: Setup, inputs: dict) -> dict:
    t0 = time.perf_counter()
    model.compile_repeated_blocks(fullgraph=True)
    first = G.time_passes(model, inputs, s.device, passes=1, warmup=0)[0]
    G.reset_peak(s.device)
    seconds = G.time_passes(model, inputs, s.device, s.passes, warmup=0)
    check = G.check_output(model, inputs)
    for block in model.blocks:  # back to eager for the sections after this one
        block._compiled_call_impl = None
    torch._dynamo.reset()
    return {"s_per_pass": _mean(seconds), "first_call_s": round(first, 2), "setup_s": round(time.perf_counter() - t0, 1),
            "peak_gib": G.peak_gib(s.device), **check}  # fmt: skip


def pipeline(model, s: Setup) -> dict:
    """Two steps of the real pipeline (CLIP image encoder and VAE with random weights, text
    embeddings given), decode of all frames included, VAE tiling off and on."""
    import numpy as np
    from diffusers import AutoencoderKLWan, WanImageToVideoPipeline
    from PIL import Image
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    from loomis.schedulers import make_scheduler

    with torch.device(s.device):
        vae = AutoencoderKLWan(**dict(s.spec.vae)).eval()
        clip = CLIPVisionModel(CLIPVisionConfig(**dict(s.spec.image_encoder))).eval()
    size = s.spec.image_size
    processor = CLIPImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
    pipe = WanImageToVideoPipeline(tokenizer=None, text_encoder=None, image_encoder=clip, image_processor=processor,
                                   transformer=model, vae=vae, scheduler=make_scheduler(s.spec.flow_shift))  # fmt: skip
    pipe.set_progress_bar_config(disable=True)
    g = torch.Generator(device=s.device).manual_seed(0)
    text = [
        torch.randn(1, 512, s.spec.transformer["text_dim"], generator=g, device=s.device, dtype=s.dtype)
        for _ in range(2)
    ]
    image = Image.fromarray(
        np.random.default_rng(0).integers(0, 255, (s.size[1], s.size[0], 3), dtype=np.uint8)
    )
    call = dict(image=image, prompt_embeds=text[0], negative_prompt_embeds=text[1], height=s.size[1], width=s.size[0],
                num_frames=s.frames, num_inference_steps=2, guidance_scale=5.0)  # fmt: skip
    out, frames = {}, {}
    for tiling in (False, True):
        vae.enable_tiling() if tiling else vae.disable_tiling()
        for kind in ("latent", "np"):
            G.reset_peak(s.device)
            G.sync(s.device)
            t0 = time.perf_counter()
            result = pipe(**call, output_type=kind, generator=torch.Generator(s.device).manual_seed(1)).frames
            G.sync(s.device)
            out[f"{'tiled' if tiling else 'untiled'}_{kind}"] = {
                "s": round(time.perf_counter() - t0, 2),
                "peak_gib": G.peak_gib(s.device),
            }
            if kind == "np":
                frames[tiling] = np.asarray(result[0])
    out["decode_s"] = round(out["untiled_np"]["s"] - out["untiled_latent"]["s"], 2)
    out["tiled_decode_s"] = round(out["tiled_np"]["s"] - out["tiled_latent"]["s"], 2)
    diff = np.abs(frames[True].astype(np.float64) - frames[False]) * 255
    out["tiled_vs_untiled_levels"] = {"max": round(float(diff.max()), 2), "mean": round(float(diff.mean()), 3),
                                      "note": "random VAE weights: an upper bound for trained ones"}  # fmt: skip
    out["finite"] = bool(np.isfinite(frames[False]).all())
    del pipe, vae, clip
    return out


def fp8(model, s: Setup, inputs: dict) -> dict:
    before = sum(p.numel() * p.element_size() for p in model.parameters())
    model.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=s.dtype)
    after = sum(p.numel() * p.element_size() for p in model.parameters())
    G.reset_peak(s.device)
    seconds = G.time_passes(model, inputs, s.device, s.passes)
    return {"s_per_pass": _mean(seconds), "peak_gib": G.peak_gib(s.device), "weights_gib_before": round(before / 2**30, 2),
            "weights_gib_after": round(after / 2**30, 2), **G.check_output(model, inputs)}  # fmt: skip


def train(run: Run) -> dict | str:
    try:
        from bench import bench_train
    except ImportError as exc:
        return f"unavailable: {exc}"
    if not hasattr(bench_train, "run_gpu"):
        return "not available: bench.bench_train.run_gpu has not landed"
    return bench_train.run_gpu(max(0.0, run.left() - 10))


def estimates(r: dict) -> dict:
    """Per-video seconds from the measured passes (transformer part + the measured decode)."""
    t = _get(r, "plain", "s_per_pass")
    if t is None:
        return {"note": "no plain measurement"}
    decode = _get(r, "pipeline", "decode_s") or 0.0
    best = min(x for x in (t, _get(r, "compile", "s_per_pass"), _get(r, "fp8", "s_per_pass")) if x)
    out = {
        "plain_video_s": round(STEPS_PER_VIDEO * 2 * t + decode, 1),
        "fast_preset_video_s": round(4 * best + decode, 1),  # 4 steps, guidance 1: one pass each
        "fast_preset_transformer_s": round(4 * best, 1),
        "fast_preset_target_s": 15,
    }
    compile_t = _get(r, "compile", "s_per_pass") or t
    for name in CACHES:
        reused = _get(r, "caches", name, "reused_s")
        if reused is not None:  # at half the passes reused, with compile
            out[f"{name}_half_reused_with_compile_ratio"] = round((0.5 * compile_t + 0.5 * reused) / t, 3)
    return out


def _get(d, *keys):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _mean(xs):
    return round(sum(xs) / len(xs), 4) if xs else None


def env_info(s: Setup) -> dict:
    import importlib.metadata as md

    def version(name):
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return None

    info = {"python": platform.python_version(), "torch": torch.__version__, "host": platform.node()}
    info.update({n: version(n) for n in ("diffusers", "transformers", "flash-attn", "sageattention")})
    info["device"] = torch.cuda.get_device_name(0) if s.device == "cuda" else "cpu (rehearsal)"
    return info


def _transformer_sections(run: Run, s: Setup, scale: float) -> None:
    t0 = time.perf_counter()
    model = G.random_transformer(s.spec, s.dtype, s.device, num_layers=s.num_layers)
    inputs, tokens = G.step_inputs(s.spec, s.size, s.frames, s.dtype, s.device)
    run.results["config"] = {"spec": s.spec.name, "size": list(s.size), "frames": s.frames, "tokens": tokens,
                             "dtype": str(s.dtype), "build_s": round(time.perf_counter() - t0, 1)}  # fmt: skip
    run.section("plain", lambda: plain(model, s, inputs), 15 * scale)
    run.section("attention", lambda: attention(model, s, inputs), 40 * scale)
    run.section("caches", lambda: caches(model, s, inputs), 60 * scale)
    run.section("compile", lambda: compiled(model, s, inputs), 150 * scale)
    run.section("pipeline", lambda: pipeline(model, s), 90 * scale)
    run.section("fp8", lambda: fp8(model, s, inputs), 20 * scale)  # last: it changes the weights


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rehearse", nargs="?", const="tiny", choices=("tiny", "wide"),
                    help="on the CPU, no GPU needed: tiny = the tiny spec; wide = two full-width 14B blocks")  # fmt: skip
    ap.add_argument("--budget", type=float, default=480.0, help="seconds for the whole run")
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "gpu.json"))
    ap.add_argument("--skip", nargs="*", default=[], help="section names to leave out")
    args = ap.parse_args(argv)
    s = setup(args.rehearse)
    run = Run(args.budget, set(args.skip), s.device)
    t0 = run.t0
    run.results["env"] = dict(env_info(s), rehearsal=args.rehearse)
    scale = 1.0 if not args.rehearse else 0.1  # rough seconds each section needs at full size
    _transformer_sections(run, s, scale)  # the 14B model is freed before the training benchmark
    run.section("train", lambda: train(run), 30 * scale)
    run.results["estimates"] = estimates(run.results)
    run.results["total_s"] = round(time.perf_counter() - t0, 1)
    _write(Path(args.out), run.results)
    print(json.dumps(run.results["estimates"], indent=2))
    return 0


def _write(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as fh:
        json.dump(obj, fh, indent=2, default=str)
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
