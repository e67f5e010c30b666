"""``loomis-eval`` end to end: synthetic processes in tmp_path, bad inputs (exit 2), and the real
comparison from ../shared/realdata (skipped with a reason when absent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from loomis_eval.cli import main
from synthetic import reveal_process

from loomis.io import write_video


def run(argv) -> int:
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in argv])
    return exc.value.code


def test_single_on_folders_and_gif_writes_contract_json(tmp_path, rgb_image, capsys):
    gt = write_video(tmp_path / "gt", reveal_process(rgb_image, 6))
    gen = write_video(tmp_path / "gen.gif", reveal_process(rgb_image, 9, size=(100, 60)), fps=4)  # other size
    out = tmp_path / "m.json"
    assert run([gen, gt, "--json", out, "--closest", "none"]) == 0
    data = json.loads(out.read_text())
    for key in ("pdp", "pdp_norm", "distance", "distance_name", "inverse_painting", "closest_frame"):
        assert key in data
    assert data["distance_name"] == "msssim-deltae"
    assert data["pdp"] < 0.05 and data["inverse_painting"]["iou"] > 0.5
    assert "pdp" in capsys.readouterr().out


def test_video_against_itself_scores_zero(tmp_path, rgb_image):
    gt = write_video(tmp_path / "gt", reveal_process(rgb_image, 5))
    out = tmp_path / "self.json"
    assert run([gt, gt, "--json", out, "--closest", "none", "--distance", "delta-e"]) == 0
    data = json.loads(out.read_text())
    assert data["pdp"] == 0 and data["pdp_norm"] == 0 and data["distance"] == 0
    assert data["distance_name"] == "delta-e" and data["inverse_painting"]["dts"] == 0


def test_help_lists_options_with_defaults(capsys):
    assert run(["--help"]) == 0
    text = capsys.readouterr().out
    for opt in ("--distance", "--json", "--closest", "--max-frames", "--reference", "compare"):
        assert opt in text
    assert "(default:msssim-deltae)" in "".join(text.split())  # help wraps lines
    assert run(["compare", "--help"]) == 0
    assert "--out" in capsys.readouterr().out


@pytest.fixture
def good(tmp_path, rgb_image) -> Path:
    return write_video(tmp_path / "good", reveal_process(rgb_image, 4))


@pytest.mark.parametrize(
    "case, message",
    [
        ("unreadable", "not a readable video"),
        ("one_frame", "needs at least 2"),
        ("empty_folder", "holds no image frames"),
        ("missing", "does not exist"),
        ("bad_distance", "invalid choice"),
    ],
)
def test_bad_inputs_exit_2(case, message, tmp_path, good, rgb_image, capsys):
    if case == "unreadable":
        bad = tmp_path / "bad.mp4"
        bad.write_bytes(b"this is not a video at all" * 10)
        argv = [bad, good]
    elif case == "one_frame":
        bad = write_video(tmp_path / "one", [rgb_image])
        argv = [good, bad]
    elif case == "empty_folder":
        (tmp_path / "empty").mkdir()
        argv = [tmp_path / "empty", good]
    elif case == "missing":
        argv = [tmp_path / "nope.mp4", good]
    else:
        argv = [good, good, "--distance", "nope"]
    assert run(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and message in err[-1]


def test_compare_bad_name_path_and_failed_run_keeps_output(tmp_path, good, capsys):
    assert run(["compare", good, "justapath", "--out", tmp_path / "o"]) == 2
    assert "NAME=VIDEO" in capsys.readouterr().err
    assert run(["compare", good, "a=" + str(good), "a=" + str(good), "--out", tmp_path / "o"]) == 2
    out = tmp_path / "keep.json"
    out.write_text("old")
    assert run([tmp_path / "nope.mp4", good, "--json", out]) == 2
    assert out.read_text() == "old"


def test_compare_synthetic_writes_table_and_plots(tmp_path, rgb_image):
    gt = write_video(tmp_path / "gt", reveal_process(rgb_image, 6))
    a = write_video(tmp_path / "a", reveal_process(rgb_image, 8))
    b = write_video(tmp_path / "b", reveal_process(rgb_image, 3)[::-1] + [rgb_image])  # wrong order
    out = tmp_path / "cmp"
    assert run(["compare", gt, f"good={a}", f"odd={b}", "--out", out, "--closest", "none"]) == 0
    for name in ("table.md", "results.json", "pdp_curves.png", "time_maps.png"):
        assert (out / name).stat().st_size > 0
    res = json.loads((out / "results.json").read_text())["methods"]
    assert res["good"]["pdp"] < res["odd"]["pdp"]
    assert "| good |" in (out / "table.md").read_text()


@pytest.mark.realdata
def test_compare_real_peer_outputs(realdata, tmp_path):
    comp = realdata / "inversepainting_github_io" / "comparison"
    methods = [f"{n}={comp / (n + '.mp4')}" for n in ("ours", "timecraft", "PT", "svd")]
    out = tmp_path / "real"
    assert run(["compare", comp / "gt.mp4", *methods, "--out", out, "--max-frames", "12"]) == 0
    table = (out / "table.md").read_text()
    for n in ("ours", "timecraft", "PT", "svd"):
        assert f"| {n} |" in table
    res = json.loads((out / "results.json").read_text())["methods"]
    assert all(0 < m["pdp"] < 0.5 for m in res.values())
    # Inverse Painting's own output tracks the human order better than Paint Transformer's strokes
    assert res["ours"]["inverse_painting"]["iou"] > res["PT"]["inverse_painting"]["iou"]
    assert (out / "pdp_curves.png").stat().st_size > 10_000 and (
        out / "time_maps.png"
    ).stat().st_size > 10_000


def test_frame_names_with_time_stamps_are_honoured():
    from loomis_eval.cli import times_from_names

    assert times_from_names(["01_t0m15s.jpg", "02_t1m2.5s.jpg", "03_t1h0m0s.png"]) == [15.0, 62.5, 3600.0]
    assert times_from_names(["00000.png", "00001.png"]) is None


@pytest.mark.realdata
def test_single_on_real_frame_folder(realdata, tmp_path):
    """The 10-frame human process (time stamps in the file names) against itself subsampled."""
    folder = realdata / "ArmastusChen_inverse_painting" / "sample_timelapse_frames"
    out = tmp_path / "r.json"
    assert run([folder, folder, "--json", out, "--closest", "none"]) == 0
    data = json.loads(out.read_text())
    assert data["pdp"] == 0 and data["times_gt"][1] == pytest.approx((40 - 15) / (201 - 15))
