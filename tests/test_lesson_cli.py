"""``loomis-lesson`` end to end: every kind of PROCESS, the three files, atomic writes, exit 2."""

from __future__ import annotations

import json
import re

import pytest
from lesson_synth import process
from loomis_studio.lesson_cli import main

from loomis.io import save_image, write_json, write_video

pytest.importorskip("colour", reason="mixing needs colour-science (pip install loomis[studio])")
pytestmark = pytest.mark.filterwarnings("ignore:Trimming")


def run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


@pytest.fixture(scope="module")
def frames():
    return process()


def test_video_with_sidecar_to_html_pdf_json(tmp_path, frames, capsys):
    video = tmp_path / "process.mp4"
    write_video(video, frames, fps=8)
    write_json(tmp_path / "process.mp4.json", {"medium": "digital"})  # loomis-paint's sidecar
    code, out, err = run([video, "-o", tmp_path / "lesson", "--steps-per-stage", "2"], capsys)
    assert code == 0, err
    summary = json.loads(out)
    assert summary["medium"] == "digital" and summary["stages"] == ["line art", "flats", "shading", "details"]
    data = json.loads((tmp_path / "lesson" / "lesson.json").read_text())
    assert [s["frames"] for s in data["stages"]] == [[0, 8], [8, 16], [16, 26], [26, 36]]
    assert len(data["steps"]) == summary["steps"] <= 8
    page = (tmp_path / "lesson" / "lesson.html").read_text()
    # Self-contained and offline: nothing is fetched (no src/href to the network).
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert page.count("data:image/jpeg;base64,") >= 2 * len(data["steps"])
    assert data["steps"][0]["instruction"] in page
    from pypdf import PdfReader

    pdf = PdfReader(tmp_path / "lesson" / "lesson.pdf")
    assert len(pdf.pages) == 1 + -(-len(data["steps"]) // 2)
    text = " ".join(p.extract_text() for p in pdf.pages)
    assert "Painting lesson" in text and "line art" in text


def test_frame_folder_and_curated_sample(tmp_path, frames, capsys):
    sample = tmp_path / "sample-001"
    for i, f in enumerate(frames[8:]):  # no drawing stage in this one
        (sample / "frames").mkdir(parents=True, exist_ok=True)
        save_image(sample / "frames" / f"{i:05d}.png", f)
    write_json(sample / "meta.json", {"medium": "oil"})
    code, out, err = run([sample, "-o", tmp_path / "a", "--no-recipes", "--no-pdf"], capsys)
    assert code == 0, err
    assert json.loads(out)["stages"] == ["block-in", "layers", "details"]
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["lesson.html", "lesson.json"]
    data = json.loads((tmp_path / "a" / "lesson.json").read_text())
    assert data["steps"][0]["palette"][0]["recipe"] is None
    code, out, err = run([sample / "frames", "-o", tmp_path / "b", "--no-recipes", "--no-pdf"], capsys)
    assert code == 0 and json.loads(out)["medium"] == "acrylic"  # a bare folder: the default


def test_written_atomically_and_never_over_other_files(tmp_path, frames, capsys, monkeypatch):
    video = tmp_path / "p.gif"
    write_video(video, frames[:14], fps=8)
    out = tmp_path / "lesson"
    assert run([video, "-o", out, "--no-recipes"], capsys)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    import loomis.lesson.pdf as pdf

    def broken(*_a, **_k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pdf, "render_pdf", broken)
    with pytest.raises(RuntimeError):
        main([str(video), "-o", str(out), "--steps-per-stage", "1", "--no-recipes"])
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the earlier lesson is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lesson", "p.gif"]  # no temp left
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.txt").write_text("precious")
    code, _, err = run([video, "-o", tmp_path / "mine"], capsys)
    assert code == 2 and "holds other files" in err
    assert (tmp_path / "mine" / "thesis.txt").read_text() == "precious"


def test_bad_inputs_exit_2_with_one_line(tmp_path, frames, capsys):
    video = tmp_path / "p.mp4"
    write_video(video, frames[:6], fps=8)
    save_image(tmp_path / "pic.png", frames[-1])
    (tmp_path / "notes.mp4").write_text("not a video")
    (tmp_path / "paints.yaml").write_text("- {name: red}\n")
    (tmp_path / "broken.yaml").write_text("paints: [\n")
    (tmp_path / "afile").write_text("x")
    cases = [
        ([tmp_path / "missing.mp4", "-o", tmp_path / "o"], "does not exist"),
        ([tmp_path / "pic.png", "-o", tmp_path / "o"], "single picture"),
        ([tmp_path / "notes.mp4", "-o", tmp_path / "o"], "not a readable video"),
        ([video, "-o", tmp_path / "o", "--paints", tmp_path / "paints.yaml"], "rgb"),
        ([video, "-o", tmp_path / "o", "--paints", tmp_path / "broken.yaml"], "not valid YAML"),
        ([video, "-o", tmp_path / "o", "--paints", tmp_path / "nope.yaml"], "does not exist"),
        ([video, "-o", tmp_path / "o", "--medium", "crayon-x"], "unknown medium"),
        ([video, "-o", tmp_path / "o", "--steps-per-stage", "0"], "from 1 to 12"),
        ([video, "-o", tmp_path / "afile"], "is a file"),
        ([video, "-o", tmp_path / "no" / "such" / "o"], "does not exist"),
        ([video], "required"),
    ]
    for argv, msg in cases:
        code, _, err = run(argv, capsys)
        assert code == 2 and msg in err and err.startswith("error:") and "Traceback" not in err, (argv, err)
        assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
