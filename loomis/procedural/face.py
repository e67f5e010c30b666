"""The Loomis recipe: find a face (no downloads: OpenCV's bundled Haar cascade when the OpenCV
build ships it, else scikit-image's bundled LBP cascade), draw Andrew Loomis' construction —
the ball, the side plane, the centre line, brow / nose / chin lines and the jaw — then the
features, the remaining contours, shading by hatching, and the finishing details.

No face found → a logged warning and the plain pencil recipe.
"""

from __future__ import annotations

import logging
import os

import cv2
import numpy as np

from loomis.procedural.recipes import GRAPHITE, Plan, graphite_details, hatching_strokes, pencil_plan
from loomis.procedural.strokes import Stroke, contour_lines, ellipse_points, split_polyline

log = logging.getLogger(__name__)

DETECT_SIDE = 360  # faces are found on a copy this size (fast, and plenty for a portrait)


def detect_face(image: np.ndarray) -> tuple[int, int, int, int] | None:
    """The largest frontal face as (x, y, w, h) in ``image`` pixels, or None."""
    h, w = image.shape[:2]
    s = min(1.0, DETECT_SIDE / max(h, w))
    small = cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    boxes = _detect_opencv(grey)
    if boxes is None:
        boxes = _detect_skimage(grey)
    if not boxes:
        return None
    x, y, bw, bh = max(boxes, key=lambda b: b[2] * b[3])
    return int(x / s), int(y / s), int(bw / s), int(bh / s)


def _detect_opencv(grey: np.ndarray) -> list[tuple[int, int, int, int]] | None:
    """Haar cascade from opencv-python's ``cv2.data``; None when this build does not ship it
    (OpenCV 5 headless wheels have neither the XML files nor ``CascadeClassifier``)."""
    folder = getattr(getattr(cv2, "data", None), "haarcascades", "")
    path = os.path.join(folder, "haarcascade_frontalface_default.xml")
    if not hasattr(cv2, "CascadeClassifier") or not os.path.isfile(path):
        return None
    clf = cv2.CascadeClassifier(path)
    if clf.empty():
        return None
    side = min(grey.shape)
    found = clf.detectMultiScale(grey, 1.1, 5, minSize=(side // 8, side // 8))
    return [tuple(int(v) for v in b) for b in found]


def _detect_skimage(grey: np.ndarray) -> list[tuple[int, int, int, int]]:
    try:
        from skimage.data import lbp_frontal_face_cascade_filename
        from skimage.feature import Cascade
    except ImportError:
        log.warning("no face detector available (install scikit-image or an OpenCV with Haar cascades)")
        return []
    side = min(grey.shape)
    found = Cascade(lbp_frontal_face_cascade_filename()).detect_multi_scale(
        img=grey,
        scale_factor=1.15,
        step_ratio=1,
        min_size=(side // 8, side // 8),
        max_size=(side, side),
        min_neighbor_number=3,
    )
    return [(d["c"], d["r"], d["width"], d["height"]) for d in found]


def construction_lines(box: tuple[int, int, int, int]) -> list[np.ndarray]:
    """Loomis' head construction for a detected face box, in drawing order."""
    x, y, w, h = box
    cx = x + w / 2
    brow, nose, chin = y + 0.34 * h, y + 0.68 * h, y + 1.04 * h
    step = nose - brow
    rb = 0.56 * w  # the ball: the cranium, a little wider than the face
    cy = brow - 0.08 * h
    lines = [
        ellipse_points((cx, cy), (rb, rb), 0, -100, 260, n=72),  # the ball
        ellipse_points(
            (cx + 0.62 * rb, cy + 0.05 * rb), (0.26 * rb, 0.62 * rb), 0, 0, 360, n=40
        ),  # side plane
        np.array([[cx, cy - rb], [cx + 0.04 * w, brow], [cx, chin]]),  # centre line
        ellipse_points((cx, brow), (rb, 0.14 * rb), 0, 0, 180, n=40),  # brow line round the ball
        np.array([[cx - 0.32 * w, nose], [cx + 0.32 * w, nose]]),  # nose line
        np.array([[cx - 0.16 * w, chin], [cx + 0.16 * w, chin]]),  # chin line
        np.array([[cx - 0.95 * rb, brow], [cx - 0.34 * w, nose + 0.2 * step], [cx - 0.16 * w, chin]]),  # jaw
        np.array([[cx + 0.95 * rb, brow], [cx + 0.34 * w, nose + 0.2 * step], [cx + 0.16 * w, chin]]),
        ellipse_points((cx, brow - step), (0.8 * rb, 0.12 * rb), 0, 0, 180, n=32),  # hairline
    ]
    return [np.asarray(ln, np.float32) for ln in lines]


def loomis_plan(plan: Plan) -> list[Stroke]:
    """The Loomis portrait process for ``plan.face`` (the painter detects it first and falls back
    to the pencil recipe, with a warning, when there is none)."""
    box = plan.face
    if box is None:
        return pencil_plan(plan)
    x, y, w, h = box
    seg = max(8.0, w / 5)
    strokes: list[Stroke] = []
    for i, line in enumerate(construction_lines(box)):
        for j, piece in enumerate(split_polyline(line, seg)):
            strokes.append(Stroke(piece, 1, GRAPHITE, 0.35, "construction", texture=0.4, key=i * 100 + j))
    # Features: the fine contours inside the face oval, eyes first, then nose, then mouth.
    cx, cy = x + w / 2, y + 0.55 * h
    inside = []
    outside = []
    for c in contour_lines(plan.lum, sigma=max(1.0, w / 120), min_length=w / 12, seg_len=w / 6):
        mx, my = c.mean(0)
        (inside if ((mx - cx) / (0.5 * w)) ** 2 + ((my - cy) / (0.6 * h)) ** 2 < 1 else outside).append(c)
    strokes += [
        Stroke(c, 1, GRAPHITE * 0.7, 0.7, "features", texture=0.3, key=float(c[:, 1].mean())) for c in inside
    ]
    strokes += [
        Stroke(c, 1, GRAPHITE * 0.8, 0.6, "contours", texture=0.4, key=i) for i, c in enumerate(outside[:700])
    ]
    strokes += hatching_strokes(plan)
    return strokes + graphite_details(plan)
