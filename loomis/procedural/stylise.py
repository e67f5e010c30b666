"""Media-transfer targets: the picture restyled (weight-free, OpenCV) before it is painted.

``pencil-mono``   graphite drawing: colour-dodge sketch of the luminance, with pencil tone
``children``      crayon drawing: few bright colours in big areas, thick wobbly dark outlines,
                  waxy streaky fills with the paper showing through
``coloring-book`` smooth even black outlines round simple areas, each coloured in flat
``watercolor``    edge-preserving washes, light palette, darker pigment at the wash edges

``children`` and ``coloring-book`` also return their ``Layout`` (outlines and areas), which the
``colouring`` recipe draws and fills.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from loomis.procedural.fields import smooth_noise
from loomis.procedural.strokes import edge_chains, smooth_polyline


def pencil_mono(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
    side = max(img.shape[:2])
    blur = cv2.GaussianBlur(255 - grey, (0, 0), max(2.0, side / 120))
    dodge = np.clip(grey * 255.0 / (255.0 - blur + 1.0), 0, 255)
    # Multiply in some of the original tone so darks stay dark (a drawing, not only outlines).
    tone = dodge * (0.55 + 0.45 * grey / 255.0)
    tone += 3.0 * smooth_noise(grey.shape, side / 40, rng)
    out = np.clip(tone, 0, 255).astype(np.uint8)
    return np.repeat(out[..., None], 3, axis=2)


@dataclass
class Layout:
    """The structure of a line-and-fill picture (children, coloring-book), for its recipe.

    ``regions``: (H, W) int32 — 0 on the outlines, 1..N the fill areas (connected, one colour
    each); ``lines``: the outline polylines, in the restyled picture's coordinates;
    ``line_width``: their thickness in pixels.
    """

    regions: np.ndarray
    lines: list[np.ndarray]
    line_width: int


def _flat_labels(
    img: np.ndarray, k: int, sigma: float, min_area: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """k flat colours in simple areas, as a drawn picture has them: k-means colours on a small
    copy, a mode filter (each pixel takes the colour most of its ``sigma`` neighbourhood has),
    areas under ``min_area`` pixels merged into their surroundings, smooth borders at full
    size. Returns (labels (H, W) int32, palette (k, 3) float32)."""
    h, w = img.shape[:2]
    f = min(1.0, 240 / max(h, w))
    small = cv2.resize(img, (max(4, round(w * f)), max(4, round(h * f))), interpolation=cv2.INTER_AREA)
    small = cv2.bilateralFilter(small, 7, 50, 5)
    cv2.setRNGSeed(int(rng.integers(1 << 30)))
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 1.0)
    flat = small.reshape(-1, 3).astype(np.float32)
    _, lab, palette = cv2.kmeans(flat, k, None, crit, 2, cv2.KMEANS_PP_CENTERS)
    lab = _mode(lab.reshape(small.shape[:2]), k, max(0.8, sigma * f))
    lab = _merge_small(lab, k, min_area * f * f)
    big = [
        cv2.resize((lab == i).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) for i in range(k)
    ]
    big = np.stack([cv2.GaussianBlur(v, (0, 0), max(1.0, 0.5 / f)) for v in big])
    return big.argmax(0).astype(np.int32), palette


def _mode(labels: np.ndarray, k: int, sigma: float) -> np.ndarray:
    votes = np.stack([cv2.GaussianBlur((labels == i).astype(np.float32), (0, 0), sigma) for i in range(k)])
    return votes.argmax(0).astype(np.int32)


def _merge_small(labels: np.ndarray, k: int, min_area: float) -> np.ndarray:
    """Give every connected area smaller than ``min_area`` the label of the nearest big one."""
    keep = np.zeros(labels.shape, bool)
    for i in range(k):
        n, comp, stats, _ = cv2.connectedComponentsWithStats((labels == i).astype(np.uint8), connectivity=4)
        big = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] >= min_area)
        big = big[big > 0]
        keep |= np.isin(comp, big)
    if keep.all() or not keep.any():
        return labels
    # Nearest kept pixel of every pixel (its index among the kept pixels, in raster order).
    _, near = cv2.distanceTransformWithLabels(
        (~keep).astype(np.uint8), cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL
    )
    return labels.ravel()[np.flatnonzero(keep)][near.ravel() - 1].reshape(labels.shape)


def _borders(labels: np.ndarray) -> np.ndarray:
    """One-pixel borders between differently labelled areas (bool)."""
    b = np.zeros(labels.shape, bool)
    b[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    b[:-1, :] |= labels[:-1, :] != labels[1:, :]
    return b


def _layout(labels: np.ndarray, lines: list[np.ndarray], width: int) -> tuple[Layout, np.ndarray]:
    """Region map: the fill areas (connected components of each label), the drawn lines on top.
    Returns (layout, line coverage 0..1)."""
    h, w = labels.shape
    ink = np.zeros((h, w), np.uint8)
    cv2.polylines(
        ink, [ln.round().astype(np.int32).reshape(-1, 1, 2) for ln in lines], False, 255, width, cv2.LINE_AA
    )
    regions = np.zeros((h, w), np.int32)
    nxt = 1
    for i in range(int(labels.max()) + 1):
        n, comp = cv2.connectedComponents((labels == i).astype(np.uint8), connectivity=4)
        if n > 1:
            regions = np.where(comp > 0, comp + (nxt - 1), regions)
            nxt += n - 1
    regions[ink >= 128] = 0
    return Layout(regions, lines, width), ink.astype(np.float32) / 255.0


def _outline_chains(labels: np.ndarray, side: int) -> list[np.ndarray]:
    """The region borders as smooth continuous polylines (each border once)."""
    chains = edge_chains(_borders(labels), min_length=side / 60)
    return [
        smooth_polyline(cv2.approxPolyDP(c.reshape(-1, 1, 2), 1.6, False).reshape(-1, 2), 2) for c in chains
    ]


def _warp(lines: list[np.ndarray], shape, amount: float, scale: float, rng) -> list[np.ndarray]:
    """Move lines by a smooth random displacement field (a hand that wobbles)."""
    dx = smooth_noise(shape, scale, rng) * amount
    dy = smooth_noise(shape, scale, rng) * amount
    h, w = shape
    out = []
    for ln in lines:
        dense = _densify(ln, 3.0)
        x = np.clip(dense[:, 0].astype(int), 0, w - 1)
        y = np.clip(dense[:, 1].astype(int), 0, h - 1)
        out.append(dense + np.stack([dx[y, x], dy[y, x]], 1))
    return out


def _densify(poly: np.ndarray, step: float) -> np.ndarray:
    poly = np.asarray(poly, np.float32)
    seg = np.linalg.norm(np.diff(poly, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    t = np.linspace(0, cum[-1], max(2, int(cum[-1] / step) + 1))
    return np.stack([np.interp(t, cum, poly[:, 0]), np.interp(t, cum, poly[:, 1])], 1).astype(np.float32)


def _crayon_cover(shape, regions: np.ndarray, rng: np.random.Generator, side: int) -> np.ndarray:
    """How much wax a child's crayon leaves on the paper, 0..1: back-and-forth streaks in a
    different slant per area, the paper's tooth showing through, lighter near the outlines."""
    h, w = shape
    noise = rng.random((h, w), dtype=np.float32)
    length = max(7, side // 40) | 1
    streaks = []
    for ang in (-0.9, -0.4, 0.5):  # a few hand slants; every area takes one
        kern = np.zeros((length, length), np.float32)
        c, s = np.cos(ang), np.sin(ang)
        r = length // 2
        cv2.line(kern, (int(r - r * c), int(r - r * s)), (int(r + r * c), int(r + r * s)), 1.0, 1)
        st = cv2.filter2D(noise, -1, kern / kern.sum())
        streaks.append((st - st.mean()) / (st.std() + 1e-6))
    pick = (regions * 7919 + int(rng.integers(3))) % 3
    streak = np.choose(pick, streaks)
    tooth = cv2.GaussianBlur(rng.random((h, w), dtype=np.float32), (0, 0), 0.7)
    tooth = (tooth - tooth.mean()) / (tooth.std() + 1e-6)
    pressure = 0.8 + 0.12 * smooth_noise(shape, side / 10, rng)
    cover = pressure + 0.16 * streak + 0.1 * tooth
    # Near its own outline a child slows down: lighter, sometimes leaving a white rim.
    edge = cv2.distanceTransform((_borders(regions) == 0).astype(np.uint8), cv2.DIST_L2, 3)
    rim = np.clip((edge - (1.0 + 2.5 * (0.5 + 0.5 * smooth_noise(shape, side / 14, rng)))) / 3.0, 0, 1)
    return np.clip(cover * (0.35 + 0.65 * rim), 0, 1).astype(np.float32)


def children_layout(img: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, Layout]:
    """A child's crayon drawing: a few bright colours in big simple areas, wobbly thick dark
    outlines, waxy uneven crayon fills with the paper showing through."""
    h, w = img.shape[:2]
    side = max(h, w)
    labels, palette = _flat_labels(img, 6, side / 70, (side / 20) ** 2, rng)
    hsv = cv2.cvtColor(palette.reshape(1, -1, 3).clip(0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV).astype(
        np.float32
    )
    hsv[..., 1] = np.clip(hsv[..., 1] * 1.6 + 40, 0, 255)
    hsv[..., 2] = np.clip(hsv[..., 2] * 1.05 + 35, 0, 255)
    crayons = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB).reshape(-1, 3).astype(np.float32)
    # The outline is drawn first, by hand: it wanders off the true border a little.
    lines = _warp(_outline_chains(labels, side), (h, w), side / 120, side / 12, rng)
    lines = _warp(lines, (h, w), side / 400, side / 50, rng)
    width = max(2, round(side / 200))
    layout, ink = _layout(labels, lines, width)
    paper = np.float32(252)
    cover = _crayon_cover((h, w), layout.regions, rng, side)
    out = paper + cover[..., None] * (crayons[labels] - paper)
    wax = np.clip(0.75 + 0.25 * rng.random((h, w), dtype=np.float32), 0, 1) * ink
    out = out + wax[..., None] * (np.array([44, 38, 62], np.float32) - out)
    return np.clip(out, 0, 255).astype(np.uint8), layout


def coloring_book_layout(img: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, Layout]:
    """A coloured-in colouring-book page: clean, smooth, even black outlines round simple areas,
    each filled with one flat colour."""
    h, w = img.shape[:2]
    side = max(h, w)
    labels, palette = _flat_labels(img, 8, side / 110, (side / 28) ** 2, rng)
    lines = _outline_chains(labels, side)
    width = max(2, round(side / 260))
    layout, ink = _layout(labels, lines, width)
    # Felt-tip / colouring-pencil colours: a little cleaner and brighter than the photograph's.
    hsv = cv2.cvtColor(palette.reshape(1, -1, 3).clip(0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV).astype(
        np.float32
    )
    hsv[..., 1] = np.clip(hsv[..., 1] * 1.3 + 10, 0, 255)
    hsv[..., 2] = np.clip(hsv[..., 2] * 0.9 + 30, 0, 255)
    palette = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB).reshape(-1, 3).astype(np.float32)
    out = palette[labels]
    out = out + ink[..., None] * (np.float32(18) - out)
    return np.clip(out, 0, 255).astype(np.uint8), layout


def children(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return children_layout(img, rng)[0]


def coloring_book(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return coloring_book_layout(img, rng)[0]


def watercolor(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A watercolour: simplified washes (edge-preserving smoothing), values lifted towards the
    paper (transparent pigment), the highlights left as bare paper, pigment pooled at the wash
    edges and granulating in the paper's tooth, all multiplied onto cream paper."""
    h, w = img.shape[:2]
    side = max(h, w)
    wash = cv2.edgePreservingFilter(img, flags=cv2.RECURS_FILTER, sigma_s=max(20.0, side / 10), sigma_r=0.55)
    wash = cv2.edgePreservingFilter(wash, flags=cv2.RECURS_FILTER, sigma_s=max(10.0, side / 30), sigma_r=0.35)
    wash = wash.astype(np.float32) / 255.0
    trans = 1.0 - (1.0 - wash) * 0.78  # transparent pigment: lighter than the original
    lum = trans @ np.array([0.299, 0.587, 0.114], np.float32)
    # Highlights are the paper left unpainted.
    bare = np.clip((lum - 0.74) / 0.12, 0, 1)[..., None]
    trans = trans + bare * (1.0 - trans)
    edges = cv2.Laplacian(cv2.GaussianBlur(lum, (0, 0), 1.5), cv2.CV_32F)
    trans -= np.clip(edges, 0, None)[..., None] * 2.5  # pigment pools at the wash edges
    fine = cv2.GaussianBlur(rng.random((h, w), dtype=np.float32), (0, 0), 1.0)
    fine = (fine - fine.mean()) / (fine.std() + 1e-6)
    grain = 1.0 - 0.035 * fine * (1.0 - lum)  # granulation: stronger where the paint is dense
    blooms = 1.0 + 0.04 * smooth_noise((h, w), side / 18, rng)
    paper = np.array([250, 248, 240], np.float32)
    out = paper * np.clip(trans * (grain * blooms)[..., None], 0, 1)
    return np.clip(out, 0, 255).astype(np.uint8)


STYLES: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "pencil-mono": pencil_mono,
    "children": children,
    "coloring-book": coloring_book,
    "watercolor": watercolor,
}


LAYOUTS = {"children": children_layout, "coloring-book": coloring_book_layout}


def stylise(img: np.ndarray, style: str, rng: np.random.Generator) -> tuple[np.ndarray, Layout | None]:
    """Restyle ``img`` (uint8 RGB) as ``style``: (picture, its line-and-fill layout or None);
    unknown styles are a registry error."""
    if style not in STYLES:
        raise ValueError(f"mediums.yaml: unknown stylise {style!r}; known: {', '.join(STYLES)}")
    if style in LAYOUTS:
        return LAYOUTS[style](img, rng)
    return STYLES[style](img, rng), None
