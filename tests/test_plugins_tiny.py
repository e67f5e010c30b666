"""The learned plug-ins run their real classes (toy size, random weights built offline) through
the CLI flags users pass: Qwen2.5-VL captions (``caption --model DIR`` / ``$LOOMIS_QWEN25_VL``),
GroundingDINO canvas and hand boxes (``curate --detector-model DIR``), a diffusers image-to-image
pipeline for media variants (``variants --model DIR``). Outputs of random weights mean nothing;
the tests check that the whole path runs and that its results land where they should."""

from __future__ import annotations

import numpy as np
import pytest
from loomis_data import tiny_models
from loomis_data.cli import main
from loomis_data.tutorial_synth import TutorialSpec, make_tutorial, procedural_sequence

from loomis.dataset import read_dataset
from loomis.io import save_image


def cli(*argv) -> int:
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in argv])
    return exc.value.code


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    d = tmp_path_factory.mktemp("plug")
    img = procedural_sequence((96, 72), steps=4)[-1]
    save_image(d / "scene.png", img)
    out = d / "ds"
    assert (
        cli("synth", d / "scene.png", "--out", out, "--medium", "oil", "--frames", "5", "--max-side", "96")
        == 0
    )
    return out


def test_qwen25vl_captioner_through_model_flag_and_env(dataset, tmp_path, monkeypatch, capsys):
    model = tiny_models.save_tiny_qwen25vl(tmp_path / "qwen")
    assert (model / "config.json").is_file() and (model / "model.safetensors").is_file()
    monkeypatch.delenv("LOOMIS_QWEN25_VL", raising=False)
    assert cli("caption", dataset) == 2  # no captioner: a clear error, nothing written
    assert "LOOMIS_QWEN25_VL" in capsys.readouterr().err
    assert cli("caption", dataset, "--model", model) == 0
    s = read_dataset(dataset)[0][0]
    # random weights generate random bytes; whatever survives cleaning is stored as its caption
    assert s.meta.get("caption_source") == "qwen2.5-vl" or "no caption" in capsys.readouterr().err
    monkeypatch.setenv("LOOMIS_QWEN25_VL", str(model))
    assert cli("caption", dataset, "--overwrite") == 0


def test_grounding_dino_detectors_through_curate_flag(tmp_path):
    from loomis_data.detectors import GroundingDino, grounding_dino_detectors

    model = tiny_models.save_tiny_grounding_dino(tmp_path / "dino")
    dino = GroundingDino(str(model), box_threshold=0.0, text_threshold=0.0)
    boxes = dino.boxes(np.full((60, 80, 3), 128, np.uint8), "a canvas.")
    assert boxes.ndim == 2 and boxes.shape[1] == 5 and len(boxes) > 0
    assert (boxes[:, 0] <= boxes[:, 2] + 1e-3).all() and (boxes[:, 4] >= 0).all()
    det = grounding_dino_detectors(str(model))
    masks = det.occlusion.masks(np.zeros((2, 60, 80, 3), np.uint8))
    assert masks.shape == (2, 60, 80) and masks.dtype == bool

    spec = TutorialSpec(size=(192, 108), fps=6.0, intro_s=2.0, paint_s=10.0, outro_s=2.0, cell=24)
    tut = make_tutorial(tmp_path / "lesson.mp4", spec, procedural_sequence((96, 72), steps=3))
    out = tmp_path / "ds"
    code = cli("curate", tut.path, "--out", out, "--medium", "acrylic", "--detector-model", model)
    # the seeded random boxes give some canvas: a sample is written through the detector's path
    assert code == 0
    assert read_dataset(out)[0][0].meta["provenance"]["detectors"] == "grounding-dino"


def test_diffusers_img2img_variants_through_model_flag(dataset, tmp_path):
    model = tiny_models.save_tiny_img2img(tmp_path / "edit")
    assert (model / "model_index.json").is_file()
    assert cli("variants", dataset, "--to", "watercolor", "--model", model, "--steps", "0") == 2
    assert cli("variants", dataset, "--to", "watercolor", "--model", model, "--steps", "2") == 0
    s = read_dataset(dataset)[0][0]
    (v,) = [v for v in s.variants if v["medium"] == "watercolor"]
    from loomis.io import load_image

    img = load_image(s.root / "variants" / "watercolor.png")
    assert img.shape == s.load_reference().shape  # the pipeline's output, resized back


def test_sam2_masks_from_dino_boxes_through_curate_flags(tmp_path, capsys):
    from loomis_data.detectors import GroundingDino, Sam2Masks, SamOcclusionDetector

    dino_dir = tiny_models.save_tiny_grounding_dino(tmp_path / "dino")
    sam_dir = tiny_models.save_tiny_sam2(tmp_path / "sam")
    sam = Sam2Masks(str(sam_dir))
    img = np.random.default_rng(0).integers(0, 255, (60, 80, 3), dtype=np.uint8)
    union = sam.union(img, np.array([[5, 5, 30, 40], [40, 10, 75, 55]]))
    assert union.shape == (60, 80) and union.dtype == bool
    assert not sam.union(img, np.zeros((0, 4))).any()
    none = SamOcclusionDetector(GroundingDino(str(dino_dir), box_threshold=1.01), sam)
    assert not none.masks(np.stack([img, img])).any()  # no boxes, no masks
    spec = TutorialSpec(size=(192, 108), fps=6.0, intro_s=2.0, paint_s=10.0, outro_s=2.0, cell=24)
    tut = make_tutorial(tmp_path / "lesson.mp4", spec, procedural_sequence((96, 72), steps=3))
    out = tmp_path / "ds"
    assert cli("curate", tut.path, "--out", out, "--medium", "acrylic", "--mask-model", sam_dir) == 2
    assert "--mask-model needs --detector-model" in capsys.readouterr().err
    code = cli(
        "curate",
        tut.path,
        "--out",
        out,
        "--medium",
        "acrylic",
        "--detector-model",
        dino_dir,
        "--mask-model",
        sam_dir,
    )
    assert code == 0
    assert read_dataset(out)[0][0].meta["provenance"]["detectors"] == "grounding-dino+sam2"
