"""Shared entry-point plumbing for the applications' command lines.

The library proper never parses arguments; this module only gives every console script the same
contract (DESIGN.md): ``--help`` shows defaults, bad input is a one-line ``error: …`` on stderr with
exit code 2, internal failures exit 1, logging is configured once and only on rank 0.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

from loomis.errors import InputError

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE = 0, 1, 2


class ArgumentParser(argparse.ArgumentParser):
    """argparse with defaults shown in ``--help`` and one-line usage errors (exit 2)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # noqa: D102 - argparse API
        raise InputError(f"{message} (see '{self.prog} --help')")


def rank() -> int:
    """Global rank under torchrun / deepspeed launchers (0 when not distributed)."""
    for var in ("RANK", "LOCAL_RANK"):
        if var in os.environ:
            try:
                return int(os.environ[var])
            except ValueError:
                pass
    return 0


def setup_logging(verbose: bool = False) -> None:
    """INFO on rank 0, WARNING elsewhere; called by entry points only."""
    level = logging.DEBUG if verbose else logging.INFO
    if rank() != 0:
        level = logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    for noisy in ("httpx", "urllib3", "PIL", "matplotlib", "diffusers", "transformers"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def progress_enabled() -> bool:
    """Progress bars only on rank 0 and when stdout is a terminal (DESIGN.md); stderr, where the
    bar is drawn, must be one too so that logs never fill with carriage returns."""
    return sys.stdout.isatty() and sys.stderr.isatty() and rank() == 0


def run_main(fn: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None) -> int:
    """Run an entry point body, mapping exceptions onto exit codes; never returns a traceback for
    user errors."""
    try:
        code = fn(argv)
        return EXIT_OK if code is None else int(code)
    except InputError as exc:
        msg = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        print(f"error: {msg}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:  # argparse --help exits 0 through here
        return int(exc.code or 0) if isinstance(exc.code, int) or exc.code is None else EXIT_USAGE


def not_built(prog: str, issue: str, argv: Sequence[str] | None) -> int:
    """Body of a command whose implementation has not landed yet: --help works, anything else
    is a clear exit 2 (no fake behaviour)."""
    parser = ArgumentParser(prog=prog, description=f"{prog}: not yet built ({issue}).")
    parser.parse_known_args(argv)
    raise InputError(f"{prog} is not yet built ({issue})")
