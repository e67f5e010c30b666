"""``loomis-data cache DATASET --model NAME|DIR``: run the frozen encoders once.

Stores, per training item (a sample, and with ``--variants`` each of its media variants), the
VAE latents of the reversed clip, the I2V condition, the umT5 prompt embeddings (at the prompt's
real length) and the CLIP image tokens, with the medium and prompt, as bf16 safetensors shards
under ``OUT`` (default ``DATASET/cache``; format in ``loomis.cache``). Prints the bytes per item
and the total. The clip options must match the training config (``data.frames``,
``data.size``, …): the trainer checks ``cache.json`` and refuses a mismatch.

Resumable (complete shards are kept, their items skipped) and sharded across ranks: under
``torchrun --no-python --nproc_per_node N loomis-data cache …`` (or any launcher setting ``RANK`` and
``WORLD_SIZE``) each rank encodes every N-th missing item.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from loomis.cli import output_arg, size_arg
from loomis.errors import InputError

log = logging.getLogger(__name__)


def register(sub) -> None:
    p = sub.add_parser("cache", help="store the frozen VAE/umT5/CLIP outputs for training")
    p.add_argument("dataset", help="dataset directory (loomis-data layout)")
    p.add_argument("--model", required=True, help="model spec name (e.g. tiny) or Diffusers directory")
    p.add_argument(
        "--out", type=output_arg("dir", create=True), help="cache directory (default: DATASET/cache)"
    )
    p.add_argument("--config", default=None, help="take the clip options from a training YAML's data section")
    p.add_argument("--frames", type=int, default=None, help="clip length, 4k+1 (default: config or 81)")
    p.add_argument("--size", type=size_arg, help="base bucket WxH, e.g. 832x480 (default: config or 832x480)")
    p.add_argument("--no-aspect-buckets", action="store_true", help="only the base bucket")
    p.add_argument("--resample", choices=["progress", "time"], default=None, help="frame spacing")
    p.add_argument(
        "--condition",
        choices=["last_frame", "reference"],
        default=None,
        help="condition image of the real-painting items",
    )
    p.add_argument("--variants", action="store_true", help="also cache every media variant (stage 2)")
    p.add_argument("--split", default="train", help="dataset split")
    p.add_argument("--on-bad", choices=["skip", "error"], default="skip", help="bad-sample policy")
    p.add_argument("--shard-size", type=int, default=16, help="items per shard file")
    p.add_argument(
        "--dtype",
        choices=["float32", "bfloat16"],
        default="bfloat16",
        help="storage dtype (bfloat16: ~10.9 MB per 81-frame 480p item; float32 reproduces on-the-fly "
        "encoding exactly, at twice the size)",
    )
    p.add_argument("--encoder-dtype", default="bfloat16", help="umT5 dtype (VAE and CLIP run in float32)")
    p.add_argument("--rank", type=int, default=None, help="this process's shard (default: $RANK or 0)")
    p.add_argument("--world", type=int, default=None, help="number of shards (default: $WORLD_SIZE or 1)")
    p.set_defaults(func=_run)


def _clip_options(args):
    """Clip options: ClipOptions defaults ← a training YAML's ``data:`` section ← the flags."""
    import dataclasses

    from loomis.clips import ClipOptions, check_clip_options

    opts = ClipOptions()
    if args.config:
        from loomis.configfile import load_yaml

        data = load_yaml(args.config).get("data") or {}
        names = {f.name for f in dataclasses.fields(ClipOptions)}
        opts = dataclasses.replace(opts, **{k: v for k, v in data.items() if k in names})
    opts.split, opts.on_bad = args.split, args.on_bad
    if args.frames is not None:
        from loomis.geometry import check_frames

        opts.frames = check_frames(args.frames)
    if args.size:
        m = re.match(r"^(\d+)x(\d+)$", args.size)
        if not m:
            raise InputError(f"--size must be WxH (e.g. 832x480), got {args.size!r}")
        opts.size = [int(m.group(1)), int(m.group(2))]
    if args.no_aspect_buckets:
        opts.aspect_buckets = False
    if args.resample:
        opts.resample = args.resample
    opts.condition = args.condition or ("last_frame" if opts.condition == "variants" else opts.condition)
    check_clip_options(opts, "--config data." if args.config else "")  # frames 4k+1, sizes ×16, …
    return opts


def _run(args) -> int:
    import dataclasses

    import torch

    from loomis.cache import build_cache, cache_bytes
    from loomis.cli import progress_enabled
    from loomis.clips import load_items
    from loomis.encoders import load_encoders
    from loomis.models import parse_dtype, resolve_model

    opts = _clip_options(args)
    rank = args.rank if args.rank is not None else int(os.environ.get("RANK", "0"))
    world = args.world if args.world is not None else int(os.environ.get("WORLD_SIZE", "1"))
    if not 0 <= rank < world:
        raise InputError(f"--rank {rank} must lie in [0, --world {world})")
    resolved = resolve_model(args.model)
    items = load_items(args.dataset, opts)
    if args.variants:
        items += load_items(args.dataset, dataclasses.replace(opts, condition="variants"))
    out = Path(args.out) if args.out else Path(args.dataset) / "cache"
    device = (
        torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0"))) if torch.cuda.is_available() else "cpu"
    )
    comps = load_encoders(resolved, parse_dtype(args.encoder_dtype), device)
    counts = build_cache(
        items, opts, comps, out, resolved.label, rank=rank, world=world, shard_size=args.shard_size,
        dtype=parse_dtype(args.dtype), device=device, progress=progress_enabled(),
    )  # fmt: skip
    n, total = cache_bytes(out)
    log.info(
        "cache %s: %d items, %d were cached already, rank %d/%d wrote %d",
        out, counts["items"], counts["already_cached"], rank, world, counts["written_by_this_rank"],
    )  # fmt: skip
    per = total / max(n, 1)
    print(f"{out}: {n} items, {per / 1e6:.2f} MB per item ({per:.0f} bytes), {total / 1e9:.3f} GB in all")
    return 0
