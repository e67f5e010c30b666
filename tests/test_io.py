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


# ------------------------------------------------------------------------------------------------
# output-path check, stale temporaries, group commits, permissions, provenance, decompression bombs
# ------------------------------------------------------------------------------------------------
import os  # noqa: E402
import signal  # noqa: E402
import struct  # noqa: E402
import zlib  # noqa: E402

from loomis import io  # noqa: E402
from tests.readonly import readonly_dir  # noqa: E402


@pytest.mark.parametrize(
    "setup,target,kind,create,msg",
    [
        ("dir", "x", "file", False, "is an existing folder"),
        ("file", "x", "dir", False, "is an existing file, not a folder"),
        (None, "missing/x.mp4", "file", False, "output folder .*missing does not exist"),
        (None, "missing/deeper/ds", "dir", True, None),  # a folder the command creates with parents
        ("file", "x/y.mp4", "file", False, "is not a directory"),
        ("file", "x.mp4", "file", False, None),  # an existing file is replaced atomically later
        ("dir", "x", "dir", False, None),
    ],
)
def test_check_output(tmp_path, setup, target, kind, create, msg):
    if setup == "dir":
        (tmp_path / "x").mkdir()
    elif setup == "file":
        (tmp_path / ("x.mp4" if target == "x.mp4" else "x")).write_text("keep")
    if msg is None:
        assert io.check_output(tmp_path / target, kind, create=create) == tmp_path / target
        assert not (tmp_path / "missing").exists()  # checking creates nothing
    else:
        with pytest.raises(InputError, match=msg):
            io.check_output(tmp_path / target, kind, create=create)


def test_check_output_refuses_a_read_only_folder(tmp_path):
    with readonly_dir(tmp_path / "ro") as ro:
        for kind, target in (("file", ro / "a.mp4"), ("dir", ro), ("dir", ro / "new" / "ds")):
            with pytest.raises(InputError, match="not writable"):
                io.check_output(target, kind, create=True)


def test_stale_temps_of_dead_writers_are_removed(tmp_path):
    dead = _dead_pid()
    host = io._host_tag()
    stale = tmp_path / f".out.mp4.lt-{host}-{dead}-abc.tmp.mp4"
    stale_dir = tmp_path / f".frames.lt-{host}-{dead}-xyz.tmp"
    live = tmp_path / f".out.mp4.lt-{host}-{os.getppid()}-def.tmp.mp4"  # the writer still runs
    foreign = tmp_path / f".out.mp4.lt-{'0000' if host != '0000' else '0001'}-{dead}-g.tmp.mp4"
    other = tmp_path / ".out.mp4.notours.tmp"
    for p in (stale, live, foreign, other):
        p.write_bytes(b"x")
    stale_dir.mkdir()
    (stale_dir / "00000.png").write_bytes(b"x")
    io._cleaned_dirs.discard(str(tmp_path.resolve()))
    io.write_json(tmp_path / "new.json", {"a": 1})  # the next write into the folder cleans it
    assert not stale.exists() and not stale_dir.exists()
    assert live.exists() and foreign.exists() and other.exists()  # another host's: only when old


def _dead_pid() -> int:
    import subprocess

    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_commit_together_all_or_nothing(tmp_path):
    a, b, c = tmp_path / "v.mp4", tmp_path / "v.mp4.json", tmp_path / "frames"
    for p in (a, b):
        p.write_text("old")
    with pytest.raises(RuntimeError), io.commit_together():
        io.write_bytes(a, b"new video")
        io.write_video(c, _frames(2))
        raise RuntimeError("the sheet failed")
    assert a.read_text() == "old" and b.read_text() == "old" and not c.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4", "v.mp4.json"]  # no temps left
    with io.commit_together():
        io.write_bytes(a, b"new video")
        assert a.read_text() == "old"  # nothing visible until the group is done
        io.write_json(b, {"v": 2})
    assert a.read_bytes() == b"new video" and '"v": 2' in b.read_text()


def test_signals_are_held_back_during_the_renames():
    caught = []
    old = signal.signal(signal.SIGTERM, lambda n, f: caught.append(n))
    try:
        with io.deferred_signals():
            os.kill(os.getpid(), signal.SIGTERM)
            assert caught == []
        assert caught == [signal.SIGTERM]  # delivered once the block is over
    finally:
        signal.signal(signal.SIGTERM, old)


@pytest.mark.parametrize("umask", [0o077, 0o022])
def test_outputs_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        io.write_video(tmp_path / "v.mp4", _frames(3))
        io.write_video(tmp_path / "frames", _frames(2))
        io.write_json(tmp_path / "r.json", {})
        with io.atomic_path(tmp_path / "lora.safetensors") as tmp:
            tmp.write_bytes(b"x")
    finally:
        os.umask(old)
    for name in ("v.mp4", "r.json", "lora.safetensors", "frames/00000.png"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask, name
    assert (tmp_path / "frames").stat().st_mode & 0o777 == 0o777 & ~umask


@pytest.mark.parametrize("target", ["v.mp4", "v.gif", "v.webp", "frames"])
def test_provenance_is_embedded_in_the_container(tmp_path, target):
    note = "Generated reconstruction, not a record."
    io.write_video(tmp_path / target, _frames(3), fps=8, description=note)
    assert io.read_description(tmp_path / target) == note
    io.write_video(tmp_path / ("plain" + target.removeprefix("v").removeprefix("frames")), _frames(2))
    assert io.read_description(tmp_path / ("plain" + target.removeprefix("v").removeprefix("frames"))) is None


def test_sheet_png_carries_a_text_chunk(tmp_path):
    io.save_image(tmp_path / "s.png", _frames(1)[0], description="not a record")
    with Image.open(tmp_path / "s.png") as img:
        assert img.text["Description"] == "not a record"


def _png_declaring(path, w, h):
    """A tiny valid PNG whose header declares w×h (CRC fixed), as a decompression bomb does."""
    Image.new("RGB", (2, 2)).save(path)
    data = bytearray(path.read_bytes())
    data[16:24] = struct.pack(">II", w, h)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))


def test_decompression_bomb_is_refused_before_decoding(tmp_path):
    _png_declaring(tmp_path / "bomb.png", 70000, 70000)
    with pytest.raises(InputError, match="than the 100 megapixel limit"):
        load_image(tmp_path / "bomb.png")
    _png_declaring(tmp_path / "bomb2.png", 12000, 12000)  # 144 MP: our limit, below PIL's own
    with pytest.raises(InputError, match="12000x12000 pixels, more than the 100 megapixel limit"):
        load_image(tmp_path / "bomb2.png")
    _png_declaring(tmp_path / "big_ok.png", 9000, 9000)  # 81 MP: under the limit, so decoding fails
    with pytest.raises(InputError, match="corrupt or truncated"):
        load_image(tmp_path / "big_ok.png")


@pytest.mark.parametrize("fps", [0, -8, float("inf"), float("nan")])
def test_write_video_refuses_bad_fps(tmp_path, fps):
    with pytest.raises(InputError, match="fps must be a finite number greater than 0"):
        io.write_video(tmp_path / "v.mp4", _frames(2), fps=fps)
    assert list(tmp_path.iterdir()) == []
