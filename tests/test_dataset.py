"""The dataset layout of docs/contract.md: write, read back, index updates, bad samples, concurrent writers."""

import json
import multiprocessing as mp

import numpy as np
import pytest

from loomis.dataset import INDEX, read_dataset, update_meta, write_sample
from loomis.errors import InputError


def frames(n=4, value=0):
    return [np.full((8, 10, 3), value + 10 * i, np.uint8) for i in range(n)]


def test_round_trip_in_painting_order(tmp_path):
    write_sample(
        tmp_path, "a", frames(), medium="oil", caption="A lake.", meta={"provenance": {"source": "test"}}
    )
    (s,), problems = read_dataset(tmp_path)
    assert problems == [] and s.id == "a" and s.medium == "oil" and s.caption == "A lake."
    loaded = s.load_frames()
    assert [int(f[0, 0, 0]) for f in loaded] == [0, 10, 20, 30]  # stored as given: painting order
    assert (s.load_reference() == loaded[-1]).all()  # no reference given: the finished frame
    assert s.progress == [0.0, 1 / 3, 2 / 3, 1.0] and s.times is None
    assert json.loads((tmp_path / INDEX).read_text())["source"] == "test"


def test_rewrite_and_update_keep_one_row_per_id(tmp_path):
    write_sample(tmp_path, "a", frames(), medium="oil")
    write_sample(tmp_path, "b", frames(), medium="pencil")
    with pytest.raises(InputError, match="already exists"):
        write_sample(tmp_path, "a", frames(), medium="oil")
    write_sample(tmp_path, "a", frames(n=6), medium="acrylic", overwrite=True)
    update_meta(tmp_path, "b", {"caption": "A cat."})
    samples, _ = read_dataset(tmp_path)
    assert [(s.id, s.medium, s.num_frames, s.caption) for s in samples] == [
        ("a", "acrylic", 6, ""),
        ("b", "pencil", 4, "A cat."),
    ]
    assert len((tmp_path / INDEX).read_text().splitlines()) == 4  # appended, not rewritten


def test_bad_samples_are_reported_with_their_id(tmp_path):
    write_sample(tmp_path, "good", frames(), medium="oil")
    write_sample(tmp_path, "short", frames(), medium="oil")
    for f in list((tmp_path / "short" / "frames").iterdir())[1:]:
        f.unlink()
    write_sample(tmp_path, "noref", frames(), medium="oil")
    (tmp_path / "noref" / "reference.png").unlink()
    samples, problems = read_dataset(tmp_path)
    assert [s.id for s in samples] == ["good"]
    assert sorted(str(p) for p in problems) == [
        "noref: missing reference.png",
        "short: needs at least 2 frames, found 1",
    ]
    with pytest.raises(InputError, match="bad sample (short|noref)"):
        read_dataset(tmp_path, on_bad="error")


def test_unfinished_last_index_line_is_ignored_other_bad_lines_refused(tmp_path):
    write_sample(tmp_path, "a", frames(), medium="oil")
    index = tmp_path / INDEX
    index.write_text(index.read_text() + '{"id": "b", "med')
    assert [s.id for s in read_dataset(tmp_path)[0]] == ["a"]
    index.write_text('{"id": "x"\n' + index.read_text())
    with pytest.raises(InputError, match="line 1 is not valid JSON"):
        read_dataset(tmp_path)


@pytest.mark.parametrize("bad,msg", [("../x", "bad sample id"), ("", "bad sample id")])
def test_bad_ids_and_inputs(tmp_path, bad, msg):
    with pytest.raises(InputError, match=msg):
        write_sample(tmp_path, bad, frames(), medium="oil")
    with pytest.raises(InputError, match="at least 2 frames"):
        write_sample(tmp_path, "one", frames(n=1), medium="oil")
    with pytest.raises(InputError, match="not a Loomis dataset"):
        read_dataset(tmp_path)


def _writer(args):
    root, worker = args
    for k in range(5):
        write_sample(root, f"w{worker}-{k}", frames(n=2, value=worker), medium="oil")


def test_concurrent_writers_share_one_index(tmp_path):
    """Sharded curation (--shard i/n) runs several writers on one dataset."""
    with mp.get_context("fork").Pool(3) as pool:
        pool.map(_writer, [(tmp_path, w) for w in range(3)])
    samples, problems = read_dataset(tmp_path)
    assert problems == [] and sorted(s.id for s in samples) == sorted(
        f"w{w}-{k}" for w in range(3) for k in range(5)
    )


@pytest.mark.parametrize("where", ["dotdot", "absolute", "link"])
def test_variant_paths_stay_inside_the_dataset(tmp_path, where):
    """A meta.json naming ``../../x.png``, an absolute path or a link out of the dataset is a bad
    sample (never read); a variant inside the dataset is fine."""
    from loomis.clips import ClipOptions, load_items

    outside = tmp_path / "x.png"
    from PIL import Image

    Image.fromarray(np.zeros((8, 10, 3), np.uint8)).save(outside)
    data = tmp_path / "d"
    write_sample(data, "a", frames(), medium="acrylic", extra_files={"variants/ok.png": frames()[0]},
                 meta={"variants": [{"path": "variants/ok.png", "medium": "pencil"}]})  # fmt: skip
    write_sample(data, "b", frames(), medium="acrylic")
    rel = {"dotdot": "../../x.png", "absolute": str(outside), "link": "variants/link.png"}[where]
    if where == "link":
        (data / "b/variants").mkdir()
        (data / "b/variants/link.png").symlink_to(outside)
    update_meta(data, "b", {"variants": [{"path": rel, "medium": "pencil"}]})
    samples, problems = read_dataset(data)
    assert [s.id for s in samples] == ["a"] and [p.id for p in problems] == ["b"]
    assert ("absolute" if where == "absolute" else "leaves the dataset") in problems[0].message
    opts = ClipOptions(frames=5, size=[64, 48], condition="variants", on_bad="error")
    with pytest.raises(InputError, match="bad sample b: variant path"):
        load_items(data, opts)
