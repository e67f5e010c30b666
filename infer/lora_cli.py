"""``loomis-lora {inspect,convert,check}``: LoRA files — show, convert between key formats, check
against a base model."""

from __future__ import annotations

import json
import sys

from loomis.cli import ArgumentParser, output_arg, run_main, setup_logging

# loomis.lora imports torch; --help must not (tests/test_entrypoints.py keeps this equal to lora.FORMATS)
KEY_FORMATS = ("diffusers", "comfyui", "musubi")


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="loomis-lora", description="Inspect, convert and check Wan 2.1 LoRA files.")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)
    i = sub.add_parser(
        "inspect", help="format, rank, alpha, targets, blocks, metadata", formatter_class=p.formatter_class
    )
    i.add_argument("file", help="LoRA .safetensors file")
    i.add_argument("--json", action="store_true", help="print JSON instead of text")
    c = sub.add_parser("convert", help="rewrite in another key format", formatter_class=p.formatter_class)
    c.add_argument("input", help="LoRA file in any supported format")
    c.add_argument("output", type=output_arg("file"), help="output .safetensors path (written atomically)")
    c.add_argument("--to", required=True, choices=KEY_FORMATS, help="target key format")
    k = sub.add_parser("check", help="check that a LoRA fits a base model", formatter_class=p.formatter_class)
    k.add_argument("file", help="LoRA .safetensors file")
    k.add_argument(
        "--model",
        default="wan2.1-i2v-14b-480p",
        help="spec name (checked without weights, on the meta device) or a Diffusers directory",
    )
    return p


def inspect_lora(path) -> dict:
    from loomis.lora import read_lora

    lora = read_lora(path)
    n_params = sum(v.numel() for v in lora.state_dict.values())
    dtypes = sorted({str(v.dtype).removeprefix("torch.") for v in lora.state_dict.values()})
    return {
        "file": str(lora.path),
        "format": lora.format,
        "rank": lora.rank,
        "alpha": lora.alpha,
        "targets": lora.targets,
        "blocks": len(lora.blocks),
        "tensors": len(lora.state_dict),
        "parameters": n_params,
        "dtypes": dtypes,
        "metadata": None if lora.metadata is None else lora.metadata.__dict__,
    }


def _main(argv) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    if args.command == "inspect":
        info = inspect_lora(args.file)
        if args.json:
            print(json.dumps(info, indent=2))
        else:
            for k, v in info.items():
                print(f"{k:>10}: {v}")
    elif args.command == "convert":
        from loomis.lora import convert_lora

        out = convert_lora(args.input, args.output, args.to)
        print(f"wrote {out} ({args.to} format)")
    elif args.command == "check":
        from loomis.lora import check_fits, read_lora
        from loomis.models import meta_transformer

        lora = read_lora(args.file)
        check_fits(lora, meta_transformer(args.model), args.model)
        print(f"ok: all {len(lora.state_dict)} tensors fit {args.model}")
    return 0


def main(argv=None) -> int:
    sys.exit(run_main(_main, argv))
