"""Interruptions in real processes: SIGINT and SIGTERM during ``loomis-paint --sheet`` and
``loomis-data curate`` exit 130/143 and leave every existing output as it was (a video, its
sidecar and its sheet change together or not at all); a SIGKILLed run's temporaries are removed by
the next run. The signal is sent by the process to itself at a chosen image write (a hook around
``PIL.Image.Image.save``), so the moment is exact; one test also kills from outside."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

HOOK = textwrap.dedent(
    """
    import os, signal, sys
    import PIL.Image
    sig, at, cmd, argv = getattr(signal, sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4:]
    real, count = PIL.Image.Image.save, [0]
    def save(self, *a, **k):
        count[0] += 1
        if count[0] == at:  # in the middle of writing outputs: the temporary exists already
            os.kill(os.getpid(), sig)
        return real(self, *a, **k)
    PIL.Image.Image.save = save
    if cmd == "paint":
        from loomis_infer.paint_cli import main
    else:
        from loomis_data.cli import main
    main(argv)
    """
)


def run_hooked(sig: str, at: int, cmd: str, argv: list, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", HOOK, sig, str(at), cmd, *map(str, argv)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _state(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture
def painted(tmp_path):
    """An image and a previous run's video, sidecar and sheet."""
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), np.uint8)).save(tmp_path / "i.png")
    (tmp_path / "o.mp4").write_bytes(b"previous video")
    (tmp_path / "o.mp4.json").write_text('{"previous": true}')
    (tmp_path / "o.mp4.sheet.png").write_bytes(b"previous sheet")
    return tmp_path


@pytest.mark.parametrize("sig,code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_paint_interrupted_during_the_sheet_changes_nothing(painted, sig, code):
    before = _state(painted)
    r = run_hooked(sig, 1, "paint", ["i.png", "-o", "o.mp4", "--sheet", "--frames", "4"], painted)
    assert r.returncode == code, r.stderr[-2000:]
    assert f"error: interrupted ({sig})" in r.stderr and "Traceback" not in r.stderr
    assert _state(painted) == before  # the new video was written, but never replaced the old one
    assert not [p for p in painted.iterdir() if p.name.startswith(".")]  # no temporaries left


def test_sigkill_leaves_a_temp_that_the_next_run_removes(painted):
    r = run_hooked("SIGKILL", 1, "paint", ["i.png", "-o", "o.mp4", "--sheet", "--frames", "4"], painted)
    assert r.returncode == -signal.SIGKILL
    stale = [p for p in painted.iterdir() if p.name.startswith(".")]
    assert stale and all(".lt-" in p.name for p in stale)  # a SIGKILL cannot clean up
    assert (painted / "o.mp4").read_bytes() == b"previous video"
    r = subprocess.run(
        [Path(sys.executable).parent / "loomis-paint", "i.png", "-o", "o.mp4", "--sheet", "--frames", "4"],
        cwd=painted,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert not [p for p in painted.iterdir() if p.name.startswith(".")]  # stale temporaries removed
    assert (painted / "o.mp4").read_bytes()[4:8] == b"ftyp"  # the new video, sheet and sidecar
    assert (painted / "o.mp4.sheet.png").read_bytes()[:4] == b"\x89PNG"
    assert '"provenance"' in (painted / "o.mp4.json").read_text()


def test_paint_killed_from_outside_with_sigterm(tmp_path):
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (600, 800, 3), np.uint8)).save(
        tmp_path / "big.png"
    )
    proc = subprocess.Popen(
        [Path(sys.executable).parent / "loomis-paint", "big.png", "-o", "o.mp4", "--frames", "1000"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stderr.readline()  # "loomis-paint: backend procedural": painting starts now
    assert "backend" in line, line
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    err = proc.stderr.read()
    status = Path("/proc/self/status").read_text() if Path("/proc/self/status").exists() else ""
    masks = [ln for ln in status.splitlines() if ln.startswith(("SigBlk", "SigIgn"))]
    assert proc.wait(timeout=300) == 143, (err[-2000:], masks)
    assert "error: interrupted (SIGTERM)" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.png"]


@pytest.fixture(scope="module")
def lesson(tmp_path_factory):
    from loomis_data.tutorial_synth import TutorialSpec, make_tutorial, procedural_sequence

    spec = TutorialSpec(size=(320, 180), fps=10.0, intro_s=2.0, paint_s=12.0, outro_s=2.0, cell=24)
    return make_tutorial(
        tmp_path_factory.mktemp("tut") / "lesson.mp4", spec, procedural_sequence((160, 120), 4)
    )


@pytest.mark.parametrize("sig,code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_curate_interrupted_while_writing_a_sample(lesson, tmp_path, sig, code):
    argv = ["curate", lesson.path, "--out", tmp_path / "ds", "--medium", "acrylic"]
    r = run_hooked(sig, 3, "data", argv, tmp_path)  # the third frame of the sample's folder
    assert r.returncode == code, r.stderr[-2000:]
    ds = tmp_path / "ds"
    assert not (ds / "lesson").exists()
    assert not [p.name for p in ds.iterdir() if ".tmp" in p.name]  # the half-written sample is gone
    if sig == "SIGTERM":  # and the next run curates it
        r = subprocess.run(
            [Path(sys.executable).parent / "loomis-data", *map(str, argv)], capture_output=True, text=True
        )
        assert r.returncode == 0, r.stderr[-2000:]
        assert (ds / "lesson" / "frames" / "00000.png").exists()
        assert os.path.getsize(ds / "dataset.jsonl") > 0
