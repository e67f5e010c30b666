import numpy as np
import pytest
from PIL import Image

from loomis.errors import InputError
from loomis.io import atomic_path, contact_sheet, load_image, read_video, write_video


def _frames(n=5, h=32, w=48):
    return [np.full((h, w, 3), 25 * i, np.uint8) for i in range(n)]


def test_load_image_modes(tmp_path):
    rgba = Image.new("RGBA", (4, 3), (255, 0, 0, 0))  # fully transparent red → white paper
    rgba.save(tmp_path / "a.png")
    assert (load_image(tmp_path / "a.png") == 255).all()
    Image.new("L", (4, 3), 100).save(tmp_path / "g.png")
    g = load_image(tmp_path / "g.png")
    assert g.shape == (3, 4, 3) and (g == 100).all()
    arr16 = np.full((3, 4), 65535, np.uint16)
    Image.fromarray(arr16).save(tmp_path / "s.png")
    assert (load_image(tmp_path / "s.png") == 255).all()


def test_load_image_honours_exif_orientation(tmp_path):
    img = Image.new("RGB", (4, 2), (10, 20, 30))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    img.save(tmp_path / "r.jpg", exif=exif)
    assert load_image(tmp_path / "r.jpg").shape == (4, 2, 3)


@pytest.mark.parametrize(
    "content,msg",
    [
        (b"", "empty"),
        (b"not an image", "not a readable image"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not a readable image|corrupt"),
    ],
)
def test_load_image_bad_files(tmp_path, content, msg):
    p = tmp_path / "bad.png"
    p.write_bytes(content)
    with pytest.raises(InputError, match=msg):
        load_image(p)
    with pytest.raises(InputError, match="does not exist"):
        load_image(tmp_path / "missing.png")


@pytest.mark.parametrize("suffix", [".mp4", ".gif", ".webp", ""])
def test_video_round_trip(tmp_path, suffix):
    frames = _frames()
    out = write_video(tmp_path / f"v{suffix}", frames, fps=4)
    back = read_video(out)
    assert len(back) == 5
    assert back.frames[0].shape == (32, 48, 3)
    tol = 6 if suffix in (".mp4", ".webp") else 0
    for a, b in zip(frames, back.frames):
        assert np.abs(a.astype(int) - b.astype(int)).mean() <= tol


def test_failed_write_keeps_existing_output(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("precious")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "precious"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_contact_sheet_picks_first_and_last():
    frames = _frames(n=10)
    sheet = contact_sheet(frames, n=4, cols=4, gap=0)
    assert sheet.shape == (32, 4 * 48, 3)
    assert sheet[0, 0, 0] == 0 and sheet[0, -1, 0] == frames[-1][0, 0, 0]
