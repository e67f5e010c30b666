"""Every command in the README's ``bash`` blocks runs as written.

The examples are read from README.md itself, so the test breaks when the README drifts. Each
block runs in its own folder, commands in README order (later ones use what earlier ones wrote),
with tiny stand-ins for what a reader brings: small pictures under the names the README uses, a
synthetic filmed tutorial, synthetic process videos, LoRA files, and for a model directory path
(``/models/…``) or a named model's ``$LOOMIS_WAN21_I2V_14B_480P`` a saved ``tiny`` model.
Examples that load a model or curate videos are marked ``slow`` (minutes of CPU on 2 cores); the
weight-free ones run by default. Exceptions are listed below with their reason: commands
that install or launch clusters, and those that need the real 14B weights (they run, marked
``gpu``, where ``$LOOMIS_WAN21_I2V_14B_480P`` points at them and CUDA is present).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MODEL_DIR_PLACEHOLDER = "/models/Wan2.1-I2V-14B-480P-Diffusers"

# Commands not run here, by their first words, with the reason.
NOT_HERE = {
    "make ": "the Makefile targets: CI runs `make test` itself, and `make demo` is the first example",
    "python3 -m venv": "installs packages (the test runs inside the installed venv)",
    "pip install": "installs packages from the network",
    "torchrun ": "a multi-GPU launcher (the sharded cache and DeepSpeed runs are tested on gloo ranks)",
    "deepspeed ": "a multi-node launcher",
    "loomis-studio": "starts a web server (tests/test_studio_browser.py drives it in a browser)",
}
# Commands that need the real Wan 2.1 14B weights (the tiny model cannot sample at 480p×81).
NEEDS_WEIGHTS = (
    "loomis-paint painting.jpg --model wan2.1-i2v-14b-480p",
    "loomis-train configs/base.yaml",
    "loomis-train configs/transfer.yaml",
)


def readme_commands() -> list[tuple[int, str]]:
    """(block number, command) for every command line of every ``bash`` block."""
    text = (REPO / "README.md").read_text()
    out = []
    for b, block in enumerate(re.findall(r"```bash\n(.*?)```", text, flags=re.S)):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words:
                out.append((b, shlex.join(words)))
    return out


COMMANDS = readme_commands()


HEAVY = re.compile(
    r"--model |^loomis-lora |^loomis-lesson |^loomis-data (curate|cache|caption|variants|inspect) "
)


def _params():
    return [
        pytest.param(b, c, id=f"{b}: {c[:70]}", marks=[pytest.mark.slow] if HEAVY.search(c) else [])
        for b, c in COMMANDS
    ]


# --------------------------------------------------------------------------------------------
# stand-ins
# --------------------------------------------------------------------------------------------
def _picture(h: int = 96, w: int = 128, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([120 + 80 * y / h, 100 + 100 * x / w, np.full((h, w), 180.0)], -1)
    img[(y - h / 2) ** 2 + (x - w / 2) ** 2 < (h / 4) ** 2] = rng.integers(0, 255, 3)
    return img.astype(np.uint8)


def _videos(folder: Path) -> None:
    from loomis.io import write_video
    from tests.synthetic import reveal_process

    for i, name in enumerate(("generated", "ground_truth", "gt", "ours", "timecraft", "PT")):
        write_video(folder / f"{name}.mp4", reveal_process(_picture(48, 64, seed=i % 2), 9), fps=4)


def _loras(folder: Path, full_size: bool) -> None:
    """LoRA stand-ins: fitting the tiny model, or (for ``loomis-lora check --model wan2.1-…``)
    one rank-1 layer of the 14B transformer's shapes."""
    from loomis import lora as L
    from loomis.models import build_transformer
    from loomis.specs import SPECS

    if full_size:
        import torch

        sd = {
            "transformer.blocks.0.attn1.to_q.lora_A.weight": torch.zeros(1, 5120),
            "transformer.blocks.0.attn1.to_q.lora_B.weight": torch.zeros(5120, 1),
        }
    else:
        model = build_transformer(SPECS["tiny"])
        L.add_lora(model, rank=2, alpha=2.0)
        sd = L.lora_state_dict(model)
    for name in ("base", "loomis_base", "transfer_pencil"):
        L.save_lora(folder / f"{name}.safetensors", sd, L.LoraMetadata(rank=2, alpha=2.0, base_model="tiny"))


def make_world(folder: Path, commands: list[str]) -> None:
    (folder / "configs").symlink_to(REPO / "configs")  # the README runs from the repository root
    for name in ("painting.jpg", "portrait.png", "photo.webp", "img.png", "a.jpg"):
        Image.fromarray(_picture()).save(folder / name)
    for sub, n in (("gallery", 2), ("photos", 1)):
        (folder / sub).mkdir()
        for i in range(n):
            Image.fromarray(_picture(seed=i + 3)).save(folder / sub / f"p{i}.png")
    joined = " ".join(commands)
    if "loomis-data" in joined:
        from loomis_data.tutorial_synth import TutorialSpec, make_tutorial, procedural_sequence

        (folder / "tutorials").mkdir()
        spec = TutorialSpec(size=(320, 180), fps=8.0, intro_s=2.0, paint_s=12.0, outro_s=2.0, cell=24)
        make_tutorial(folder / "tutorials" / "lesson.mp4", spec, procedural_sequence((160, 120), 4))
        split = TutorialSpec(
            size=(320, 180),
            fps=8.0,
            intro_s=3.0,
            paint_s=12.0,
            outro_s=3.0,
            split_screen=0.46,
            logo=False,
            cell=24,
        )
        make_tutorial(folder / "portrait.mp4", split, procedural_sequence((120, 90), steps=4))
        (folder / "loomis_videos.txt").write_text("portrait.mp4\n")
    if "loomis-eval" in joined or "loomis-lesson" in joined:
        _videos(folder)
        shutil.copy(folder / "gt.mp4", folder / "process.mp4")
        shutil.copy(REPO / "loomis" / "lesson" / "paints.yaml", folder / "my_tubes.yaml")
    _loras(folder, full_size="loomis-lora check" in joined and "wan2.1-i2v-14b" in joined)
    if "loomis-data caption" in joined:  # the captioner named by $LOOMIS_QWEN25_VL: a toy Qwen2.5-VL
        from loomis_data.tiny_models import save_tiny_qwen25vl

        save_tiny_qwen25vl(folder / "tiny-qwen")
    if MODEL_DIR_PLACEHOLDER in joined or "loomis-data cache" in joined:
        from loomis.models import save_tiny

        save_tiny(folder / "tiny-model")


_worlds: dict[int, Path] = {}


def world(block: int, tmp_path_factory) -> Path:
    if block not in _worlds:
        folder = tmp_path_factory.mktemp(f"readme-block{block}")
        make_world(folder, [c for b, c in COMMANDS if b == block])
        _worlds[block] = folder
    return _worlds[block]


# --------------------------------------------------------------------------------------------
# the test
# --------------------------------------------------------------------------------------------
def test_the_exception_lists_name_real_examples():
    """An entry whose example left the README must leave these lists too."""
    text = " | ".join(c for _, c in COMMANDS)
    for prefix in [*NOT_HERE, *NEEDS_WEIGHTS]:
        assert prefix.strip() in text, f"{prefix!r} is no longer in the README: drop it from the list"


@pytest.mark.parametrize("block,command", _params())
def test_readme_example_runs(block, command, tmp_path_factory):
    for prefix, why in NOT_HERE.items():
        if command.startswith(prefix):
            pytest.skip(why)
    if command.startswith(NEEDS_WEIGHTS):
        real = os.environ.get("LOOMIS_WAN21_I2V_14B_480P")
        if not real or not shutil.which("nvidia-smi"):
            pytest.skip("needs the Wan 2.1 14B weights ($LOOMIS_WAN21_I2V_14B_480P) and a GPU")
    folder = world(block, tmp_path_factory)
    argv = shlex.split(command.replace(MODEL_DIR_PLACEHOLDER, str(folder / "tiny-model")))
    if argv[0].startswith("loomis-"):
        argv[0] = str(BIN / argv[0])
    env = os.environ | {"PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    for var in ("LOOMIS_MODEL", "LOOMIS_WAN21_I2V_14B_480P", "LOOMIS_WAN21_I2V_14B_720P"):
        env.pop(var, None)
    env.pop("LOOMIS_QWEN25_VL", None)
    if (folder / "tiny-qwen").is_dir():
        env["LOOMIS_QWEN25_VL"] = str(folder / "tiny-qwen")
    if (folder / "tiny-model").is_dir():  # the named model's weights: a saved tiny model
        env["LOOMIS_WAN21_I2V_14B_480P"] = str(folder / "tiny-model")
    r = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"`{command}` exited {r.returncode}:\n{r.stderr[-3000:]}"
