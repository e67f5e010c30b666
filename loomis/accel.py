"""Faster and leaner Wan sampling through diffusers' own mechanisms (nothing re-implemented).

* Step caches (``StepCache``): ``transformer.enable_cache`` with FirstBlockCache, MagCache,
  TaylorSeer (lite: the whole block stack is skipped on predicted steps) or the lossless text K/V
  cache. Every call counts, with forward hooks that change nothing, how many transformer passes
  ran the block stack in full and how many were reused (``StepCache.last``).
* ``prepare_pipeline``: fp8 weight storage (``enable_layerwise_casting``), placement / offloading
  (``model``, ``sequential``, ``group`` with CUDA streams), attention backend, context parallel
  (``loomis.parallel``), VAE tiling, and regional compilation (``compile_repeated_blocks``).

Not offered, because they do not fit Wan I2V in diffusers 0.42: FasterCache expects the conditional
and unconditional branches in one batch and the pipeline runs them as two calls (IndexError);
Pyramid Attention Broadcast keeps one state for both calls, so with guidance the unconditional pass
would reuse the conditional pass's attention; SeaCache's built-in adapter covers Wan T2V only.
"""

from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import asdict, dataclass

from loomis.errors import InputError

log = logging.getLogger(__name__)

CACHES = ("none", "first-block", "magcache", "taylorseer", "text-kv")
OFFLOADS = ("none", "model", "sequential", "group")
VAE_TILING = ("auto", "on", "off")
WEIGHT_DTYPES = ("fp8",)
# The knob ``cache_threshold`` sets, and its default, per cache.
CACHE_KNOBS = {
    "first-block": ("relative change of the first block's residual below which a pass is reused", 0.05),
    "magcache": ("accumulated magnitude-ratio error below which a pass is reused", 0.06),
    "taylorseer": ("transformer passes between full computations (predicted in between)", 3),
}


@dataclass(frozen=True)
class AccelConfig:
    cache: str = "none"
    cache_threshold: float | None = None  # see CACHE_KNOBS; None: the cache's default
    cache_ratios: tuple[float, ...] | None = None  # magcache: calibrated ratios (None: calibrate)
    compile: bool = False
    offload: str = "none"
    weights_dtype: str | None = None  # None: the pipeline dtype; "fp8": float8 storage
    vae_tiling: str = "auto"  # auto: on for CUDA canvases larger than one VAE tile
    attention: str | None = None
    parallel: str | None = None  # "ulysses=N" | "ring=N" (under torchrun)

    def validate(self) -> AccelConfig:
        for name, allowed in (("cache", CACHES), ("offload", OFFLOADS), ("vae_tiling", VAE_TILING)):
            if getattr(self, name) not in allowed:
                raise InputError(f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        if self.weights_dtype is not None and self.weights_dtype not in WEIGHT_DTYPES:
            raise InputError(
                f"weights dtype must be one of {', '.join(WEIGHT_DTYPES)}, got {self.weights_dtype!r}"
            )
        t = self.cache_threshold
        if t is not None and (not math.isfinite(t) or t <= 0):
            raise InputError(f"cache threshold must be a finite number > 0, got {t}")
        if t is not None and self.cache == "taylorseer" and t != int(t):
            raise InputError(f"--cache {self.cache} takes a whole number of passes as its threshold, got {t}")
        if self.cache_ratios and self.cache != "magcache":
            raise InputError(
                f"--cache-ratios are MagCache's: use them with --cache magcache, not {self.cache!r}"
            )
        if self.offload != "none" and self.parallel:
            raise InputError("--offload and --parallel do not combine: each rank holds its own model")
        return self

    def threshold(self) -> float | None:
        return (
            self.cache_threshold
            if self.cache_threshold is not None
            else CACHE_KNOBS.get(self.cache, (0, None))[1]
        )

    def record(self) -> dict:
        out = asdict(self)
        out["cache_threshold"] = self.threshold()
        out["cache_ratios"] = list(self.cache_ratios) if self.cache_ratios else None
        return out


# --------------------------------------------------------------------------------------------
# counting what the transformer computed
# --------------------------------------------------------------------------------------------
class PassCounter:
    """Transformer calls, and how many of them ran each block / each attention in full. Plain
    torch forward hooks on sub-modules (``ffn`` of every block, ``to_q`` of both attentions): a
    cache hook that skips a block or an attention skips these too, so the counts are what ran.
    The counts live in a tensor and the hooks are the same objects in every block, so compiled
    blocks (``compile_repeated_blocks``) trace them once instead of recompiling per block or per
    count (dynamo treats Python ints as constants)."""

    def __init__(self, transformer):
        import torch

        self.calls = 0
        self.counts = torch.zeros(3, dtype=torch.int64)  # block runs, full passes, attention runs
        blocks = list(transformer.blocks)
        self.n_blocks = len(blocks)
        self._handles = [transformer.register_forward_pre_hook(self._on_call)]
        on_ffn, on_attention = self._on_ffn, self._on_attention
        for i, block in enumerate(blocks):
            self._handles.append(
                block.ffn.register_forward_hook(on_ffn if i < len(blocks) - 1 else self._on_last)
            )
            for attn in (block.attn1, block.attn2):
                self._handles.append(attn.to_q.register_forward_hook(on_attention))

    def _on_call(self, *_):
        self.calls += 1

    def reset(self) -> None:
        self.calls = 0
        self.counts.zero_()

    def _on_ffn(self, *_):
        self.counts[0] += 1

    def _on_last(self, *_):
        self.counts[:2] += 1

    def _on_attention(self, *_):
        self.counts[2] += 1

    def remove(self) -> None:
        for h in self._handles:
            h.remove()

    def result(self) -> dict:
        block_runs, full, attention_runs = (int(x) for x in self.counts)
        return {
            "transformer_passes": self.calls,
            "computed_passes": full,
            "reused_passes": self.calls - full,
            "block_runs": block_runs,
            "block_slots": self.calls * self.n_blocks,
            "attention_runs": attention_runs,
            "attention_slots": self.calls * self.n_blocks * 2,
        }


# --------------------------------------------------------------------------------------------
# step caches
# --------------------------------------------------------------------------------------------
class StepCache:
    """One cache choice for one transformer, installed on the first call and kept (diffusers
    resets the hooks' state at the end of every pipeline call; kept hooks let a compiled block
    stay compiled), re-installed only when the settings it depends on change. ``last``: what the
    last call computed and reused, plus MagCache's calibrated ratios when it ran without any."""

    def __init__(self, accel: AccelConfig):
        self.accel = accel
        self.last: dict | None = None
        self._key = None
        self._transformer = None
        self._counter: PassCounter | None = None
        self._calibrating = False

    @contextlib.contextmanager
    def applied(self, pipe, sample):
        self._install(pipe, sample.steps)
        self._counter.reset()
        calibration: dict[str, list[float]] = {}
        watch = _watch_calibration(self._transformer, calibration) if self._calibrating else None
        try:
            with _stdout_to_log():  # diffusers prints MagCache results; stdout is the CLI's
                yield
        finally:
            if watch is not None:
                watch.remove()
            self.last = {
                "cache": self.accel.cache,
                "threshold": self.accel.threshold(),
                **self._counter.result(),
            }
            if calibration:
                self.last["mag_ratios"] = calibration.get("cond") or next(iter(calibration.values()))

    def _install(self, pipe, steps: int) -> None:
        key = (id(pipe.transformer), steps if self.accel.cache == "magcache" else None)
        if key == self._key:
            return
        self.remove()
        self._transformer = pipe.transformer
        config = self._config(pipe, steps)
        if config is not None:
            self._transformer.enable_cache(config)
        self._calibrating = self.accel.cache == "magcache" and config.calibrate
        self._counter = PassCounter(self._transformer)
        self._key = key

    def remove(self) -> None:
        """Take the hooks off (the transformer is as it was before the first call)."""
        if self._counter is not None:
            self._counter.remove()
        if self._transformer is not None and self._transformer.is_cache_enabled:
            self._transformer.disable_cache()
        self._key = self._transformer = self._counter = None

    def _config(self, pipe, steps: int):
        import torch
        from diffusers.hooks import (
            FirstBlockCacheConfig,
            MagCacheConfig,
            TaylorSeerCacheConfig,
            TextKVCacheConfig,
        )

        name, t = self.accel.cache, self.accel.threshold()
        if name == "none":
            return None
        if name == "first-block":
            return FirstBlockCacheConfig(threshold=t)
        if name == "magcache":
            ratios = self.accel.cache_ratios
            if not ratios:  # calibration run: nothing skipped; +1 keeps diffusers from resetting at the end
                return MagCacheConfig(calibrate=True, num_inference_steps=steps + 1)
            return MagCacheConfig(threshold=t, mag_ratios=list(ratios), num_inference_steps=steps)
        if name == "taylorseer":
            return TaylorSeerCacheConfig(
                use_lite_mode=True, cache_interval=int(t), taylor_factors_dtype=torch.float32
            )
        return TextKVCacheConfig()


def _watch_calibration(transformer, out: dict[str, list[float]]):
    """Copy MagCache's calibration ratios per cache context after every tail-block pass (diffusers
    resets its state when the pipeline call ends)."""
    from diffusers.hooks import HookRegistry
    from diffusers.hooks.mag_cache import _MAG_CACHE_BLOCK_HOOK

    tail = transformer.blocks[-1]
    hook = HookRegistry.check_if_exists_or_initialize(tail).get_hook(_MAG_CACHE_BLOCK_HOOK)

    def copy(*_):
        state = hook.state_manager.get_state()
        out[hook.state_manager.context.name] = [round(float(r), 6) for r in state.calibration_ratios]

    return tail.register_forward_hook(copy)


@contextlib.contextmanager
def _stdout_to_log():
    import io

    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            yield
    finally:
        if buf.getvalue().strip():
            log.debug("diffusers: %s", buf.getvalue().strip())


def read_ratios(path) -> tuple[float, ...]:
    """MagCache ratios from a JSON list, or from a run record (sidecar) of a calibration run."""
    import json
    from pathlib import Path

    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read cache ratios from {path}: {exc}") from None
    if isinstance(data, dict):
        data = (data.get("cache") or {}).get("mag_ratios")
    if not isinstance(data, list) or not data or not all(isinstance(x, int | float) for x in data):
        raise InputError(f"{path}: no MagCache ratios (a JSON list, or a sidecar with cache.mag_ratios)")
    return tuple(float(x) for x in data)


# --------------------------------------------------------------------------------------------
# preparing a loaded pipeline
# --------------------------------------------------------------------------------------------
def prepare_pipeline(pipe, accel: AccelConfig, device: str, dtype) -> None:
    """Apply ``accel`` to a freshly loaded pipeline, in the order the mechanisms need: storage
    dtype before placement, the attention backend before context parallel, compilation last."""
    import torch

    accel.validate()
    if accel.weights_dtype == "fp8":
        # diffusers keeps patch embedding, condition embedder and norms in the compute dtype
        pipe.transformer.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=dtype)
    if accel.attention:
        set_attention_backend(pipe.transformer, accel.attention)
    place(pipe, accel.offload, device)
    if accel.parallel:
        from loomis.parallel import enable_context_parallel

        enable_context_parallel(pipe.transformer, accel.parallel, accel.attention)
    if accel.vae_tiling == "on" or (accel.vae_tiling == "auto" and str(device).startswith("cuda")):
        pipe.vae.enable_tiling()  # only frames larger than one tile (256 px) are tiled
    if accel.compile:  # the cache hooks' decisions run eagerly (torch.compiler.disable): no fullgraph
        pipe.transformer.compile_repeated_blocks(fullgraph=accel.cache == "none")


def place(pipe, offload: str, device: str) -> None:
    """Put the pipeline on ``device``, or offload it: whole components (``model``), leaf by leaf
    (``sequential``), or transformer blocks one group at a time (``group``; overlapped with
    compute through CUDA streams when the device is a GPU)."""
    import torch

    if offload == "none":
        pipe.to(device)
    elif offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        on_gpu = str(device).startswith("cuda")
        pipe.enable_group_offload(
            onload_device=torch.device(device),
            offload_device=torch.device("cpu"),
            offload_type="block_level",
            num_blocks_per_group=1,
            use_stream=on_gpu,
            non_blocking=on_gpu,
        )


def attention_backends() -> list[str]:
    from diffusers.models.attention_dispatch import AttentionBackendName

    return [b.value for b in AttentionBackendName]


def set_attention_backend(transformer, name: str) -> None:
    valid = attention_backends()
    if name not in valid:
        raise InputError(f"unknown attention backend {name!r}; diffusers offers: {', '.join(valid)}")
    try:
        transformer.set_attention_backend(name)
    except (ImportError, RuntimeError, ValueError) as exc:
        raise InputError(
            f"attention backend {name!r} is not usable here: {str(exc).splitlines()[0]}"
        ) from None
