"""The whole ``loomis-data curate`` pipeline on small synthetic filmed tutorials (ground truth
known), batch resume, sharding and bad inputs; plus caption/variants/inspect on its output."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from loomis_data import batch as batch_mod
from loomis_data.cli import main
from loomis_data.tutorial_score import score
from loomis_data.tutorial_synth import TutorialSpec, make_tutorial, procedural_sequence

from loomis.dataset import read_dataset

SMALL = TutorialSpec(size=(320, 180), fps=10.0, intro_s=4.0, paint_s=24.0, outro_s=4.0, cell=24)


def cli(*argv) -> int:
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in argv])
    return exc.value.code


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory):
    d = tmp_path_factory.mktemp("tut")
    return make_tutorial(d / "lesson.mp4", SMALL, procedural_sequence((160, 120), steps=6))


def test_curate_recovers_known_process(tutorial, tmp_path):
    out = tmp_path / "ds"
    assert cli("curate", tutorial.path, "--out", out, "--medium", "acrylic") == 0
    samples, problems = read_dataset(out)
    assert not problems and len(samples) == 1
    s = samples[0]
    assert s.medium == "acrylic" and s.num_frames >= 3
    assert s.times == sorted(s.times) and s.progress[0] == 0.0 and s.progress[-1] == 1.0
    assert s.meta["provenance"]["source"].endswith("lesson.mp4")
    m = score(tutorial, s.load_frames(), s.meta)
    # measured 28.4 / 26.2 dB, no hand or logo pixels (the first segment spans several paint
    # layers, which caps the mean of a 10 s median at this tutorial's pace)
    assert m["psnr_final_db"] >= 27, m
    assert m["psnr_mean_db"] >= 25, m
    assert m["logo_pixels_left"] == 0, m
    assert m["hand_pixels_left"] == 0, m
    assert m["trim_start_error_s"] <= 10 and m["trim_end_error_s"] <= 10, m
    # a re-run skips the finished video
    before = (out / s.id / "meta.json").stat().st_mtime
    assert cli("curate", tutorial.path, "--out", out, "--medium", "acrylic") == 0
    assert (out / s.id / "meta.json").stat().st_mtime == before

    # around it: captions, variants, inspect
    csv = tmp_path / "caps.csv"
    csv.write_text(f"id,caption\n{s.id},An acrylic painting of hills under a sun\n")
    assert cli("caption", out, "--captions", csv) == 0
    assert cli("variants", out, "--to", "pencil-mono,coloring-book") == 0
    assert cli("variants", out, "--to", "photo") == 2
    report = tmp_path / "report.json"
    assert cli("inspect", out, "--json", report) == 0
    r = json.loads(report.read_text())
    assert (
        r["samples"] == 1 and r["captioned"] == 1 and r["variants"] == {"pencil-mono": 1, "coloring-book": 1}
    )
    s = read_dataset(out)[0][0]
    assert s.caption == "Hills under a sun." and len(s.variants) == 2


def test_split_screen_reference(tmp_path):
    spec = TutorialSpec(
        size=(320, 180),
        fps=8.0,
        intro_s=3.0,
        paint_s=12.0,
        outro_s=3.0,
        split_screen=0.46,
        logo=False,
        cell=24,
    )
    tut = make_tutorial(tmp_path / "portrait.mp4", spec, procedural_sequence((120, 90), steps=4))
    out = tmp_path / "ds"
    assert cli("curate", tut.path, "--out", out, "--medium", "loomis", "--split-screen") == 0
    s = read_dataset(out)[0][0]
    assert abs(s.meta["provenance"]["split_x"] - tut.split_x) <= 2
    ref = s.load_reference()
    assert ref.shape[1] <= tut.split_x + 1  # the photo, not the drawing
    assert np.abs(ref.mean((0, 1)) - tut.reference.mean((0, 1))).max() < 25
    m = score(tut, s.load_frames(), s.meta)
    assert m["hand_pixels_left"] == 0 and m["psnr_final_db"] >= 25, m  # measured 26.4 dB


def test_batch_resume_shard_and_corrupt(tutorial, tmp_path, monkeypatch, capsys):
    vids = tmp_path / "videos"
    vids.mkdir()
    for name in ("a", "b"):
        os.link(tutorial.path, vids / f"{name}.mp4")
    (vids / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    out = tmp_path / "ds"
    real = batch_mod.curate_video
    calls = []

    def interrupted(path, cfg, detectors=None):
        calls.append(path.name)
        if path.name == "b.mp4":
            raise KeyboardInterrupt  # the job is killed while working on b
        return real(path, cfg, detectors)

    monkeypatch.setattr(batch_mod, "curate_video", interrupted)
    assert cli("curate", vids, "--out", out, "--medium", "oil") == 130
    assert [s.id for s in read_dataset(out)[0]] == ["a"]
    assert not list(out.glob(".b.*"))  # nothing half-written
    monkeypatch.setattr(batch_mod, "curate_video", real)
    calls.clear()
    # shard 1/2 of the sorted list [a, b, broken] is b only; shard 0/2 has a (done) and broken
    assert cli("curate", vids, "--out", out, "--medium", "oil", "--shard", "1/2") == 0
    capsys.readouterr()
    # a batch with a failure finishes the rest, then exits 2 naming it (and so does a rerun)
    assert cli("curate", vids, "--out", out, "--medium", "oil", "--shard", "0/2") == 2
    err = capsys.readouterr().err
    assert "1 of 2 videos could not be curated: broken.mp4" in err
    assert cli("curate", vids, "--out", out, "--medium", "oil") == 2
    assert "broken.mp4" in capsys.readouterr().err
    ids = sorted(s.id for s in read_dataset(out)[0])
    assert ids == ["a", "b"]
    state = json.loads((out / ".curate" / "broken.json").read_text())
    assert state["status"] == "failed" and "video" in state["error"]


def test_bad_single_inputs_exit_2(tmp_path, tutorial):
    out = tmp_path / "ds"
    txt = tmp_path / "notes.mp4"
    txt.write_text("hello")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert cli("curate", txt, "--out", out, "--medium", "oil") == 2
    assert cli("curate", empty, "--out", out, "--medium", "oil") == 2
    assert cli("curate", tmp_path / "missing.mp4", "--out", out, "--medium", "oil") == 2
    assert cli("curate", tutorial.path, "--out", out, "--medium", "crayon") == 2
    assert cli("curate", tutorial.path, "--out", out, "--medium", "oil", "--shard", "3/2") == 2
    afile = tmp_path / "file"
    afile.write_text("x")
    assert cli("curate", tutorial.path, "--out", afile, "--medium", "oil") == 2
    # no canvas: a dark, featureless scene with something moving
    import imageio.v2 as imageio

    flat = tmp_path / "flat.mp4"
    frames = [np.full((96, 128, 3), 40, np.uint8) for _ in range(30)]
    for i, f in enumerate(frames):
        f[40:50, 4 * i : 4 * i + 10] = 60
    imageio.mimwrite(flat, frames, fps=5, macro_block_size=1)
    assert cli("curate", flat, "--out", out, "--medium", "oil") == 2
    assert not (out / "flat").exists() and not (out / "notes").exists()


@pytest.mark.skipif(not os.path.isdir("/sys/kernel"), reason="needs sysfs (Linux): a folder nobody can write")
def test_unwritable_output_exit_2(tutorial):
    assert cli("curate", tutorial.path, "--out", "/sys/kernel/loomis-ds", "--medium", "oil") == 2


def test_caption_backend_interface(tmp_path, rgb_image):
    from loomis_data.cmd_caption import caption_dataset

    from loomis.dataset import write_sample

    write_sample(tmp_path, "s1", [rgb_image, rgb_image], medium="oil")

    class Fake:  # stands in for Qwen2.5-VL (no weights here): same interface
        name = "fake"

        def caption(self, image, sample_id):
            assert image.shape == rgb_image.shape
            return "A watercolor painting of a yellow sun over green fields"

    stats = caption_dataset(tmp_path, Fake())
    assert stats["captioned"] == 1
    assert read_dataset(tmp_path)[0][0].caption == "A yellow sun over green fields."
