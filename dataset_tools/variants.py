"""Media-transfer references I*: the finished painting re-rendered in another medium.

Weight-free stylisations for the line and colour styles that allow it — ``pencil-mono`` (colour
dodge of the grey image by its blurred negative, the classic pencil-sketch filter),
``coloring-book`` (clean black outlines on white) and ``children`` (few flat colours with thick
outlines) — and an image-editing pipeline from a local diffusers folder for everything else
(``photo`` always needs one).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from loomis.errors import InputError

log = logging.getLogger(__name__)

PROMPTS = {
    "pencil-mono": "a monochrome graphite pencil drawing of the same scene",
    "children": "a child's crayon drawing of the same scene, simple shapes, flat colours",
    "coloring-book": "a coloring-book page of the same scene, black outlines on white",
    "photo": "a realistic photograph of the same scene",
}


def pencil_mono(img: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
    blur = cv2.GaussianBlur(255 - gray, (0, 0), max(1.0, min(img.shape[:2]) / 80))
    sketch = np.clip(gray * 255 / np.maximum(255 - blur, 1), 0, 255)
    sketch = 255 - (255 - sketch) * 1.4  # darker strokes
    return np.repeat(np.clip(sketch, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def _outlines(img: np.ndarray, thickness: int) -> np.ndarray:
    gray = cv2.cvtColor(cv2.bilateralFilter(img, 9, 60, 9), cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(gray, 40, 110)
    if thickness > 1:
        edges = cv2.dilate(edges, np.ones((thickness, thickness), np.uint8))
    return edges > 0


def coloring_book(img: np.ndarray) -> np.ndarray:
    smooth = cv2.pyrMeanShiftFiltering(img, 10, 30) if min(img.shape[:2]) >= 16 else img
    out = np.full_like(img, 255)
    out[_outlines(smooth, 2)] = 0
    return out


def children(img: np.ndarray, colours: int = 6) -> np.ndarray:
    small = cv2.bilateralFilter(img, 9, 75, 9)
    data = small.reshape(-1, 3).astype(np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 1.0)
    _, labels, centres = cv2.kmeans(data, colours, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    sat = cv2.cvtColor(centres.astype(np.uint8)[None], cv2.COLOR_RGB2HSV)[0].astype(np.float32)
    sat[:, 1] = np.clip(sat[:, 1] * 1.4, 0, 255)  # crayon-bright
    centres = cv2.cvtColor(sat.astype(np.uint8)[None], cv2.COLOR_HSV2RGB)[0]
    flat = centres[labels.ravel()].reshape(img.shape)
    flat[_outlines(img, 3)] = (30, 30, 30)
    return flat


WEIGHT_FREE = {"pencil-mono": pencil_mono, "coloring-book": coloring_book, "children": children}


class ImageEditor(Protocol):
    def edit(self, image: np.ndarray, prompt: str) -> np.ndarray: ...


class DiffusersEditor:
    """An image-to-image / instruction-editing pipeline from a local diffusers folder."""

    def __init__(self, model_dir: str, steps: int = 30, strength: float = 0.75):
        path = Path(model_dir)
        from loomis.models import check_diffusers_dir  # torch: only when a model is given

        check_diffusers_dir(path, hint="--model")
        import torch
        from diffusers import AutoPipelineForImage2Image

        self.torch = torch
        device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.float16 if device == "cuda" else torch.float32
        self.pipe = AutoPipelineForImage2Image.from_pretrained(
            path, torch_dtype=dtype, local_files_only=True
        ).to(device)
        self.steps, self.strength = steps, strength

    def edit(self, image: np.ndarray, prompt: str) -> np.ndarray:
        from PIL import Image

        out = self.pipe(
            prompt=prompt,
            image=Image.fromarray(image),
            num_inference_steps=self.steps,
            strength=self.strength,
        ).images[0]
        return np.asarray(out.convert("RGB").resize((image.shape[1], image.shape[0])))


def make_variant(
    image: np.ndarray, medium: str, editor: ImageEditor | None = None, prefer_model: bool = False
) -> np.ndarray:
    """The reference re-rendered as ``medium``; weight-free when possible unless ``prefer_model``."""
    if editor is not None and (prefer_model or medium not in WEIGHT_FREE):
        return editor.edit(image, PROMPTS.get(medium, f"the same scene as {medium}"))
    if medium in WEIGHT_FREE:
        return WEIGHT_FREE[medium](image)
    raise InputError(
        f"variant {medium!r} needs an image-editing model: pass --model DIR (a local diffusers pipeline)"
    )
