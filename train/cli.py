"""``loomis-train CONFIG.yaml``: LoRA training of Wan 2.1 I2V on reversed painting videos.

Single process, or under ``deepspeed`` / ``torchrun`` (one process per GPU). Flags override the
config; ``--set a.b=c`` reaches any key. Config errors exit 2 with a one-line ``error:``; a loss
that turns NaN/inf stops the run with exit 1 and a usable last checkpoint.
"""

from __future__ import annotations

import argparse
import logging
import sys

from loomis.cli import ArgumentParser, float_range, run_main, setup_logging

log = logging.getLogger("loomis_train")


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="loomis-train", description="Train a Loomis painting LoRA on Wan 2.1 I2V.")
    p.add_argument("config", help="YAML config (see configs/base.yaml, transfer.yaml, tiny.yaml)")
    p.add_argument("--model", default=None, help="model spec name or Diffusers directory (model.name)")
    p.add_argument("--data", default=None, help="dataset directory (data.path)")
    p.add_argument("--output", default=None, help="run directory (train.output)")
    p.add_argument("--max-steps", type=int, default=None, help="optimizer steps (train.max_steps)")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in the output")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any config key, e.g. --set optim.lr=5e-5 (repeatable)",
    )
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the per-GPU memory estimate and FLOPs per step and exit (2 if it does not fit)",
    )
    p.add_argument(
        "--gpu-memory",
        type=float_range(1.0, 4096.0, "GiB per GPU"),
        default=None,
        metavar="GIB",
        help="with --dry-run: the GPU's memory (default: this machine's GPU, else 80)",
    )
    p.add_argument(
        "--world",
        type=int,
        default=None,
        help="with --dry-run: the number of GPUs (default: $WORLD_SIZE or 1)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    # the deepspeed launcher appends --local_rank=N (the rank also comes from the environment)
    p.add_argument("--local_rank", "--local-rank", type=int, default=None, help=argparse.SUPPRESS)
    return p


def _main(argv) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    from .config import load_config

    overrides = {
        "model.name": args.model,
        "data.path": args.data,
        "train.output": args.output,
        "train.max_steps": args.max_steps,
    }
    cfg = load_config(args.config, args.set, overrides, check_paths=not (args.print_config or args.dry_run))
    if args.dry_run:
        return _dry_run(cfg, args)
    if args.print_config:
        import yaml

        print(yaml.safe_dump(cfg.to_dict(), sort_keys=False), end="")
        return 0
    from . import distributed as D
    from .trainer import Trainer, TrainingDiverged

    env = D.init()
    try:
        result = Trainer(cfg, env).run(resume=args.resume)
    except TrainingDiverged as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        D.shutdown()
    if env.is_main:
        last = result.losses[-1][1] if result.losses else float("nan")
        log.info("done: step %d, last loss %.5f, LoRA %s", result.step, last, result.lora_path)
    return 0


def _dry_run(cfg, args) -> int:
    from . import distributed as D
    from .estimate import GIB, fix_it, for_config, gpu_memory_bytes

    world = args.world or D.launched_world()
    gpu = args.gpu_memory * GIB if args.gpu_memory else (gpu_memory_bytes() or 80 * GIB)
    est = for_config(cfg, world, "cuda")
    print(f"loomis-train dry run: {cfg.model.name}, {cfg.data.frames} frames at {cfg.data.size[0]}x"
          f"{cfg.data.size[1]}, batch {cfg.data.batch_size}, {world} GPU(s) of {gpu / GIB:.0f} GiB")  # fmt: skip
    print(est.table())
    if est.total > gpu:
        print(f"error: {fix_it(est, cfg, gpu)}", file=sys.stderr)
        return 2
    print(f"fits: {(gpu - est.total) / GIB:.1f} GiB to spare")
    return 0


def main(argv=None) -> int:
    sys.exit(run_main(_main, argv))


if __name__ == "__main__":
    main()
