"""Resolving, building and loading Wan 2.1 I2V models (one place for weights).

``resolve_model("tiny" | "wan2.1-i2v-14b-480p" | DIR | hub id)`` says where a model comes from;
``load_pipeline`` returns a diffusers ``WanImageToVideoPipeline``. ``tiny`` is built from the same
classes with random weights (deterministic per seed) and can be written to disk as a Diffusers
directory (``save_tiny``) that loads back exactly like the released model. Nothing is downloaded
unless the user names a hub id and the network is there.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from loomis.errors import InputError
from loomis.schedulers import make_scheduler
from loomis.specs import SPECS, ModelSpec, get_spec

log = logging.getLogger(__name__)

DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}


def parse_dtype(name: str) -> torch.dtype:
    if name not in DTYPES:
        raise InputError(f"unknown dtype {name!r}; use one of {', '.join(DTYPES)}")
    return DTYPES[name]


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model comes from: ``kind`` is "tiny" (built in memory), "dir" or "hub"."""

    kind: str
    spec: ModelSpec | None
    location: str | None  # directory or hub id
    label: str  # what to record in sidecars and LoRA metadata


def resolve_model(name_or_path: str) -> ResolvedModel:
    """``tiny`` → built; a spec name → its env var's directory or the local HF cache (never the hub:
    an InputError naming the env var, at once); an existing directory → that directory;
    ``owner/name`` → hub id. Anything else → InputError."""
    if not name_or_path:
        raise InputError(f"no model given: pass --model with a spec name ({', '.join(SPECS)}) or a directory")
    if name_or_path == "tiny":
        return ResolvedModel("tiny", SPECS["tiny"], None, "tiny")
    if name_or_path in SPECS:
        spec = get_spec(name_or_path)
        env = os.environ.get(spec.env_var or "", "")
        if env:
            path = Path(env).expanduser()
            check_diffusers_dir(path, hint=f"${spec.env_var}")
            return ResolvedModel("dir", spec, str(path), spec.name)
        cached = _hf_cached(spec.hub_id)
        if cached:
            return ResolvedModel("dir", spec, cached, spec.name)
        # A spec name never downloads (tens of GB, and minutes of retries when offline): say the
        # useful thing at once. Downloading is explicit: --model <hub id>.
        raise InputError(
            f"weights for {spec.name} not found locally: set {spec.env_var}=DIR (Diffusers layout), "
            f"pass --model DIR, or --model {spec.hub_id} to download them"
        )
    path = Path(name_or_path).expanduser()
    if path.exists():
        check_diffusers_dir(path, hint="--model")
        return ResolvedModel("dir", _guess_spec(path), str(path), str(path))
    if "/" in name_or_path and not name_or_path.startswith((".", "/")) and name_or_path.count("/") == 1:
        return ResolvedModel("hub", None, name_or_path, name_or_path)
    raise InputError(
        f"model {name_or_path!r} is neither a known spec ({', '.join(SPECS)}) nor an existing directory"
    )


def _hf_cached(hub_id: str | None) -> str | None:
    if not hub_id:
        return None
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return snapshot_download(hub_id, local_files_only=True)
    except LocalEntryNotFoundError:  # not in the cache; anything else (unreadable cache) is reported
        return None
    except OSError as exc:
        raise InputError(f"cannot read the Hugging Face cache for {hub_id}: {exc}") from None


def check_device(name: str | None) -> None:
    """InputError unless torch can use device ``name`` here (None: the caller's default)."""
    if name is None:
        return
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise InputError(f"unknown device {name!r}; use cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            why = "torch was built without CUDA" if torch.version.cuda is None else "no GPU is visible"
            raise InputError(f"device {name}: CUDA is not available ({why}); use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InputError(f"device {name}: only {torch.cuda.device_count()} GPU(s) visible")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise InputError(f"device {name}: MPS is not available on this machine; use --device cpu")
    elif dev.type == "xpu" and not (hasattr(torch, "xpu") and torch.xpu.is_available()):
        raise InputError(f"device {name}: XPU is not available on this machine; use --device cpu")


def check_diffusers_dir(path: Path, hint: str) -> None:
    if not path.is_dir():
        raise InputError(f"model path {path} (from {hint}) is not a directory")
    if not (path / "model_index.json").exists():
        raise InputError(f"{path} is not a Diffusers-layout model directory (no model_index.json)")


def _guess_spec(path: Path) -> ModelSpec | None:
    """Match a directory's transformer config against the spec table (sampling defaults and
    metadata). The 480p and 720p releases share one architecture: the folder's scheduler shift
    tells them apart (it only picks the spec; the shift used is the spec's)."""
    import json

    cfg_file = path / "transformer" / "config.json"
    if not cfg_file.exists():
        return None
    cfg = json.loads(cfg_file.read_text())
    keys = ("num_layers", "num_attention_heads", "attention_head_dim", "ffn_dim")
    matches = [s for s in SPECS.values() if all(cfg.get(k) == s.transformer[k] for k in keys)]
    if len(matches) > 1:
        sched_file = path / "scheduler" / "scheduler_config.json"
        shift = json.loads(sched_file.read_text()).get("flow_shift") if sched_file.exists() else None
        by_shift = [s for s in matches if s.flow_shift == shift]
        matches = by_shift or matches
    return matches[0] if matches else None


# --------------------------------------------------------------------------------------------
# building components from a spec (random weights)
# --------------------------------------------------------------------------------------------
def build_transformer(
    spec: ModelSpec, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu"
):
    """The spec's ``WanTransformer3DModel`` with random weights (``device="meta"`` allocates none)."""
    from diffusers import WanTransformer3DModel

    with torch.device(device):
        model = WanTransformer3DModel(**dict(spec.transformer))
    return model.to(dtype=dtype) if device != "meta" and dtype != torch.float32 else model


def meta_transformer(model: str):
    """The transformer of a spec name or a local Diffusers directory on the meta device: the right
    module names and shapes, no weights (checking LoRAs needs no download)."""
    from diffusers import WanTransformer3DModel

    if model in SPECS:
        return build_transformer(SPECS[model], device="meta")
    resolved = resolve_model(model)
    if resolved.kind != "dir":
        raise InputError(f"{model}: give a spec name ({', '.join(SPECS)}) or a local Diffusers directory")
    import json

    config = json.loads((Path(resolved.location) / "transformer" / "config.json").read_text())
    with torch.device("meta"):
        return WanTransformer3DModel.from_config(config)


def build_tokenizer(max_length: int = 512):
    """An offline byte-level tokenizer (ids 3..258 = bytes, 0 pad, 1 eos, 2 unk) for ``tiny``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    for ch in sorted(alphabet):
        vocab[ch] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=max_length,
    )


def tiny_components(seed: int = 0) -> dict:
    """A private copy of the ``tiny`` components: built once per process and seed, deep-copied per
    call (tests and trainers ask for many; building the models is the slow part)."""
    return copy.deepcopy(_tiny_components_cached(seed))


@functools.cache
def _tiny_components_cached(seed: int) -> dict:
    return build_tiny_components(seed)


def build_tiny_components(seed: int = 0) -> dict:
    """All components of the ``tiny`` pipeline, random weights, deterministic for ``seed``."""
    from diffusers import AutoencoderKLWan
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        CLIPVisionModel,
        UMT5Config,
        UMT5EncoderModel,
    )

    spec = SPECS["tiny"]
    torch.manual_seed(seed)
    vae = AutoencoderKLWan(**dict(spec.vae))
    torch.manual_seed(seed + 1)
    text_encoder = UMT5EncoderModel(UMT5Config(**dict(spec.text_encoder)))
    torch.manual_seed(seed + 2)
    image_encoder = CLIPVisionModel(CLIPVisionConfig(**dict(spec.image_encoder)))
    torch.manual_seed(seed + 3)
    transformer = build_transformer(spec)
    for module in (vae, text_encoder, image_encoder, transformer):
        module.eval()  # built modules start in training mode: umT5's dropout made sampling random
    size = spec.image_size
    return {
        "transformer": transformer,
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": build_tokenizer(spec.max_sequence_length),
        "image_encoder": image_encoder,
        "image_processor": CLIPImageProcessor(
            size={"shortest_edge": size}, crop_size={"height": size, "width": size}
        ),
        "scheduler": make_scheduler(spec.flow_shift, spec.scheduler),
    }


def save_tiny(path: str | os.PathLike, seed: int = 0) -> Path:
    """Write the ``tiny`` model as a Diffusers directory (loads back like the released model)."""
    from loomis.io import atomic_dir

    path = Path(path)
    pipe = build_tiny_pipeline(seed)
    with atomic_dir(path) as tmp:
        pipe.save_pretrained(tmp, safe_serialization=True)
    return path


def build_tiny_pipeline(seed: int = 0, dtype: torch.dtype = torch.float32):
    from diffusers import WanImageToVideoPipeline

    pipe = WanImageToVideoPipeline(**tiny_components(seed))
    return pipe.to(dtype=dtype) if dtype != torch.float32 else pipe


# --------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------
def load_transformer(model: ResolvedModel | str, dtype: torch.dtype = torch.bfloat16, tiny_seed: int = 0):
    """Only the DiT, in ``dtype``."""
    resolved = resolve_model(model) if isinstance(model, str) else model
    if resolved.kind == "tiny":
        transformer = tiny_components(tiny_seed)["transformer"]
        return transformer if dtype == torch.float32 else transformer.to(dtype)
    from diffusers import WanTransformer3DModel

    with _loading(resolved, "the transformer"):
        return WanTransformer3DModel.from_pretrained(
            resolved.location, subfolder="transformer", torch_dtype=dtype
        )


def load_frozen_components(
    model: ResolvedModel | str, dtype: torch.dtype = torch.bfloat16, tiny_seed: int = 0
) -> dict:
    """The frozen parts (vae, text_encoder, tokenizer, image_encoder, image_processor), without the
    DiT. The umT5 takes ``dtype``; the VAE and CLIP stay float32, as the Wan authors run them (bf16
    VAE decoding bands colours)."""
    resolved = resolve_model(model) if isinstance(model, str) else model
    if resolved.kind == "tiny":
        comps = tiny_components(tiny_seed)
        for name in ("transformer", "scheduler"):
            comps.pop(name)
        if dtype != torch.float32:
            comps["text_encoder"].to(dtype)
        return comps
    from diffusers import AutoencoderKLWan
    from transformers import AutoTokenizer, CLIPImageProcessor, CLIPVisionModel, UMT5EncoderModel

    loc = resolved.location
    with _loading(resolved, "the frozen encoders"):
        return {
            "vae": AutoencoderKLWan.from_pretrained(loc, subfolder="vae", torch_dtype=torch.float32),
            "text_encoder": UMT5EncoderModel.from_pretrained(
                loc, subfolder="text_encoder", torch_dtype=dtype
            ),
            "tokenizer": AutoTokenizer.from_pretrained(loc, subfolder="tokenizer"),
            "image_encoder": CLIPVisionModel.from_pretrained(
                loc, subfolder="image_encoder", torch_dtype=torch.float32
            ),
            "image_processor": CLIPImageProcessor.from_pretrained(loc, subfolder="image_processor"),
        }


@contextlib.contextmanager
def _loading(resolved: ResolvedModel, what: str):
    log.info("loading %s of %s from %s", what, resolved.label, resolved.location)
    try:
        yield
    except OSError as exc:  # missing subfolder/file: the user's directory is incomplete
        raise InputError(f"cannot load {what} from {resolved.location}: {str(exc).splitlines()[0]}") from None


def load_pipeline(model: ResolvedModel | str, dtype: torch.dtype = torch.bfloat16, seed: int = 0):
    """A ``WanImageToVideoPipeline`` for ``model`` from ``load_transformer`` and
    ``load_frozen_components``. The model folder's scheduler is not read: the sampler sets the
    solver and shift for every call from the resolved sampling settings (``loomis.sampler``)."""
    from loomis.sampler import build_pipeline

    resolved = resolve_model(model) if isinstance(model, str) else model
    return build_pipeline(
        load_transformer(resolved, dtype, seed), load_frozen_components(resolved, dtype, seed), resolved.spec
    )
