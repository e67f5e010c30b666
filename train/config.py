"""The training configuration: one typed tree of dataclasses, loaded from YAML, overridden by
``--set a.b=c`` and the command-line flags, validated with errors that name the key and say what
to fix (``InputError`` → exit 2), and saved (resolved) next to every checkpoint.

A YAML file may start from another with ``extends: base.yaml`` (resolved relative to the file).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from loomis.clips import ClipOptions, check_clip_options
from loomis.configfile import load_yaml
from loomis.errors import InputError
from loomis.lora import DEFAULT_TARGETS


@dataclass
class ModelConfig:
    name: str = "wan2.1-i2v-14b-480p"  # spec name, Diffusers directory or hub id
    dtype: str = "bfloat16"  # base weights; LoRA weights and optimizer states stay float32
    gradient_checkpointing: bool = True
    tiny_seed: int = 0  # random-weight seed of the ``tiny`` spec
    fp8_frozen: bool = False  # store the frozen block Linears in float8_e4m3fn (compute in dtype)
    blocks_to_swap: int = 0  # frozen weights of the last N blocks live in host memory


@dataclass
class LoraConfig:
    rank: int = 32
    alpha: float = 32.0
    targets: list[str] = field(default_factory=lambda: list(DEFAULT_TARGETS))
    init_from: str | None = None  # a stage-1 LoRA file to start from (media-transfer stage)


@dataclass
class DataConfig(ClipOptions):
    """``data:``: the clip options of ``loomis.clips.ClipOptions`` (split, frames, size,
    aspect_buckets, resample, condition, variant_mediums, on_bad, pad_value) plus these."""

    path: str = ""  # the dataset directory (loomis-data layout); or data.cache, or data.synthetic
    batch_size: int = 1  # per rank
    cache: str | None = None  # a loomis-data cache directory; then only the DiT is loaded
    shuffle: bool = True
    memo_items: int = 0  # without a cache: keep this many items' encodings in memory
    synthetic: int = 0  # no path and no cache: train on this many synthetic clips (smoke runs)


@dataclass
class ObjectiveConfig:
    timesteps: str = "shift"  # "shift", "logit_normal" or "uniform"
    shift: float = 3.0
    logit_mean: float = 0.0
    logit_std: float = 1.0


@dataclass
class OptimConfig:
    lr: float = 1e-4
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    schedule: str = "cosine"  # "cosine" or "constant", after a linear warm-up
    warmup_steps: int = 100
    min_lr_ratio: float = 0.0


@dataclass
class RunConfig:
    output: str = "runs/loomis"
    stage: str = "base"  # "base" or "transfer"
    max_steps: int = 2000  # optimizer steps; also the schedule's length
    stop_at: int | None = None  # stop (after a checkpoint) at this step, schedule unchanged
    grad_accum: int = 1
    seed: int = 42
    save_every: int = 500
    keep_last: int = 3  # checkpoints kept (older ones are removed once a newer one is complete)
    log_every: int = 10


@dataclass
class DistributedConfig:
    backend: str = "auto"  # "auto" (deepspeed under a launcher, else plain), "deepspeed", "plain"
    deepspeed_config: str | None = None  # a DeepSpeed JSON; null = built-in ZeRO-2


@dataclass
class ValidationConfig:
    every: int = 0  # steps between validations; 0 = off
    images: list[str] = field(default_factory=list)  # fixed condition images
    split: str = "val"  # dataset split with ground truth (PDP)
    max_samples: int = 2
    medium: str | None = None  # prompt medium for the fixed images (default: the first trained)
    num_inference_steps: int = 30
    guidance_scale: float = 5.0
    cache: str = "none"  # a loomis-paint step cache for the validation samples (loomis.accel.CACHES)


@dataclass
class LoggingConfig:
    tensorboard: bool = True
    wandb: bool = False
    wandb_project: str = "loomis"


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    data: DataConfig = field(default_factory=DataConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: RunConfig = field(default_factory=RunConfig)
    distributed: DistributedConfig = field(default_factory=DistributedConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def hash(self) -> str:
        """A short hash of what shapes the LoRA (run bookkeeping such as paths left out)."""
        d = self.to_dict()
        d["train"] = {
            k: v
            for k, v in d["train"].items()
            if k not in ("output", "stop_at", "save_every", "keep_last", "log_every")
        }
        d.pop("validation")
        d.pop("logging")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


CHOICES = {
    "objective.timesteps": ("shift", "logit_normal", "uniform"),
    "optim.schedule": ("cosine", "constant"),
    "train.stage": ("base", "transfer"),
    "distributed.backend": ("auto", "deepspeed", "plain"),
    "model.dtype": ("bfloat16", "float32", "float16"),
    "validation.cache": ("none", "first-block", "magcache", "taylorseer", "text-kv"),  # loomis.accel.CACHES
}


# --------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------
def apply_set(raw: dict, assignment: str) -> dict:
    """``a.b=c`` (the value parsed as YAML) into ``raw``."""
    key, sep, value = assignment.partition("=")
    if not sep or not key.strip():
        raise InputError(f"--set {assignment!r}: use KEY=VALUE, e.g. --set optim.lr=5e-5")
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    return set_key(raw, key.strip(), parsed)


def set_key(raw: dict, key: str, parsed: Any) -> dict:
    node = raw
    parts = key.split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise InputError(f"--set {key}: {p} is not a section")
    node[parts[-1]] = parsed
    return raw


def build_config(raw: dict) -> TrainConfig:
    """Turn a nested dict into a ``TrainConfig``; unknown keys and wrong types are InputErrors."""
    return _build(TrainConfig, raw, "")


def _build(cls, raw: Any, prefix: str):
    if not isinstance(raw, dict):
        raise InputError(
            f"config key {prefix.rstrip('.') or '(top)'}: expected a section (mapping), got {raw!r}"
        )
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        where = prefix.rstrip(".") or "the top level"
        raise InputError(
            f"config key {prefix}{unknown[0]}: unknown key in {where}; valid keys: {', '.join(sorted(names))}"
        )
    kwargs = {}
    for name in names & set(raw):
        kwargs[name] = _coerce(hints[name], raw[name], prefix + name)
    return cls(**kwargs)


def _coerce(tp, value, key: str):
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key + ".")
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)][0]
        return _coerce(inner, value, key)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise InputError(f"config key {key}: expected a list, got {value!r}")
        return [_coerce(args[0], v, key) for v in value]
    return _scalar(tp, value, key)


def _scalar(tp, value, key: str):
    if tp is float and isinstance(value, str):  # YAML 1.1 reads "5e-5" (no dot) as a string
        try:
            value = float(value)
        except ValueError:
            pass
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        str: isinstance(value, str),
    }[tp]
    if not ok:
        kind = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}[tp]
        raise InputError(f"config key {key}: expected {kind}, got {value!r}")
    return float(value) if tp is float else value


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------
def validate(cfg: TrainConfig, check_paths: bool = True) -> TrainConfig:
    """Semantic checks; every failure names the key and what to do."""
    for key, choices in CHOICES.items():
        section, name = key.split(".")
        value = getattr(getattr(cfg, section), name)
        if value not in choices:
            raise InputError(f"config key {key}: {value!r} is not one of {', '.join(choices)}")
    d = cfg.data
    check_clip_options(d, "config key data.")
    if not 0 <= d.synthetic <= 64:
        raise InputError(
            "config key data.synthetic: must lie in [0, 64] (synthetic clips are for smoke runs)"
        )
    _positive(
        cfg,
        [
            "data.batch_size",
            "lora.rank",
            "train.max_steps",
            "train.grad_accum",
            "train.save_every",
            "train.keep_last",
            "train.log_every",
            "validation.num_inference_steps",
        ],
    )
    if not 0 <= cfg.model.blocks_to_swap <= 1000:
        raise InputError("config key model.blocks_to_swap: must lie in [0, 1000] (Wan 14B has 40 blocks)")
    if cfg.lora.alpha <= 0 or cfg.optim.lr <= 0:
        raise InputError("config keys lora.alpha and optim.lr must be positive")
    if not cfg.lora.targets:
        raise InputError("config key lora.targets: name at least one block Linear (e.g. attn1.to_q)")
    if len(cfg.optim.betas) != 2:
        raise InputError("config key optim.betas: give two numbers, e.g. [0.9, 0.999]")
    if cfg.train.stage == "transfer" and d.condition != "variants":
        raise InputError(
            "config key data.condition: the transfer stage trains on variants; set data.condition=variants"
        )
    if check_paths:
        _check_paths(cfg)
    return cfg


def _positive(cfg: TrainConfig, keys: list[str]) -> None:
    for key in keys:
        section, name = key.split(".")
        if getattr(getattr(cfg, section), name) < 1:
            raise InputError(f"config key {key}: must be >= 1")


def _check_paths(cfg: TrainConfig) -> None:
    if not cfg.data.path and not cfg.data.cache and not cfg.data.synthetic:
        raise InputError("config key data.path: no dataset given; set data.path or pass --data DATASET")
    if cfg.data.path and not (Path(cfg.data.path) / "dataset.jsonl").is_file() and not cfg.data.cache:
        raise InputError(
            f"config key data.path: {cfg.data.path} is not a Loomis dataset (no dataset.jsonl); "
            f"build one with loomis-data or fix the path"
        )
    if cfg.data.cache and not (Path(cfg.data.cache) / "cache.json").is_file():
        raise InputError(
            f"config key data.cache: {cfg.data.cache} is not a latent cache; "
            f"build it with 'loomis-data cache DATASET --model …' or set data.cache=null"
        )
    if cfg.lora.init_from and not Path(cfg.lora.init_from).is_file():
        raise InputError(
            f"config key lora.init_from: {cfg.lora.init_from} does not exist; give a stage-1 LoRA file"
        )
    ds = cfg.distributed.deepspeed_config
    if ds and not Path(ds).is_file():
        raise InputError(f"config key distributed.deepspeed_config: {ds} does not exist")
    from loomis.io import check_output

    try:  # an existing file there, a read-only folder: exit 2 now, not a traceback at the first save
        check_output(cfg.train.output, "dir", create=True)
    except InputError as exc:
        raise InputError(f"train.output (--output): {exc}") from None


def load_config(
    path: str | Path | None, sets: list[str] = (), overrides: dict | None = None, check_paths: bool = True
) -> TrainConfig:
    """YAML file (or defaults) → ``--set`` assignments → flag overrides (dotted keys) → validated."""
    raw = load_yaml(path) if path else {}
    if path:
        _resolve_relative(raw, Path(path).parent)
    for s in sets:
        apply_set(raw, s)
    for key, value in (overrides or {}).items():
        if value is not None:
            set_key(raw, key, value)
    return validate(build_config(raw), check_paths=check_paths)


def _resolve_relative(raw: dict, base: Path) -> None:
    """A DeepSpeed JSON named relative to the config file is found next to it."""
    dist = raw.get("distributed")
    if isinstance(dist, dict) and isinstance(dist.get("deepspeed_config"), str):
        p = Path(dist["deepspeed_config"])
        if not p.is_absolute() and not p.exists() and (base / p).exists():
            dist["deepspeed_config"] = str(base / p)


def save_config(cfg: TrainConfig, path: str | Path) -> None:
    from loomis.io import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
