"""What the DiT trains on: per-item latents, I2V condition, prompt and CLIP embeddings.

Two sources with one interface (``keys``, ``buckets``, ``batch(indices) -> dict``):

* ``OnlineFeatures`` runs the frozen encoders on the fly (``loomis.encoders``).
* ``CachedFeatures`` reads what ``loomis-data cache`` stored; then only the DiT is loaded.

Cache layout (``CACHE/``)::

    cache.json                      settings the features depend on (frames, size, buckets, …)
    shard-<hash>.safetensors        tensors "<key>/latents|condition|prompt_embeds|image_embeds",
                                    header "items": [{"key", "id", "variant", "bucket"}]

A shard appears only when complete (atomic rename), so an interrupted cache run resumes by
skipping keys already in a shard. Ranks take every world-th missing item.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from loomis import encoders
from loomis.errors import InputError
from loomis.io import atomic_path, write_json

from .config import DataConfig
from .data import Item, bucket_list, load_clip

log = logging.getLogger(__name__)

FIELDS = ("latents", "condition", "prompt_embeds", "image_embeds")
CACHE_VERSION = 1
MANIFEST = "cache.json"


def cache_settings(cfg: DataConfig, model_label: str) -> dict:
    """What cached features depend on; a trainer whose config differs must not use them."""
    return {
        "version": CACHE_VERSION,
        "model": model_label,
        "frames": cfg.frames,
        "size": list(cfg.size),
        "buckets": [list(b) for b in bucket_list(cfg)],
        "resample": cfg.resample,
        "pad_value": cfg.pad_value,
        "reference_condition": cfg.condition == "reference",
    }


class OnlineFeatures:
    """Encodes items with the frozen VAE / umT5 / CLIP as batches are drawn."""

    def __init__(self, items: list[Item], cfg: DataConfig, comps: dict, device: torch.device):
        self.items, self.cfg, self.comps, self.device = items, cfg, comps, device
        self.memo: dict[str, dict[str, torch.Tensor]] = {}  # encodings are deterministic: reuse them

    @property
    def keys(self) -> list[str]:
        return [it.key for it in self.items]

    @property
    def buckets(self) -> list[tuple[int, int]]:
        return [it.bucket for it in self.items]

    def encode(self, items: list[Item]) -> dict[str, torch.Tensor]:
        clips = [load_clip(it, self.cfg) for it in items]
        c = self.comps
        video = torch.stack([cl["video"] for cl in clips]).to(self.device)
        image = torch.stack([encoders.image_to_tensor(cl["image"]) for cl in clips]).to(self.device)
        return {
            "latents": encoders.encode_video(c["vae"], video),
            "condition": encoders.encode_condition(c["vae"], image, self.cfg.frames),
            "prompt_embeds": encoders.encode_prompts(
                c["tokenizer"], c["text_encoder"], [cl["prompt"] for cl in clips]
            ),
            "image_embeds": encoders.encode_images(
                c["image_processor"], c["image_encoder"], [cl["image"] for cl in clips]
            ),
        }

    def batch(self, indices: list[int]) -> dict[str, torch.Tensor]:
        """Items are encoded one at a time (as the cache stores them, so cached and on-the-fly runs
        see identical tensors) and kept in memory up to ``data.memo_items``."""
        feats = []
        for i in indices:
            key = self.items[i].key
            f = self.memo.get(key)
            if f is None:
                f = {k: v[0].cpu() for k, v in self.encode([self.items[i]]).items()}
                if len(self.memo) < self.cfg.memo_items:
                    self.memo[key] = f
            feats.append(f)
        return {k: torch.stack([f[k] for f in feats]) for k in FIELDS}


class CachedFeatures:
    """Reads features from a cache directory, checked against the training config."""

    def __init__(self, cache_dir: str | Path, cfg: DataConfig, model_label: str, variants: bool):
        self.root = Path(cache_dir)
        manifest = json.loads((self.root / MANIFEST).read_text())
        check_settings(manifest, cache_settings(cfg, model_label), self.root)
        self.entries = [
            e
            for e in scan_shards(self.root).values()
            if (e["variant"] is not None) == variants
            and (not cfg.variant_mediums or e["variant"] is None or e["variant"] in cfg.variant_mediums)
        ]
        self.entries.sort(key=lambda e: e["key"])
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

    def batch(self, indices: list[int]) -> dict[str, torch.Tensor]:
        out: dict[str, list[torch.Tensor]] = {f: [] for f in FIELDS}
        for i in indices:
            e = self.entries[i]
            with safe_open(str(e["shard"]), framework="pt", device="cpu") as f:
                for name in FIELDS:
                    out[name].append(f.get_tensor(f"{e['key']}/{name}").float())
        return {k: torch.stack(v) for k, v in out.items()}


def check_settings(found: dict, wanted: dict, root: Path) -> None:
    for k, v in wanted.items():
        if k == "model":
            if found.get(k) != v:
                log.warning("cache %s was built with model %s, training uses %s", root, found.get(k), v)
            continue
        if found.get(k) != v:
            raise InputError(
                f"config key data.{k if k in DataConfig.__dataclass_fields__ else 'cache'}: the cache "
                f"{root} was built with {k}={found.get(k)!r}, the config has {v!r}; rebuild the cache "
                f"with matching options or change the config"
            )


def scan_shards(root: Path) -> dict[str, dict]:
    """key → {"key", "id", "variant", "bucket", "shard"} over all complete shards."""
    out = {}
    for shard in sorted(root.glob("shard-*.safetensors")):
        with safe_open(str(shard), framework="pt", device="cpu") as f:
            for e in json.loads((f.metadata() or {}).get("items", "[]")):
                out[e["key"]] = {**e, "shard": shard}
    return out


def build_cache(
    items: list[Item],
    cfg: DataConfig,
    comps: dict,
    out: Path,
    model_label: str,
    *,
    rank: int = 0,
    world: int = 1,
    shard_size: int = 16,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    progress: bool = False,
) -> dict:
    """Encode this rank's share of the items not yet cached; returns counts."""
    out.mkdir(parents=True, exist_ok=True)
    settings = cache_settings(cfg, model_label)
    if (out / MANIFEST).exists():
        check_settings(json.loads((out / MANIFEST).read_text()), settings, out)
    elif rank == 0:
        write_json(out / MANIFEST, settings)
    done = scan_shards(out)
    ordered = sorted(items, key=lambda it: it.key)
    mine = [it for i, it in enumerate(ordered) if i % world == rank and it.key not in done]
    source = OnlineFeatures(mine, cfg, comps, torch.device(device))
    from tqdm import tqdm

    bar = tqdm(total=len(mine), disable=not progress, desc=f"cache rank {rank}")
    written = 0
    for start in range(0, len(mine), shard_size):
        chunk = mine[start : start + shard_size]
        tensors, meta = {}, []
        for it in chunk:  # one at a time: items of a shard may sit in different buckets
            feats = source.encode([it])
            for name in FIELDS:
                tensors[f"{it.key}/{name}"] = feats[name][0].to(dtype).contiguous().cpu()
            meta.append(
                {
                    "key": it.key,
                    "id": it.sample.id,
                    "variant": (it.variant or {}).get("medium"),
                    "bucket": list(it.bucket),
                }
            )
            bar.update(1)
        name = hashlib.sha256("\n".join(m["key"] for m in meta).encode()).hexdigest()[:16]
        with atomic_path(out / f"shard-{name}.safetensors") as tmp:
            save_file(tensors, str(tmp), metadata={"items": json.dumps(meta)})
        written += len(chunk)
    bar.close()
    return {
        "items": len(items),
        "already_cached": sum(1 for it in ordered if it.key in done),
        "written_by_this_rank": written,
    }
