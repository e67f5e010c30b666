"""Optional learned detectors behind the curation interfaces (weights from a local folder only).

GroundingDINO through ``transformers`` (``AutoModelForZeroShotObjectDetection``): "a canvas." gives
the canvas box, refined to a quad by the weight-free fit inside it; "a hand. a paintbrush." gives
occluder boxes, filled as masks. Nothing is downloaded: the folder must hold the weights. Not
exercised against real weights here (none can be downloaded); tests run these classes on a toy-size
GroundingDINO with random weights (:mod:`loomis_data.tiny_models`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from loomis.errors import InputError

from .canvas import quad_from_image
from .curate import Detectors

log = logging.getLogger(__name__)


class GroundingDino:
    def __init__(self, model_dir: str, box_threshold: float = 0.3, text_threshold: float = 0.25):
        path = Path(model_dir)
        if not (path / "config.json").is_file():
            raise InputError(
                f"--detector-model {model_dir}: no config.json there (a local GroundingDINO folder)"
            )
        import torch
        from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

        self.torch = torch
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.processor = AutoProcessor.from_pretrained(path, local_files_only=True)
        self.model = (
            AutoModelForZeroShotObjectDetection.from_pretrained(path, local_files_only=True)
            .to(self.device)
            .eval()
        )
        self.box_threshold, self.text_threshold = box_threshold, text_threshold

    def boxes(self, image: np.ndarray, prompt: str) -> np.ndarray:
        """(K, 5) boxes x0, y0, x1, y1, score in pixels."""
        from PIL import Image

        inputs = self.processor(images=Image.fromarray(image), text=prompt, return_tensors="pt").to(
            self.device
        )
        with self.torch.no_grad():
            out = self.model(**inputs)
        res = self.processor.post_process_grounded_object_detection(
            out,
            inputs.input_ids,
            threshold=self.box_threshold,
            text_threshold=self.text_threshold,
            target_sizes=[image.shape[:2]],
        )[0]
        boxes = res["boxes"].cpu().numpy().reshape(-1, 4)
        return np.concatenate([boxes, res["scores"].cpu().numpy().reshape(-1, 1)], axis=1)


class BoxCanvasDetector:
    """Canvas = the best-scoring box for "a canvas.", refined by the weight-free quad fit inside."""

    def __init__(self, dino: GroundingDino, prompt: str = "a canvas."):
        self.dino, self.prompt = dino, prompt

    def find_quad(self, image: np.ndarray) -> np.ndarray | None:
        boxes = self.dino.boxes(image, self.prompt)
        if len(boxes) == 0:
            return None
        x0, y0, x1, y1 = boxes[int(np.argmax(boxes[:, 4]))][:4].round().astype(int)
        pad = int(0.05 * max(x1 - x0, y1 - y0))
        h, w = image.shape[:2]
        ax, ay = max(0, x0 - pad), max(0, y0 - pad)
        crop = image[ay : min(h, y1 + pad), ax : min(w, x1 + pad)]
        quad = quad_from_image(crop, min_area=0.3)
        if quad is not None:
            return quad + np.float32([ax, ay])
        return np.float32([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


class BoxOcclusionDetector:
    """Occluders = boxes for hands and brushes, filled and slightly grown."""

    def __init__(self, dino: GroundingDino, prompt: str = "a hand. a paintbrush.", grow: int = 4):
        self.dino, self.prompt, self.grow = dino, prompt, grow

    def masks(self, samples: np.ndarray) -> np.ndarray:
        n, h, w = samples.shape[:3]
        out = np.zeros((n, h, w), bool)
        for i in range(n):
            for x0, y0, x1, y1, _ in self.dino.boxes(np.asarray(samples[i]), self.prompt):
                g = self.grow
                out[i, max(0, int(y0) - g) : int(y1) + g, max(0, int(x0) - g) : int(x1) + g] = True
        return out


class Sam2Masks:
    """SAM 2 (transformers' ``Sam2Model``) from a local folder: box prompts → pixel masks."""

    def __init__(self, model_dir: str):
        path = Path(model_dir)
        if not (path / "config.json").is_file():
            raise InputError(f"--mask-model {model_dir}: no config.json there (a local SAM 2 folder)")
        import torch
        from transformers import AutoProcessor, Sam2Model

        self.torch = torch
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.processor = AutoProcessor.from_pretrained(path, local_files_only=True)
        self.model = Sam2Model.from_pretrained(path, local_files_only=True).to(self.device).eval()

    def union(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(H, W) bool: the union of the masks of ``boxes`` (K, 4) x0, y0, x1, y1 in pixels."""
        from PIL import Image

        if len(boxes) == 0:
            return np.zeros(image.shape[:2], bool)
        inputs = self.processor(
            images=Image.fromarray(image),
            input_boxes=[np.asarray(boxes, float).tolist()],
            return_tensors="pt",
        ).to(self.device)
        with self.torch.no_grad():
            out = self.model(**inputs, multimask_output=False)
        masks = self.processor.post_process_masks(out.pred_masks.cpu(), inputs["original_sizes"].cpu())[0]
        return masks.numpy().reshape(-1, *image.shape[:2]).any(0)


class SamOcclusionDetector:
    """Occluders = SAM 2 masks of the hand and brush boxes GroundingDINO finds (painvidpro's
    approach): the hand's outline instead of its box, so less canvas is thrown away."""

    def __init__(
        self, dino: GroundingDino, sam: Sam2Masks, prompt: str = "a hand. a paintbrush.", grow: int = 3
    ):
        self.dino, self.sam, self.prompt, self.grow = dino, sam, prompt, grow

    def masks(self, samples: np.ndarray) -> np.ndarray:
        n, h, w = samples.shape[:3]
        out = np.zeros((n, h, w), bool)
        kernel = np.ones((2 * self.grow + 1,) * 2, np.uint8)
        for i in range(n):
            img = np.asarray(samples[i])
            boxes = self.dino.boxes(img, self.prompt)[:, :4]
            m = self.sam.union(img, boxes).astype(np.uint8)
            out[i] = cv2.dilate(m, kernel) > 0
        return out


def grounding_dino_detectors(model_dir: str, mask_model: str | None = None) -> Detectors:
    dino = GroundingDino(model_dir)
    log.info("using GroundingDINO from %s for canvas and hand/brush detection", model_dir)
    if mask_model:
        log.info("using SAM 2 from %s for hand/brush masks", mask_model)
        return Detectors(
            canvas=BoxCanvasDetector(dino),
            occlusion=SamOcclusionDetector(dino, Sam2Masks(mask_model)),
            name="grounding-dino+sam2",
        )
    return Detectors(
        canvas=BoxCanvasDetector(dino), occlusion=BoxOcclusionDetector(dino), name="grounding-dino"
    )


def masks_from_boxes(shape: tuple[int, int], boxes: np.ndarray) -> np.ndarray:
    """Helper for detectors that return boxes: (H, W) bool."""
    m = np.zeros(shape, np.uint8)
    for x0, y0, x1, y1 in np.asarray(boxes).reshape(-1, 4).round().astype(int):
        cv2.rectangle(m, (x0, y0), (x1, y1), 1, -1)
    return m > 0
