"""``loomis-data``: dataset building. Each subcommand lives in its own module ``cmd_<name>.py``
exposing ``register(subparsers)``, which adds its parser and sets ``func`` (a callable taking the
parsed args and returning an exit code)."""

from __future__ import annotations

import importlib
import sys

from loomis.cli import ArgumentParser, run_main, setup_logging

SUBCOMMANDS = ["curate", "synth", "caption", "variants", "cache", "inspect", "import"]


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="loomis-data", description="Build Loomis training datasets.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{" + ",".join(SUBCOMMANDS) + "}")
    for name in SUBCOMMANDS:
        importlib.import_module(f"loomis_data.cmd_{name}").register(sub)
    return parser


def _main(argv) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    return args.func(args)


def main(argv=None) -> int:
    sys.exit(run_main(_main, argv))


if __name__ == "__main__":
    main()
