"""The whole toolkit as a user chains it, through the console-script entry points: procedural
synth data → train (tiny) → resume → paint with the trained LoRA → evaluate the video."""

import json
from pathlib import Path

import pytest
from loomis_data.cli import main as data_main
from loomis_eval.cli import main as eval_main
from loomis_infer.paint_cli import main as paint_main
from loomis_train.cli import main as train_main
from PIL import Image

from loomis.io import read_video

REPO_CONFIG = Path(__file__).parents[1] / "configs" / "tiny.yaml"


def call(main, argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0, argv


def test_synth_train_resume_paint_eval(tmp_path, rgb_image):
    img = tmp_path / "picture.png"
    Image.fromarray(rgb_image).save(img)
    data, run = tmp_path / "ds", tmp_path / "run"
    call(
        data_main,
        [
            "synth",
            str(img),
            "--out",
            str(data),
            "--medium",
            "oil",
            "--per-image",
            "2",
            "--frames",
            "9",
            "--max-side",
            "64",
        ],
    )
    call(train_main, [str(REPO_CONFIG), "--data", str(data), "--output", str(run), "--max-steps", "2"])
    call(
        train_main,
        [str(REPO_CONFIG), "--data", str(data), "--output", str(run), "--max-steps", "3", "--resume"],
    )
    steps = [
        json.loads(line)["step"]
        for line in (run / "metrics.jsonl").read_text().splitlines()
        if '"loss"' in line
    ]
    assert steps[-1] == 3 and sorted(set(steps)) == steps  # resumed at 3, no step repeated
    video = tmp_path / "p.mp4"
    call(
        paint_main,
        [
            str(img),
            "--model",
            "tiny",
            "--lora",
            f"{run / 'lora.safetensors'}:0.8",
            "--frames",
            "5",
            "--steps",
            "2",
            "-o",
            str(video),
        ],
    )
    meta = json.loads((tmp_path / "p.mp4.json").read_text())
    assert meta["loras"] == [{"path": str(run / "lora.safetensors"), "weight": 0.8}]
    assert len(read_video(video)) == 5
    call(
        eval_main,
        [str(video), str(data / "synth-picture-oil-00" / "frames"), "--json", str(tmp_path / "e.json")],
    )
    scores = json.loads((tmp_path / "e.json").read_text())
    assert {"pdp", "pdp_norm", "distance"} <= set(scores)
