"""Start-up cost of every command: ``--help`` wall time (target ≤ 1 s each, issue 14), the modules
it drags in, and what the torchvision start-up hook (``loomis-torchvision.pth``) adds to every
interpreter start.

Each command and subcommand runs ``--help`` REPEATS times in a fresh process; the minimum is the
figure least disturbed by other load on the machine (the median is reported beside it). Heavy
modules imported by ``--help`` are listed (torch, torchvision, diffusers, transformers, cv2), so a
regression names its cause. ``hook_import_ms`` is the time ``-X importtime`` attributes to the
``.pth`` line's imports, against a bare ``python -c pass`` start-up measured alongside.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPEATS = 3
TARGET_S = 1.0
HEAVY = ("torch", "torchvision", "diffusers", "transformers", "cv2", "scipy", "av")
COMMANDS = [
    ["loomis-paint"],
    ["loomis-lora"],
    ["loomis-lora", "convert"],
    ["loomis-train"],
    ["loomis-data"],
    ["loomis-data", "curate"],
    ["loomis-data", "cache"],
    ["loomis-eval"],
    ["loomis-eval", "compare"],
    ["loomis-lesson"],
    ["loomis-studio"],
]


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _time(argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, capture_output=True, check=True, env=os.environ | {"PYTHONWARNINGS": "ignore"})
    return time.perf_counter() - t0


def _heavy_imports(argv: list[str]) -> list[str]:
    """Heavy top-level packages a ``--help`` run imports (from ``-X importtime``)."""
    script = Path(_bin(argv[0])).read_text()
    m = re.search(r"from (\S+) import (\w+)", script)
    code = f"import sys; sys.argv={argv!r}; from {m.group(1)} import {m.group(2)} as f\ntry: f()\nexcept SystemExit: pass"
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True
    ).stderr
    found = {line.split("|")[-1].strip() for line in err.splitlines() if line.startswith("import time:")}
    return sorted(h for h in HEAVY if h in found)


def _hook_cost() -> dict:
    """Milliseconds the .pth line's imports take at start-up vs the whole bare start-up."""
    hook, total = [], []
    for _ in range(REPEATS * 2):
        t0 = time.perf_counter()
        err = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "pass"], capture_output=True, text=True
        ).stderr
        total.append(time.perf_counter() - t0)
        # the .pth imports loomis.compat at top level: its cumulative time is the hook's cost
        us = [
            int(line.split("|")[1]) for line in err.splitlines() if re.search(r"\|\s{3}loomis\.compat$", line)
        ]
        hook.append(us[0] / 1000 if us else 0.0)
    import loomis.compat
    from loomis.compat import PTH_NAME, site_packages

    cache = Path(loomis.compat.__file__).parent / "__pycache__"
    return {
        "pth_installed": (site_packages() / PTH_NAME).exists(),
        # without cached bytecode (PYTHONDONTWRITEBYTECODE=1) every start compiles the 3 modules
        "bytecode_cached": any(cache.glob("compat.*.pyc")),
        "hook_import_ms_min": round(min(hook), 2),
        "hook_import_ms_median": round(statistics.median(hook), 2),
        "python_startup_ms_min": round(min(total) * 1000, 1),
        "hook_share_of_startup": round(min(hook) / (min(total) * 1000), 3) if min(total) else None,
    }


def run(out_dir: Path) -> dict:
    results = {}
    for argv in COMMANDS:
        times = [_time([_bin(argv[0]), *argv[1:], "--help"]) for _ in range(REPEATS)]
        results[" ".join(argv)] = {
            "help_s_min": round(min(times), 3),
            "help_s_median": round(statistics.median(times), 3),
            "heavy_imports": _heavy_imports([*argv, "--help"]),
        }
    worst = max(v["help_s_min"] for v in results.values())
    return {
        "help": results,
        "worst_help_s": worst,
        "target_s": TARGET_S,
        "meets_target": worst <= TARGET_S,
        "torchvision_hook": _hook_cost(),
        "note": f"min of {REPEATS} fresh processes each; other load on the machine inflates medians",
    }
