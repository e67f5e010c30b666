"""The latent cache: what ``loomis-data cache`` writes and the trainer reads instead of a dataset.

Layout (``CACHE/``)::

    cache.json                  settings the features depend on (frames, size, buckets, …) + dtype
    shard-<hash>.safetensors    tensors "<key>/latents|condition|prompt_embeds|image_embeds",
                                header "items": [{"key", "id", "variant", "bucket", "medium",
                                "prompt", "tokens"}]

Compact by design (format 2): tensors in bf16 by default, and the umT5 embeddings stored at the
prompt's real token length (``tokens`` rows) and zero-padded to 512 when read, which is exactly
what the encoder produced (it zeroes every row past the prompt). The medium and prompt ride in the
header, so training from a cache needs neither the encoders nor ``dataset.jsonl``.

Per 81-frame 480p item (21×60×104 latents): latents 16 ch + condition 20 ch = 4.72 M values,
CLIP tokens 257×1280, umT5 L×4096 — 10.9 MB in bf16 with a 100-token prompt (≤ 12 MB up to 230
tokens), against 28.6 MB for format 1 (fp32, prompts padded to 512). ``item_bytes`` computes both.

A shard appears only when complete (atomic rename), so an interrupted cache run resumes by
skipping keys already in a shard. Ranks take every world-th missing item.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import torch

from loomis import encoders
from loomis.clips import ClipOptions, Item, bucket_list, load_clip
from loomis.errors import InputError

log = logging.getLogger(__name__)

FIELDS = ("latents", "condition", "prompt_embeds", "image_embeds")
CACHE_VERSION = 2
MANIFEST = "cache.json"
TEXT_LEN = encoders.MAX_SEQUENCE_LENGTH


def cache_settings(opts: ClipOptions, model_label: str) -> dict:
    """What cached features depend on; a trainer whose config differs must not use them."""
    return {
        "version": CACHE_VERSION,
        "model": model_label,
        "frames": opts.frames,
        "size": list(opts.size),
        "buckets": [list(b) for b in bucket_list(opts)],
        "resample": opts.resample,
        "pad_value": opts.pad_value,
        "reference_condition": opts.condition == "reference",
    }


def item_bytes(
    frames: int, width: int, height: int, tokens: int, dtype_bytes: int = 2, padded: bool = False
) -> int:
    """Bytes of one cached item of Wan 2.1 I2V 14B (VAE z=16, umT5 4096, CLIP-H 257×1280) without
    the file header: ``dtype_bytes=4, padded=True`` is format 1, the defaults format 2."""
    lat = 16 * ((frames - 1) // 4 + 1) * (height // 8) * (width // 8)
    text = (TEXT_LEN if padded else tokens) * 4096
    return (lat + (lat // 16) * 20 + text + 257 * 1280) * dtype_bytes


# --------------------------------------------------------------------------------------------
# encoding
# --------------------------------------------------------------------------------------------
def encode_items(items: list[Item], opts: ClipOptions, comps: dict, device) -> dict[str, torch.Tensor]:
    """The frozen VAE / umT5 / CLIP outputs of a batch of items (float32, prompts padded to 512)."""
    clips = [load_clip(it, opts) for it in items]
    video = torch.stack([cl["video"] for cl in clips]).to(device)
    image = torch.stack([encoders.image_to_tensor(cl["image"]) for cl in clips]).to(device)
    return {
        "latents": encoders.encode_video(comps["vae"], video),
        "condition": encoders.encode_condition(comps["vae"], image, opts.frames),
        "prompt_embeds": encoders.encode_prompts(
            comps["tokenizer"], comps["text_encoder"], [cl["prompt"] for cl in clips]
        ),
        "image_embeds": encoders.encode_images(
            comps["image_processor"], comps["image_encoder"], [cl["image"] for cl in clips]
        ),
    }


def trim_text(embeds: torch.Tensor) -> torch.Tensor:
    """(512, D) → (L, D): drop the all-zero rows past the prompt (``pad_text`` restores them)."""
    nonzero = embeds.abs().amax(dim=-1) > 0
    n = int(nonzero.nonzero().max()) + 1 if bool(nonzero.any()) else 0
    return embeds[:n]


def pad_text(embeds: torch.Tensor, length: int = TEXT_LEN) -> torch.Tensor:
    return torch.nn.functional.pad(embeds, (0, 0, 0, length - embeds.shape[0]))


# --------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------
def check_settings(found: dict, wanted: dict, root: Path) -> None:
    if found.get("version") != wanted["version"]:
        raise InputError(
            f"config key data.cache: {root} is a cache of format {found.get('version')}, this Loomis "
            f"reads format {wanted['version']}; rebuild it with loomis-data cache"
        )
    for k, v in wanted.items():
        if k == "model":
            if found.get(k) != v:
                log.warning("cache %s was built with model %s, training uses %s", root, found.get(k), v)
            continue
        if found.get(k) != v:
            key = k if k in ClipOptions.__dataclass_fields__ else "cache"
            raise InputError(
                f"config key data.{key}: the cache {root} was built with {k}={found.get(k)!r}, the "
                f"config has {v!r}; rebuild the cache with matching options or change the config"
            )


def scan_shards(root: Path) -> dict[str, dict]:
    """key → {"key", "id", "variant", "bucket", "medium", "prompt", "shard"} over complete shards."""
    from safetensors import safe_open

    out = {}
    for shard in sorted(Path(root).glob("shard-*.safetensors")):
        with safe_open(str(shard), framework="pt", device="cpu") as f:
            for e in json.loads((f.metadata() or {}).get("items", "[]")):
                out[e["key"]] = {**e, "shard": shard}
    return out


class CacheReader:
    """The items of a cache (filtered to real paintings or variants), checked against the config;
    ``batch`` returns float32 tensors with prompts padded to 512 tokens."""

    def __init__(self, root: str | Path, opts: ClipOptions, model_label: str):
        self.root = Path(root)
        manifest = json.loads((self.root / MANIFEST).read_text())
        check_settings(manifest, cache_settings(opts, model_label), self.root)
        variants = opts.condition == "variants"
        self.entries = sorted(
            (
                e
                for e in scan_shards(self.root).values()
                if (e["variant"] is not None) == variants
                and (not opts.variant_mediums or e["variant"] is None or e["variant"] in opts.variant_mediums)
            ),
            key=lambda e: e["key"],
        )
        if not self.entries:
            kind = "variant" if variants else "real-painting"
            raise InputError(
                f"config key data.cache: {self.root} holds no {kind} items; run loomis-data cache "
                f"{'--variants ' if variants else ''}on the dataset"
            )

    @property
    def keys(self) -> list[str]:
        return [e["key"] for e in self.entries]

    @property
    def buckets(self) -> list[tuple[int, int]]:
        return [tuple(e["bucket"]) for e in self.entries]

    @property
    def mediums(self) -> list[str]:
        return sorted({e["medium"] for e in self.entries})

    def batch(self, indices: list[int]) -> dict[str, torch.Tensor]:
        from safetensors import safe_open

        out: dict[str, list[torch.Tensor]] = {f: [] for f in FIELDS}
        for i in indices:
            e = self.entries[i]
            with safe_open(str(e["shard"]), framework="pt", device="cpu") as f:
                for name in FIELDS:
                    t = f.get_tensor(f"{e['key']}/{name}").float()
                    out[name].append(pad_text(t) if name == "prompt_embeds" else t)
        return {k: torch.stack(v) for k, v in out.items()}


def cache_bytes(root: str | Path) -> tuple[int, int]:
    """(items, total bytes of the shard files)."""
    shards = list(Path(root).glob("shard-*.safetensors"))
    return len(scan_shards(root)), sum(p.stat().st_size for p in shards)


# --------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------
def _item_header(it: Item, tokens: int) -> dict:
    return {
        "key": it.key,
        "id": it.sample.id,
        "variant": (it.variant or {}).get("medium"),
        "bucket": list(it.bucket),
        "medium": it.sample.medium,
        "prompt": it.prompt,
        "tokens": tokens,
    }


def _write_shard(out: Path, tensors: dict, meta: list[dict]) -> None:
    from safetensors.torch import save_file

    from loomis.io import atomic_path

    name = hashlib.sha256("\n".join(m["key"] for m in meta).encode()).hexdigest()[:16]
    with atomic_path(out / f"shard-{name}.safetensors") as tmp:
        save_file(tensors, str(tmp), metadata={"items": json.dumps(meta)})


def build_cache(
    items: list[Item],
    opts: ClipOptions,
    comps: dict,
    out: Path,
    model_label: str,
    *,
    rank: int = 0,
    world: int = 1,
    shard_size: int = 16,
    dtype: torch.dtype = torch.bfloat16,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> dict:
    """Encode this rank's share of the items not yet cached; returns counts."""
    from tqdm import tqdm

    from loomis.io import write_json

    out.mkdir(parents=True, exist_ok=True)
    settings = cache_settings(opts, model_label)
    if (out / MANIFEST).exists():
        check_settings(json.loads((out / MANIFEST).read_text()), settings, out)
    elif rank == 0:
        write_json(out / MANIFEST, {**settings, "dtype": str(dtype).removeprefix("torch.")})
    done = scan_shards(out)
    ordered = sorted(items, key=lambda it: it.key)
    mine = [it for i, it in enumerate(ordered) if i % world == rank and it.key not in done]
    bar = tqdm(total=len(mine), disable=not progress, desc=f"cache rank {rank}")
    for start in range(0, len(mine), shard_size):
        tensors, meta = {}, []
        for it in mine[start : start + shard_size]:  # one at a time: items may sit in different buckets
            feats = encode_items([it], opts, comps, torch.device(device))
            for name in FIELDS:
                t = feats[name][0]
                t = trim_text(t) if name == "prompt_embeds" else t
                tensors[f"{it.key}/{name}"] = t.to(dtype).contiguous().cpu()
            meta.append(_item_header(it, tensors[f"{it.key}/prompt_embeds"].shape[0]))
            bar.update(1)
        _write_shard(out, tensors, meta)
    bar.close()
    return {
        "items": len(items),
        "already_cached": sum(1 for it in ordered if it.key in done),
        "written_by_this_rank": len(mine),
    }
