"""``caption`` and ``variants`` shard like ``curate`` (``--shard i/n``, resumable), and sharded
writers keep one index file each (no file lock: NFS/Lustre), merged by every reader."""

from __future__ import annotations

import json

import numpy as np
import pytest
from loomis_data.cli import main

from loomis.dataset import SHARD_INDEX_DIR, read_dataset, write_sample


def cli(*argv) -> int:
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in argv])
    return exc.value.code


def _dataset(path, n=5):
    rng = np.random.default_rng(0)
    for k in range(n):
        frames = [rng.integers(0, 255, (24, 32, 3), dtype=np.uint8) for _ in range(3)]
        write_sample(path, f"s{k}", frames, medium="oil")
    return path


def test_caption_and_variants_shards_cover_everything_once(tmp_path):
    ds = _dataset(tmp_path / "ds")
    csv = tmp_path / "caps.csv"
    csv.write_text("id,caption\n" + "".join(f"s{k},A red barn number {k}\n" for k in range(5)))
    assert cli("caption", ds, "--captions", csv, "--shard", "1/2") == 0
    got = {s.id: s.caption for s in read_dataset(ds)[0]}
    assert {k for k, v in got.items() if v} == {"s1", "s3"}  # k % 2 == 1 of the sorted ids
    assert cli("caption", ds, "--captions", csv, "--shard", "0/2") == 0
    assert cli("variants", ds, "--to", "pencil-mono", "--shard", "0/2") == 0
    assert cli("variants", ds, "--to", "pencil-mono", "--shard", "1/2") == 0
    samples = read_dataset(ds)[0]
    assert len(samples) == 5
    assert all(s.caption.startswith("A red barn") for s in samples)
    assert all([v["medium"] for v in s.variants] == ["pencil-mono"] for s in samples)
    files = sorted(p.name for p in (ds / SHARD_INDEX_DIR).iterdir())
    assert files == ["shard-0-of-2.jsonl", "shard-1-of-2.jsonl"]
    rows = [json.loads(x) for x in (ds / SHARD_INDEX_DIR / "shard-1-of-2.jsonl").read_text().splitlines()]
    assert {r["id"] for r in rows} == {"s1", "s3"}
    report = tmp_path / "r.json"
    assert cli("inspect", ds, "--json", report) == 0
    r = json.loads(report.read_text())
    assert r["samples"] == 5 and r["captioned"] == 5 and r["variants"] == {"pencil-mono": 5}
    # resumable: a rerun of a finished shard writes nothing new
    before = (ds / SHARD_INDEX_DIR / "shard-0-of-2.jsonl").read_text()
    assert cli("caption", ds, "--captions", csv, "--shard", "0/2") == 0
    assert (ds / SHARD_INDEX_DIR / "shard-0-of-2.jsonl").read_text() == before


def test_training_reader_sees_shard_rows(tmp_path):
    """The trainer's loader goes through read_dataset: a sample rewritten by a shard is current."""
    ds = _dataset(tmp_path / "ds", n=2)
    frames = [np.zeros((24, 32, 3), np.uint8), np.full((24, 32, 3), 255, np.uint8)]
    write_sample(ds, "s1", frames, medium="watercolor", overwrite=True, shard=(1, 4))
    by_id = {s.id: s for s in read_dataset(ds)[0]}
    assert by_id["s1"].medium == "watercolor" and by_id["s0"].medium == "oil"


@pytest.mark.parametrize("cmd", ["caption", "variants"])
def test_bad_shard_exit_2(tmp_path, cmd, capsys):
    ds = _dataset(tmp_path / "ds", n=1)
    csv = tmp_path / "c.csv"
    csv.write_text("s0,A barn\n")
    extra = ["--captions", csv] if cmd == "caption" else ["--to", "pencil-mono"]
    assert cli(cmd, ds, *extra, "--shard", "2/2") == 2
    assert "--shard must be I/N" in capsys.readouterr().err
    assert not read_dataset(ds)[0][0].caption and not read_dataset(ds)[0][0].variants
