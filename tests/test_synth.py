"""``loomis-data synth``: plain images → a valid synthetic dataset; bad input exits 2."""

from __future__ import annotations

import json

import numpy as np
import pytest
from loomis_data.cli import main
from PIL import Image

from loomis.dataset import read_dataset


def _run(argv) -> int:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return exc.value.code


@pytest.fixture
def image_file(tmp_path, rgb_image):
    path = tmp_path / "scene one.png"
    Image.fromarray(np.repeat(np.repeat(rgb_image, 2, 0), 2, 1)).save(path)
    return path


def test_synth_writes_a_readable_dataset(tmp_path, image_file):
    out = tmp_path / "ds"
    argv = [
        "synth",
        str(image_file),
        "--out",
        str(out),
        "--medium",
        "acrylic",
        "--per-image",
        "2",
        "--frames",
        "6",
    ]
    assert _run(argv) == 0
    samples, problems = read_dataset(out, on_bad="error")
    assert problems == [] and len(samples) == 2
    ids = {s.id for s in samples}
    assert ids == {"synth-scene-one-acrylic-00", "synth-scene-one-acrylic-01"}
    for s in samples:
        assert s.num_frames == 6 and s.medium == "acrylic"
        assert s.meta["provenance"]["source"] == "synthetic"
        frames = s.load_frames()
        assert np.array_equal(frames[-1], s.load_reference())
    # different seeds → different processes of the same picture
    a, b = (s.load_frames([2])[0] for s in samples)
    assert not np.array_equal(a, b)
    rows = [json.loads(x) for x in (out / "dataset.jsonl").read_text().splitlines()]
    assert all(r["source"] == "synthetic" for r in rows)


def test_synth_refuses_existing_sample_without_overwrite(tmp_path, image_file):
    out = tmp_path / "ds"
    argv = ["synth", str(image_file), "--out", str(out), "--frames", "3"]
    assert _run(argv) == 0
    assert _run(argv) == 2
    assert _run(argv + ["--overwrite"]) == 0


@pytest.mark.parametrize(
    "extra",
    [
        ["--medium", "nope"],
        ["--per-image", "0"],
        ["--frames", "1"],
        ["--speed", "warp"],
    ],
)
def test_synth_bad_options_exit_2(tmp_path, image_file, extra, capsys):
    assert _run(["synth", str(image_file), "--out", str(tmp_path / "ds")] + extra) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert not (tmp_path / "ds" / "dataset.jsonl").exists()


def test_synth_bad_images_exit_2(tmp_path, capsys):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png")
    assert _run(["synth", str(tmp_path / "missing.png"), "--out", str(tmp_path / "ds")]) == 2
    assert _run(["synth", str(bad), "--out", str(tmp_path / "ds")]) == 2
    assert _run(["synth", "--out", str(tmp_path / "ds")]) == 2
    assert "error:" in capsys.readouterr().err
