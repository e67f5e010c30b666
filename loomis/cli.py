"""Shared entry-point plumbing for the applications' command lines.

The library proper never parses arguments; this module only gives every console script the same
contract (docs/contract.md): ``--help`` shows defaults, bad input is a one-line ``error: …`` on
stderr with exit code 2 — numbers and output paths checked while parsing, before any work —,
internal failures exit 1, SIGINT/SIGTERM/SIGHUP exit 128+N with temporaries removed, and logging
is configured once and only on rank 0.

This module imports nothing heavy (no torch, numpy or PIL): ``--help`` must stay fast.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence

from loomis.errors import InputError

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE = 0, 1, 2

# --------------------------------------------------------------------------------------------
# Limits every command shares, with the reason a user is shown when they are exceeded.
# --------------------------------------------------------------------------------------------
MAX_FRAMES = 1001
MAX_FRAMES_WHY = "every frame is held in memory: 1001 frames at 832x480 are 1.2 GB; Wan was trained on 81"
MAX_STEPS = 1000
MAX_STEPS_WHY = "the flow-matching schedule has 1000 timesteps; more steps add time, not detail"
MAX_FPS = 120.0
MAX_FPS_WHY = "players cannot show more; GIF/WebP delays are whole milliseconds"
MAX_SIDE = 2048
MAX_SIDE_WHY = "memory grows with the pixel count; Wan was trained at 480p/720p"
MIN_SIDE = 16
MIN_SIDE_WHY = "one Wan latent patch is 16x16 pixels"
MAX_GUIDANCE = 30.0
MAX_GUIDANCE_WHY = "past ~20 colours burn out"
MAX_SEED = 2**32 - 1
MAX_SEED_WHY = "numpy's seed range"
DEVICE_RE = re.compile(r"^(cpu|cuda(:\d+)?|mps|xpu(:\d+)?)$")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults in ``--help``, but only where they say something: no "(default: None)" or
    "(default: False)" noise, and none where the help text already states the default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" in text
            or "default" in text.lower()
            or default is None
            or default is False
            or default == []
            or default is argparse.SUPPRESS
        ):
            return text
        return super()._get_help_string(action)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with meaningful defaults shown in ``--help``, one-line usage errors (exit 2), and
    every numeric option validated: a plain ``type=int``/``type=float`` (or an untyped
    ``--device``) is replaced, before parsing, by the ranged validator ``NUMERIC_OPTIONS`` holds
    for its name — the same limits for ``--frames`` in every command. A float option not in the
    table still refuses NaN/inf; ``tests/test_cli_limits.py`` requires every numeric option of
    every command to have a range."""

    def __init__(self, *args, **kwargs):
        if kwargs.get("formatter_class") in (None, argparse.ArgumentDefaultsHelpFormatter):
            kwargs["formatter_class"] = HelpFormatter  # subcommands asking for the stock one too
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args=None, namespace=None):  # noqa: D102 - argparse API
        apply_validators(self)
        return super().parse_known_args(args, namespace)

    def error(self, message: str):  # noqa: D102 - argparse API
        raise InputError(f"{message} (see '{self.prog} --help')")


def apply_validators(parser: argparse.ArgumentParser) -> None:
    """Swap plain int/float types (and untyped ``device`` options) for the shared validators."""
    for action in parser._actions:
        if action.type in (int, float):
            action.type = NUMERIC_OPTIONS.get(action.dest) or (finite_float if action.type is float else int)
        elif action.dest == "device" and action.type is None and action.option_strings:
            action.type = device_arg


# --------------------------------------------------------------------------------------------
# argparse ``type=`` validators: a range, NaN/inf refused, an upper bound with its reason
# --------------------------------------------------------------------------------------------
def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else f"{v:g}"


def _bounds(lo, hi, why: str) -> str:
    rng = f"from {_num(lo)} to {_num(hi)}" if hi is not None else f"at least {_num(lo)}"
    return rng + (f" ({why})" if why else "")


def int_range(lo: int, hi: int | None = None, why: str = "") -> Callable[[str], int]:
    """``type=`` for a whole number in [lo, hi]; the message names the range and ``why``."""

    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"must be {_bounds(lo, hi, why)}, got {value}")
        return value

    parse.__name__ = "int"
    parse.bounds = (lo, hi)
    return parse


def float_range(
    lo: float, hi: float | None = None, why: str = "", lo_open: bool = False
) -> Callable[[str], float]:
    """``type=`` for a finite number in [lo, hi] (``lo_open``: greater than lo)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        low_bad = value <= lo if lo_open else value < lo
        if low_bad or (hi is not None and value > hi):
            if lo_open:
                rng = f"greater than {_num(lo)}" + (f" and at most {_num(hi)}" if hi is not None else "")
                rng += f" ({why})" if why else ""
            else:
                rng = _bounds(lo, hi, why)
            raise argparse.ArgumentTypeError(f"must be {rng}, got {_num(value)}")
        return value

    parse.__name__ = "float"
    parse.bounds = (lo, hi)
    return parse


def finite_float(text: str) -> float:
    """``type=`` for any finite number (the fallback for float options without a range)."""
    return float_range(-math.inf)(text)


finite_float.bounds = (-math.inf, None)


frames_arg = int_range(2, MAX_FRAMES, MAX_FRAMES_WHY)
steps_arg = int_range(1, MAX_STEPS, MAX_STEPS_WHY)
fps_arg = float_range(0.0, MAX_FPS, MAX_FPS_WHY, lo_open=True)
guidance_arg = float_range(1.0, MAX_GUIDANCE, MAX_GUIDANCE_WHY)
seed_arg = int_range(0, MAX_SEED, MAX_SEED_WHY)
side_arg = int_range(MIN_SIDE, MAX_SIDE, MAX_SIDE_WHY)


def size_arg(text: str) -> str:
    """``type=`` for ``480p``, ``720p`` or ``WxH`` with each side from MIN_SIDE to MAX_SIDE."""
    if text in ("480p", "720p"):
        return text
    m = re.fullmatch(r"(\d+)[xX](\d+)", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"must be 480p, 720p or WxH (e.g. 832x480), got {text!r}")
    for side in (int(m.group(1)), int(m.group(2))):
        if not MIN_SIDE <= side <= MAX_SIDE:
            raise argparse.ArgumentTypeError(
                f"each side must be from {MIN_SIDE} to {MAX_SIDE} pixels ({MAX_SIDE_WHY}), got {text}"
            )
    return f"{int(m.group(1))}x{int(m.group(2))}"


def device_arg(text: str) -> str:
    """``type=`` for a torch device name (cpu, cuda, cuda:N, mps, xpu); whether it exists on this
    machine is checked later, by ``loomis.models.check_device``, where torch is loaded anyway."""
    if not DEVICE_RE.match(text):
        raise argparse.ArgumentTypeError(f"unknown device {text!r}; use cpu, cuda or cuda:N (or mps, xpu)")
    return text


NUMERIC_OPTIONS: dict[str, Callable[[str], object]] = {
    # painting / sampling (loomis-paint, validation, synth)
    "frames": frames_arg,
    "num_frames": frames_arg,
    "steps": steps_arg,
    "fps": fps_arg,
    "guidance": guidance_arg,
    "seed": seed_arg,
    "max_side": side_arg,
    "max_size": side_arg,
    "per_image": int_range(1, 1000, "processes per image; 1000 is already a large dataset"),
    # reading videos (loomis-eval, loomis-data curate)
    "max_frames": int_range(0, 100_000, "0 means all; frames are held in memory"),
    "sample_fps": float_range(0.0, 120.0, "no video has more frames than that to sample", lo_open=True),
    "segment": float_range(
        0.0, 3600.0, "seconds; one segment longer than an hour is no segment", lo_open=True
    ),
    "occlusion_threshold": int_range(0, 255, "a grey-level difference"),
    # sharding and training
    "shard_size": int_range(1, 100_000, "items per shard file"),
    "rank": int_range(0, 65_535, "a process index"),
    "world": int_range(1, 65_536, "a process count"),
    "local_rank": int_range(0, 65_535, "a process index"),
    "max_steps": int_range(1, 100_000_000, "beyond any schedule; 1e8 steps is years of GPU time"),
}
"""Validators by option name (argparse ``dest``), applied by ``ArgumentParser`` to every command.
A new numeric option gets its range here (or an explicit ``type=int_range(...)``)."""


def output_arg(kind: str = "file", create: bool = False) -> Callable[[str], str]:
    """``type=`` that runs ``loomis.io.check_output`` on an output path while parsing: wrong kind,
    missing parent folder, unwritable folder → a usage error before any work."""

    def parse(text: str) -> str:
        from loomis.io import check_output  # PIL/numpy only when an output is actually given

        try:
            check_output(text, kind, create=create)
        except InputError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text

    parse.__name__ = "output path"
    return parse


# --------------------------------------------------------------------------------------------
# running an entry point
# --------------------------------------------------------------------------------------------
class Interrupted(KeyboardInterrupt):
    """SIGTERM/SIGHUP delivered as an exception, so that every ``except BaseException`` /
    ``finally`` clean-up (temporary files, checkpoints in progress) runs as it does for Ctrl-C."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_interrupted(signum, _frame):
    # A second signal while cleaning up is ignored; a hung clean-up still yields to SIGKILL.
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signal.SIG_IGN)
    raise Interrupted(signum)


@contextlib.contextmanager
def handle_signals() -> Iterator[None]:
    """SIGTERM (what ``kill``, Slurm and torchrun send) and SIGHUP raise ``Interrupted`` like
    Ctrl-C raises KeyboardInterrupt, for the duration of the block (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    # Under nohup SIGHUP is ignored on purpose: keep it so. A launcher may hand down a blocked
    # mask (the signal would stay pending and the run finish as if never asked to stop): unblock.
    wanted = [s for s in (signal.SIGTERM, signal.SIGHUP) if signal.getsignal(s) != signal.SIG_IGN]
    previous = {s: signal.signal(s, _raise_interrupted) for s in wanted}
    blocked = signal.pthread_sigmask(signal.SIG_UNBLOCK, wanted) & set(wanted)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
        for s, handler in previous.items():
            signal.signal(s, handler)


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
    """Progress bars only on rank 0 and when stdout is a terminal (docs/contract.md); stderr,
    where the bar is drawn, must be one too so that logs never fill with carriage returns."""
    return sys.stdout.isatty() and sys.stderr.isatty() and rank() == 0


def run_main(fn: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None) -> int:
    """Run an entry point body, mapping exceptions onto exit codes; never returns a traceback for
    user errors. Interruptions exit 128 + the signal number (130 Ctrl-C, 143 SIGTERM)."""
    try:
        with handle_signals():
            code = fn(argv)
        return EXIT_OK if code is None else int(code)
    except InputError as exc:
        msg = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        print(f"error: {msg}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        print(
            f"error: interrupted ({signal.Signals(signum).name}); unfinished outputs were discarded",
            file=sys.stderr,
        )
        return 128 + int(signum)
    except SystemExit as exc:  # argparse --help exits 0 through here
        return int(exc.code or 0) if isinstance(exc.code, int) or exc.code is None else EXIT_USAGE
