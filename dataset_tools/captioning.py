"""Captions that describe *content*, never medium or style (the prompt adds the medium).

Backends share one interface, ``caption(image) -> str``: Qwen2.5-VL from a local folder (with
``qwen-vl-utils``), a CSV of ready captions, or anything a test supplies. Every caption passes
through :func:`clean_caption`, which removes medium and style words a model tends to add.
"""

from __future__ import annotations

import csv
import logging
import re
from pathlib import Path
from typing import Protocol

import numpy as np

from loomis.errors import InputError

log = logging.getLogger(__name__)

PROMPT = (
    "Describe what this picture shows in one sentence: subjects, setting, colours and composition. "
    "Do not mention the medium, the technique or the art style (no 'painting', 'drawing', 'oil', "
    "'watercolor', 'sketch', 'in the style of')."
)

_STYLE = re.compile(
    r"\b(an?\s+)?((oil|acrylic|watercolou?r|gouache|pastel|charcoal|pencil|ink|digital)\s+)*"
    r"(painting|paintings|drawing|drawings|sketch|sketches|artwork|illustration|painted|drawn|sketched)\b"
    r"(\s+(of|showing|depicting|with))?",
    re.IGNORECASE,
)
_MEDIA = re.compile(
    r"\b(oil|acrylic|watercolou?r|gouache|pastel|charcoal|graphite|pencil|crayon)s?\b", re.IGNORECASE
)
_STYLE_PHRASE = re.compile(
    r"\b(in|with)\s+(the\s+)?(style|manner)\s+of\s+[\w .'-]+?(?=[,.;]|$)|\bin\s+an?\s+[\w-]+\s+style\b",
    re.IGNORECASE,
)
_LEAD = re.compile(r"^(this|the)\s+(image|picture)\s+(shows|depicts)\s+", re.IGNORECASE)


def clean_caption(text: str) -> str:
    """Strip medium/style words and tidy the sentence."""
    t = " ".join(str(text).split())
    t = _STYLE_PHRASE.sub("", t)
    t = _STYLE.sub("", t)
    t = _MEDIA.sub("", t)
    t = _LEAD.sub("", t)
    t = re.sub(r"\s+([,.;])", r"\1", t)
    t = re.sub(r"[,;]+\.", ".", t)
    t = re.sub(r"^[\s,.;:-]+|[\s,;:-]+$", "", t)
    t = re.sub(r"\s{2,}", " ", t).strip()
    if not t:
        return ""
    t = t[0].upper() + t[1:]
    return t if t.endswith(".") else t + "."


class CaptionBackend(Protocol):
    name: str

    def caption(self, image: np.ndarray, sample_id: str) -> str | None: ...


class CsvCaptions:
    """Captions from a CSV with columns ``id,caption`` (header optional)."""

    name = "csv"

    def __init__(self, path: str):
        p = Path(path)
        if not p.is_file():
            raise InputError(f"--captions {path} does not exist")
        self.table: dict[str, str] = {}
        with open(p, newline="") as fh:
            for row in csv.reader(fh):
                if len(row) < 2 or not row[0].strip() or row[0].strip().lower() == "id":
                    continue
                self.table[row[0].strip()] = row[1].strip()
        if not self.table:
            raise InputError(f"--captions {path} holds no 'id,caption' rows")

    def caption(self, image: np.ndarray, sample_id: str) -> str | None:
        return self.table.get(sample_id)


class QwenVL:
    """Qwen2.5-VL from a local folder (transformers layout)."""

    name = "qwen2.5-vl"

    def __init__(self, model_dir: str, max_new_tokens: int = 60):
        path = Path(model_dir)
        if not (path / "config.json").is_file():
            raise InputError(f"--model {model_dir}: no config.json there (a local Qwen2.5-VL folder)")
        import torch
        from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

        self.torch = torch
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        self.model = Qwen2_5_VLForConditionalGeneration.from_pretrained(
            path, dtype=dtype, local_files_only=True
        )
        self.model.to(self.device).eval()
        self.processor = AutoProcessor.from_pretrained(path, local_files_only=True)
        self.max_new_tokens = max_new_tokens

    def caption(self, image: np.ndarray, sample_id: str) -> str | None:
        from PIL import Image
        from qwen_vl_utils import process_vision_info

        messages = [
            {
                "role": "user",
                "content": [
                    {"type": "image", "image": Image.fromarray(image)},
                    {"type": "text", "text": PROMPT},
                ],
            }
        ]
        text = self.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        images, videos = process_vision_info(messages)
        inputs = self.processor(
            text=[text], images=images, videos=videos, padding=True, return_tensors="pt"
        ).to(self.device)
        with self.torch.no_grad():
            out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        new = out[:, inputs.input_ids.shape[1] :]
        return self.processor.batch_decode(new, skip_special_tokens=True)[0]
