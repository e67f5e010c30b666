"""Every console script imports and answers --help with exit 0 (thin entry shims stay wired)."""

import importlib
from pathlib import Path

import pytest
import tomllib

SCRIPTS = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]["scripts"]


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_console_script_help(name, capsys):
    module, func = SCRIPTS[name].split(":")
    main = getattr(importlib.import_module(module), func)
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "--help" in capsys.readouterr().out


def test_help_of_every_command_imports_no_torch():
    """``--help`` (and so every command's start-up) pays for no torch: the apps import torch only
    where they use it. Time is measured by ``bench/bench_cli.py``; this pins the cause."""
    import subprocess
    import sys

    code = (
        "import sys, importlib\n"
        f"scripts = {dict(SCRIPTS)!r}\n"
        "extra = {'loomis-eval': ['compare'], 'loomis-data': ['curate', 'variants', 'cache'], 'loomis-lora': ['convert']}\n"
        "for name, target in sorted(scripts.items()):\n"
        "    module, func = target.split(':')\n"
        "    for sub in [[]] + [[s] for s in extra.get(name, [])]:\n"
        "        try:\n"
        "            getattr(importlib.import_module(module), func)(sub + ['--help'])\n"
        "        except SystemExit:\n"
        "            pass\n"
        "        heavy = [m for m in ('torch', 'torchvision', 'diffusers', 'transformers') if m in sys.modules]\n"
        "        if heavy:\n"
        "            sys.exit(f'{name} {sub} --help imported {heavy}')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-1500:]


def test_lora_cli_formats_match_the_library():
    from loomis_infer.lora_cli import KEY_FORMATS

    from loomis.lora import FORMATS

    assert KEY_FORMATS == FORMATS


def test_procedural_painting_imports_no_torch(tmp_path):
    """The weight-free painter pays for no torch, diffusers or transformers."""
    import subprocess
    import sys

    import numpy as np
    from PIL import Image

    Image.fromarray(np.zeros((40, 60, 3), np.uint8)).save(tmp_path / "i.png")
    code = (
        "import sys\n"
        "from loomis_infer.paint_cli import main\n"
        "try:\n"
        f"    main([{str(tmp_path / 'i.png')!r}, '-o', {str(tmp_path / 'o.mp4')!r}, '--frames', '3', '--sheet'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "print([m for m in ('torch', 'torchvision', 'diffusers', 'transformers') if m in sys.modules])\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-1500:]
    assert r.stdout.splitlines()[-1] == "[]"
