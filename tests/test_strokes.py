"""Stroke export (``--strokes``) and continuing from the learner's canvas (``--from``)."""

from __future__ import annotations

import functools
import io
import json

import numpy as np
import pytest
from PIL import Image

from loomis.errors import InputError
from loomis.io import load_image, save_image
from loomis.procedural import ProceduralConfig, paint
from loomis.procedural.record import StrokeRecorder

# The tolerance docs/lesson.md states for an opaque medium (acrylic): mean CIEDE2000 between the
# rendered SVG and the video's frame. Measured on this picture: 4.7 for the final frame (which is
# the picture itself: the detail pass lays down its own pixels, one colour per stroke here) and
# 0.9-1.6 for the frames in between.
FINAL_DE, FRAME_DE = 6.0, 3.0


@pytest.fixture
def picture(rgb_image) -> np.ndarray:
    return np.repeat(np.repeat(rgb_image, 3, 0), 3, 1)


def _render(svg: str) -> np.ndarray:
    cairosvg = pytest.importorskip("cairosvg", reason="cairosvg renders the SVG (pip install loomis[studio])")
    png = cairosvg.svg2png(bytestring=svg.encode())
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _mean_de(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.color import deltaE_ciede2000, rgb2lab

    return float(deltaE_ciede2000(rgb2lab(a / 255.0), rgb2lab(b / 255.0)).mean())


def test_svg_reproduces_the_canvas_in_painting_order(picture):
    rec = StrokeRecorder()
    frames = paint(picture, "acrylic", ProceduralConfig(frames=8, seed=0), on_stroke=rec)
    data = rec.to_json()
    assert data["size"] == [picture.shape[1], picture.shape[0]]
    order = [s["frame"] for s in data["strokes"]]
    assert len(order) > 100 and order == sorted(order) and 1 <= order[0] and order[-1] == 7
    assert all(s["colour"].startswith("#") and len(s["colour"]) == 7 for s in data["strokes"])
    assert {s["phase"] for s in data["strokes"]} >= {"block", "layers", "details"}
    final = _render(rec.to_svg())
    assert final.shape == picture.shape
    assert _mean_de(final, frames[-1]) <= FINAL_DE
    # Any prefix of the strokes (those shown by frame k) renders frame k.
    for k in (2, 5):
        part = StrokeRecorder([s for s in rec.strokes if s.frame <= k], rec.size, rec.ground)
        assert _mean_de(_render(part.to_svg()), frames[k]) <= FRAME_DE
    # The blank ground alone is not the picture: the strokes do the work.
    blank = StrokeRecorder([], rec.size, rec.ground)
    assert _mean_de(_render(blank.to_svg()), frames[-1]) > 3 * FINAL_DE


def test_from_keeps_the_partial_canvas(picture):
    w = picture.shape[1]
    partial = picture.copy()
    partial[:, w // 2 :] = 250  # the left half is already painted, the right half is bare
    frames = paint(picture, "acrylic", ProceduralConfig(frames=8, seed=0, start=partial))
    assert np.array_equal(frames[0], partial)  # frame 0 is the learner's canvas, exactly
    assert np.array_equal(frames[-1], picture)
    done = picture[:, : w // 2 - 6].astype(np.float32)
    for f in frames:  # what was already there stays (strokes are clipped to unfinished parts)
        assert np.abs(f[:, : w // 2 - 6].astype(np.float32) - done).mean() < 0.5
    right = [np.abs(f[:, w // 2 :].astype(np.float32) - picture[:, w // 2 :]).mean() for f in frames]
    assert right[0] > 60 and right[3] < right[0]  # and the rest gets painted


def test_from_resizes_an_aligned_canvas_and_refuses_a_misaligned_one(picture):
    h, w = picture.shape[:2]
    small = np.asarray(Image.fromarray(picture).resize((w // 2, h // 2)))
    frames = paint(picture, "acrylic", ProceduralConfig(frames=3, seed=0, start=small))
    assert frames[0].shape == picture.shape
    assert np.abs(frames[0].astype(np.float32) - picture).mean() < 6  # the picture, resampled
    with pytest.raises(InputError, match="aspect ratio"):
        paint(picture, "acrylic", ProceduralConfig(frames=3, start=np.zeros((h, h, 3), np.uint8)))


def _cli(*args, cwd, capsys, monkeypatch):
    from loomis_infer.paint_cli import main

    monkeypatch.chdir(cwd)
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    return exc.value.code, err


def test_paint_cli_strokes_and_from(tmp_path, rgb_image, capsys, monkeypatch):
    run = functools.partial(_cli, cwd=tmp_path, capsys=capsys, monkeypatch=monkeypatch)
    save_image(tmp_path / "pic.png", rgb_image)
    partial = rgb_image.copy()
    partial[:, 40:] = 255
    save_image(tmp_path / "part.png", partial)
    args = ["pic.png", "--backend", "procedural", "--frames", "5", "-o", "out.mp4"]
    code, err = run(*args, "--strokes", "s.svg", "--from", "part.png")
    assert code == 0, err
    strokes = json.loads((tmp_path / "s.json").read_text())
    assert strokes["format"] == "loomis-strokes/1" and strokes["strokes"]
    assert (tmp_path / "s.svg").read_text().startswith("<svg")
    side = json.loads((tmp_path / "out.mp4.json").read_text())
    assert side["strokes"]["count"] == len(strokes["strokes"]) and side["from"] == "part.png"
    # the partial canvas has a photo in it, so the SVG ground is that image, not a flat colour
    assert "data:image/png;base64" in (tmp_path / "s.svg").read_text()
    assert np.array_equal(load_image(tmp_path / "part.png"), partial)
    before = sorted(p.name for p in tmp_path.iterdir())
    bad = [
        (["--strokes", "s.png"], ".svg"),
        (["--from", "missing.png"], "does not exist"),
        (["--from", "pic.png", "--backend", "wan", "--model", "tiny"], "procedural backend"),
        (["--strokes", "nodir/s.svg"], "does not exist"),
    ]
    for extra, msg in bad:
        code, err = run(*[a for a in args if a not in ("--backend", "procedural")], *extra)
        assert code == 2 and msg in err and "Traceback" not in err, (extra, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written by a failed run
