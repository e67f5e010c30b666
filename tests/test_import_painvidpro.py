"""``loomis-data import``: painvidpro output (built here with h5py in its documented layout, as
its ``DynamicVideoArchive`` writes it) round-trips into Loomis samples: frames, order, progress,
caption, reference, variants; what cannot be mapped is reported; bad folders exit 2."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from loomis_data.cli import main
from loomis_data.tutorial_synth import procedural_sequence
from PIL import Image

from loomis.dataset import read_dataset

h5py = pytest.importorskip("h5py", reason="h5py (the data extra) reads painvidpro archives")


def cli(*argv) -> int:
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in argv])
    return exc.value.code


def _jpeg(img: np.ndarray, quality: int = 85) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=quality)
    return np.frombuffer(buf.getvalue(), np.uint8)


def _decoded(img: np.ndarray) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(_jpeg(img).tobytes())).convert("RGB"))


def write_archive(path, frames, frame_meta, refs, ref_meta, attrs):
    """The layout of painvidpro.data_storage.hdf5_video_archive.DynamicVideoArchive."""
    vlen = h5py.vlen_dtype(np.dtype("uint8"))
    text = h5py.string_dtype(encoding="utf-8")
    with h5py.File(path, "w") as f:
        for k, v in attrs.items():
            f.attrs[k] = json.dumps(v) if isinstance(v, (dict, list)) else v
        for name, imgs, mname, metas in (
            ("frames", frames, "frame_metadata", frame_meta),
            ("reference_frames", refs, "reference_frame_metadata", ref_meta),
        ):
            d = f.create_dataset(name, shape=(len(imgs),), maxshape=(None,), dtype=vlen, chunks=(1,))
            m = f.create_dataset(mname, shape=(len(imgs),), maxshape=(None,), dtype=text)
            for i, (img, meta) in enumerate(zip(imgs, metas)):
                d[i] = _jpeg(img)
                m[i] = json.dumps(meta)


@pytest.fixture
def pipeline(tmp_path):
    root = tmp_path / "pipe"
    seq = procedural_sequence((64, 48), steps=5)[1:]
    items = {"youtube": {"vidA": {"url": "vidA"}, "vidB": {"url": "vidB"}, "vidC": {"url": "vidC"}}}
    (root / "youtube").mkdir(parents=True)
    (root / "pipeline.json").write_text(json.dumps({"video_item_dict": items}))
    n = len(seq)
    fmeta = [
        {"processor": "x", "frame_index": 30 * i, "frame_progress": i / (n - 1), "logo_removed": False}
        for i in range(n)
    ]
    pencil = np.full_like(seq[-1], 200)
    attrs = {
        "id": "vidA",
        "title": "Easy acrylic landscape",
        "source": "youtube",
        "art_media": "acrylic",
        "art_style": "realism",
        "fps": 30,
        "exclude_video": False,
        "channel": "Some Channel",
        "reference_frame_tags": [
            {"tag": "An acrylic painting of green hills under a blue sky with a yellow sun"}
        ],
    }
    ref_meta = [
        fmeta[-1],
        {"prompt": "Turn this painting into a pencil drawing", "seed": 1},
        {"prompt": "make it pop"},
    ]
    for vid in ("vidA", "vidB", "vidC"):
        (root / "youtube" / vid).mkdir()
    write_archive(root / "youtube/vidA/frame_data.h5", seq, fmeta, [seq[-1], pencil, pencil], ref_meta, attrs)
    write_archive(
        root / "youtube/vidB/frame_data.h5",
        seq,
        fmeta,
        [seq[-1]],
        [fmeta[-1]],
        {**attrs, "exclude_video": True},
    )
    write_archive(
        root / "youtube/vidC/frame_data.h5",
        seq,
        fmeta,
        [seq[-1]],
        [fmeta[-1]],
        {**attrs, "art_media": "sand art"},
    )
    return root, seq


def test_import_round_trips_frames_and_captions(pipeline, tmp_path, capsys):
    root, seq = pipeline
    out = tmp_path / "ds"
    assert cli("import", root, "--out", out, "--medium", "oil") == 0
    samples = {s.id: s for s in read_dataset(out)[0]}
    assert set(samples) == {"youtube-vidA", "youtube-vidC"}  # vidB is excluded by its own flag
    a = samples["youtube-vidA"]
    assert a.medium == "acrylic" and a.split == "train"
    assert a.caption == "Green hills under a blue sky with a yellow sun."  # content words only
    frames = a.load_frames()
    assert len(frames) == len(seq)
    for got, src in zip(frames, seq):
        np.testing.assert_array_equal(got, _decoded(src))  # the stored JPEG, decoded losslessly on
    assert a.progress == pytest.approx([i / (len(seq) - 1) for i in range(len(seq))])
    assert a.times == pytest.approx([i for i in range(len(seq))])  # frame_index 30*i at 30 fps
    np.testing.assert_array_equal(a.load_reference(), _decoded(seq[-1]))
    assert [v["medium"] for v in a.variants] == ["pencil"]
    assert samples["youtube-vidC"].medium == "oil"  # unknown art_media: the --medium fallback
    report = json.loads((out / ".import" / "report.json").read_text())
    assert "exclude_video" in report["skipped"][str(root / "youtube" / "vidB")]
    notes = " ".join(report["not_mapped"]["youtube-vidA"])
    assert "'channel'" in notes and "make it pop" in notes  # unknown key, variation of unknown medium
    assert "sand art" in " ".join(report["not_mapped"]["youtube-vidC"])


def test_import_without_fallback_names_the_unmapped_video_and_exits_2(pipeline, tmp_path, capsys):
    root, _ = pipeline
    out = tmp_path / "ds"
    assert cli("import", root, "--out", out) == 2
    err = capsys.readouterr().err
    assert "vidC" in err and "art_media" in err
    assert {s.id for s in read_dataset(out)[0]} == {"youtube-vidA"}  # the rest was imported


def test_import_bad_folders_exit_2(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli("import", empty, "--out", tmp_path / "ds") == 2
    assert "frame_data.h5" in capsys.readouterr().err
    bad = tmp_path / "bad" / "v"
    bad.mkdir(parents=True)
    (bad / "frame_data.h5").write_bytes(b"not hdf5")
    assert cli("import", tmp_path / "bad", "--out", tmp_path / "ds2") == 2
    assert "not a readable HDF5" in capsys.readouterr().err
