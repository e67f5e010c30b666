"""``loomis-paint`` end to end with the tiny model, and every bad input → exit 2 + one-line error."""

import json
import os

import numpy as np
import pytest
from loomis_infer.paint_cli import main
from PIL import Image

from loomis.io import read_video


def run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


@pytest.fixture
def img(tmp_path, rgb_image):
    p = tmp_path / "painting.png"
    Image.fromarray(rgb_image).save(p)  # 80x48
    return p


def test_tiny_end_to_end_writes_video_sidecar_and_sheet(tmp_path, img, capsys):
    out = tmp_path / "out.mp4"
    code, stdout, err = run(
        [
            str(img),
            "--model",
            "tiny",
            "--frames",
            "9",
            "--steps",
            "2",
            "--medium",
            "oil",
            "-o",
            str(out),
            "--sheet",
            "--seed",
            "7",
        ],
        capsys,
    )
    assert code == 0, err
    assert "backend wan (tiny)" in err
    video = read_video(out)
    assert len(video) == 9
    h, w = video.frames[0].shape[:2]
    assert abs(w / h - 80 / 48) < 0.1  # the input's aspect ratio, pad cropped away
    meta = json.loads((tmp_path / "out.mp4.json").read_text())
    assert meta["frames"] == 9 and meta["backend"] == "wan" and meta["model"] == "tiny" and meta["seed"] == 7
    assert meta["medium"] == "oil" and meta["prompt"].startswith(
        "An oil painting. Step by step painting process."
    )
    assert "not a record" in meta["provenance"] and meta["fps"] == 16
    assert (tmp_path / "out.mp4.sheet.png").exists()
    assert json.loads(stdout.strip().splitlines()[-1])["frames"] == 9


def test_batch_over_a_folder_with_one_model_load(tmp_path, rgb_image, capsys):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.png", "b.jpg"):
        Image.fromarray(rgb_image).save(src / name)
    code, _, err = run(
        [
            str(src),
            "--batch",
            "--model",
            "tiny",
            "--frames",
            "5",
            "--steps",
            "1",
            "-o",
            str(tmp_path / "videos"),
        ],
        capsys,
    )
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "videos").glob("*.mp4")) == ["a.acrylic.mp4", "b.acrylic.mp4"]
    assert err.count("backend wan") == 1


def test_batch_reports_and_skips_a_bad_image(tmp_path, rgb_image, capsys):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(rgb_image).save(src / "a.png")
    (src / "b.png").write_bytes(b"broken")
    Image.fromarray(rgb_image).save(src / "c.png")
    code, _, err = run([str(src), "--batch", "--frames", "3", "-o", str(tmp_path / "v")], capsys)
    assert code == 2 and "error: 1 of 3 images failed: b.png" in err
    assert sorted(p.name for p in (tmp_path / "v").glob("*.mp4")) == ["a.acrylic.mp4", "c.acrylic.mp4"]


def _bad(tmp_path, img, case):
    bad_png = tmp_path / "corrupt.png"
    bad_png.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    pickle_lora = tmp_path / "lora.pt"
    pickle_lora.write_bytes(b"\x80\x04K\x01.")
    junk_lora = tmp_path / "junk.safetensors"
    junk_lora.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    base = [str(img), "--model", "tiny", "-o", str(tmp_path / "o.mp4")]
    return {
        "missing": ([str(tmp_path / "nope.png")], "does not exist"),
        "corrupt": ([str(bad_png)], "corrupt|not a readable image"),
        "empty": ([str(empty)], "empty file"),
        "not-image": ([str(text)], "not a readable image"),
        "medium": (base + ["--medium", "fresco"], "unknown medium 'fresco'; valid mediums: acrylic"),
        "lora-missing": (base + ["--lora", str(tmp_path / "x.safetensors")], "does not exist"),
        "lora-pickle": (base + ["--lora", str(pickle_lora)], "only .safetensors"),
        "lora-junk": (base + ["--lora", str(junk_lora)], "not a readable safetensors"),
        "frames": (base + ["--frames", "10"], r"4k\+1 .*nearest valid: 9 or 13"),
        "out-dir-missing": ([str(img), "-o", str(tmp_path / "no" / "such" / "o.mp4")], "does not exist"),
        "out-suffix": ([str(img), "-o", str(tmp_path / "o.avi")], "unsupported output"),
        "size": (base + ["--size", "huge"], "480p, 720p or WxH"),
        "flag": (base + ["--no-such-flag"], "unrecognized arguments"),
        "backend": (base + ["--backend", "magic"], "invalid choice"),
        "folder-no-batch": ([str(tmp_path)], "pass --batch"),
    }[case]


CASES = [
    "missing",
    "corrupt",
    "empty",
    "not-image",
    "medium",
    "lora-missing",
    "lora-pickle",
    "lora-junk",
    "frames",
    "out-dir-missing",
    "out-suffix",
    "size",
    "flag",
    "backend",
    "folder-no-batch",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_exits_2_with_one_line(tmp_path, img, capsys, case):
    argv, msg = _bad(tmp_path, img, case)
    code, _, err = run(argv, capsys)
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err
    import re

    assert re.search(msg, lines[0]), lines[0]


def test_failed_run_keeps_existing_output(tmp_path, img, capsys):
    out = tmp_path / "keep.mp4"
    out.write_bytes(b"existing video")
    code, _, _ = run([str(img), "--model", "tiny", "--frames", "10", "-o", str(out)], capsys)
    assert code == 2 and out.read_bytes() == b"existing video"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.mp4", "painting.png"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_unwritable_output_dir(tmp_path, img, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    code, _, err = run([str(img), "-o", str(ro / "o.mp4")], capsys)
    assert code == 2 and "not writable" in err


@pytest.mark.skipif(
    not os.path.isdir("/sys/kernel"), reason="needs sysfs (Linux) as a folder nobody can write"
)
def test_unwritable_output_dir_even_for_root(img, capsys):
    code, _, err = run([str(img), "-o", "/sys/kernel/loomis.mp4"], capsys)
    assert code == 2 and "/sys/kernel is not writable" in err


def test_output_parent_is_a_file(tmp_path, img, capsys):
    (tmp_path / "afile").write_text("x")
    code, _, err = run([str(img), "-o", str(tmp_path / "afile" / "o.mp4")], capsys)
    assert code == 2 and "is not a directory" in err


def test_zero_size_image(tmp_path, capsys):
    # A PNG header claiming 0x0 pixels: Pillow refuses it, we say so in one line.
    import struct
    import zlib

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 0, 0, 8, 2, 0, 0, 0))
        + chunk(b"IEND", b"")
    )
    p = tmp_path / "zero.png"
    p.write_bytes(data)
    out = tmp_path / "o.mp4"
    code, _, err = run([str(p), "--model", "tiny", "-o", str(out)], capsys)
    assert code == 2 and err.startswith("error:") and "zero.png" in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and sorted(q.name for q in tmp_path.iterdir()) == ["zero.png"]


def test_no_model_runs_procedural_backend_and_says_so(tmp_path, img, rgb_image, capsys, monkeypatch):
    monkeypatch.delenv("LOOMIS_MODEL", raising=False)
    out = tmp_path / "p.mp4"
    code, _, err = run([str(img), "--medium", "oil", "--frames", "9", "-o", str(out)], capsys)
    assert code == 0, err
    assert "backend procedural" in err
    meta = json.loads((tmp_path / "p.mp4.json").read_text())
    assert meta["backend"] == "procedural" and meta["frames"] == 9 and meta["model"] is None
    frames = read_video(out).frames
    assert len(frames) == 9 and frames[0].shape[:2] == rgb_image.shape[:2]
    err_first = np.abs(frames[0].astype(int) - rgb_image).mean()
    err_last = np.abs(frames[-1].astype(int) - rgb_image).mean()
    assert err_last < 4 < err_first  # blank ground first, (lossy-coded) picture last


def test_loomis_model_env_selects_wan(tmp_path, img, capsys, monkeypatch):
    monkeypatch.setenv("LOOMIS_MODEL", "tiny")
    code, _, err = run([str(img), "--frames", "5", "--steps", "1", "-o", str(tmp_path / "w.gif")], capsys)
    assert code == 0 and "backend wan (tiny)" in err


@pytest.mark.parametrize("size,long_side", [("480p", 816), ("160x96", 160)])  # 5:3 → the 816x480 bucket
def test_procedural_size_follows_wan_canvas_rules(tmp_path, rgb_image, capsys, size, long_side, monkeypatch):
    monkeypatch.delenv("LOOMIS_MODEL", raising=False)
    big = tmp_path / "big.png"
    Image.fromarray(np.kron(rgb_image, np.ones((20, 20, 1), np.uint8))).save(big)  # 1600x960, 5:3
    code, _, err = run([str(big), "--frames", "3", "--size", size, "-o", str(tmp_path / "f")], capsys)
    assert code == 0, err
    assert max(json.loads((tmp_path / "f.json").read_text())["size"]) == long_side
