"""A real browser against a running ``loomis-studio``: headless Chromium (Debian's package, driven
by Playwright; no browser download) uploads a picture, paints it with the procedural backend,
sees the video and the lesson, scrubs, downloads the files, tries non-pictures, and opens the
exported HTML lesson. ``.ci/run`` installs chromium so that this runs in CI."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from loomis.io import save_image

CHROMIUM = os.environ.get("LOOMIS_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = os.environ.get("LOOMIS_SCREENSHOTS")  # a folder to keep screenshots in (for people)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    pytest.importorskip("gradio", reason="the studio needs gradio (pip install loomis[studio])")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (see .ci/run)")
    work = tmp_path_factory.mktemp("studio")
    port = _free_port()
    cmd = [sys.executable, "-c", "from loomis_studio.cli import main; main()", "--port", str(port)]
    proc = subprocess.Popen(
        [*cmd, "--work-dir", str(work / "jobs"), "--max-side", "160"],
        stdout=subprocess.DEVNULL,
        stderr=open(work / "studio.log", "wb"),  # noqa: SIM115 - closed with the process
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail("loomis-studio exited: " + (work / "studio.log").read_text()[-2000:])
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("loomis-studio did not answer within 120 s")
    yield url, work
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="pip install playwright (no browser download)"
    )
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def _shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / name), full_page=True)


def _status_has(page, *words: str, timeout: float = 60_000) -> str:
    cond = " || ".join(f"t.includes({w!r})" for w in words)
    page.wait_for_function(
        f"(() => {{ const t = document.body.innerText; return {cond}; }})()", timeout=timeout
    )
    return page.inner_text("body")


def test_studio_paint_scrub_download_and_the_lesson_page(studio, browser, tmp_path, rgb_image):
    url, _ = studio
    picture = tmp_path / "painting.png"
    save_image(picture, np.repeat(np.repeat(rgb_image, 2, 0), 2, 1))  # 160x96
    (tmp_path / "notes.txt").write_text("not a picture")
    (tmp_path / "fake.png").write_text("not a picture either")
    page = browser.new_page(viewport={"width": 1360, "height": 1000}, accept_downloads=True)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector("#paint")
    file_input = "#picture input[type=file]"

    # Not pictures: a clear message in the page, never a traceback.
    page.set_input_files(file_input, str(tmp_path / "notes.txt"))
    text = _status_has(page, "Invalid file type", "not a picture")
    assert "Traceback" not in text
    page.set_input_files(file_input, str(tmp_path / "fake.png"))
    text = _status_has(page, "not a readable image")
    assert "error:" in page.inner_text("#status") and "Traceback" not in text

    # A picture: paint it with the procedural backend.
    page.set_input_files(file_input, str(picture))
    _status_has(page, "Ready")
    page.fill("#frames input[type=number]", "9")
    page.keyboard.press("Enter")
    page.click("#paint")
    _status_has(page, "Painted with the procedural backend", "error:", timeout=150_000)
    status = page.inner_text("#status")
    assert "Painted with the procedural backend: 9 frames" in status, status
    src = page.get_attribute("#video video", "src")
    assert src and src.endswith("process.mp4")
    assert page.request.get(src).body()[4:8] == b"ftyp"  # a real mp4 is served
    card = page.text_content("#card")
    assert "step 1 of" in card and "Stage 1 of" in card and "ΔE" in card
    _shot(page, "studio.png")

    # Scrub to the next step: the lesson beside the picture follows.
    page.fill("#scrub input[type=number]", "2")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "document.querySelector('#card').textContent.includes('step 2 of')", timeout=20_000
    )

    # Downloads: every file is offered and downloads.
    names = "".join(page.text_content("#downloads").split())
    for name in (
        "process.mp4",
        "process.mp4.json",
        "strokes.svg",
        "strokes.json",
        "lesson.html",
        "lesson.pdf",
        "lesson.json",
    ):
        assert name in names, names
    got = {}
    for link in page.query_selector_all("#downloads a[download]"):
        with page.expect_download() as dl:
            link.click()
        d = dl.value
        target = tmp_path / "dl" / d.suggested_filename
        d.save_as(target)
        got[d.suggested_filename] = target
    assert {"lesson.html", "lesson.pdf", "strokes.svg", "process.mp4"} <= set(got), sorted(got)
    assert got["lesson.pdf"].read_bytes()[:5] == b"%PDF-"
    assert got["strokes.svg"].read_text().startswith("<svg")

    # The exported lesson opens on its own (file://, offline) and steps through.
    lesson = browser.new_page(viewport={"width": 1280, "height": 900})
    lesson.on("pageerror", lambda e: errors.append(str(e)))
    lesson.goto(got["lesson.html"].as_uri())
    first = lesson.inner_text("#instruction")
    assert first and lesson.inner_text("#step-no").startswith("Step 1 of")
    lesson.click("#next")
    assert lesson.inner_text("#step-no").startswith("Step 2 of")
    lesson.click("#show-result")
    assert lesson.get_attribute("#pic", "src").startswith("data:image/jpeg;base64,")
    assert lesson.query_selector_all("nav#stages button")
    _shot(lesson, "lesson.png")
    assert not errors, errors
