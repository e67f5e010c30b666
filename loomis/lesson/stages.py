"""Stages of a process, split where the kind of change changes, and named by what they do.

The transitions' measures (stroke width, thinness, area changed) form a multivariate signal; the
stage boundaries are its change points: the optimal piecewise-constant split (dynamic
programming over the standardised features, least squares), with as many stages as reduce the
within-stage spread by a real amount (a further stage must cut it by ``MIN_GAIN`` of the total,
or halve what remains). Names come from the medium's vocabulary (``drawing → block-in → layers → details`` for
paint, ``line art → flats → shading → details`` for digital, …), matched to the measured stages in
order by what each does (thin lines, big areas with a big brush, a small brush at the end).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from loomis.errors import InputError
from loomis.lesson.measure import Transition

MIN_GAIN = 0.08  # a further stage must remove this share of the single-stage spread …
HALVES = 0.5  # … or leave at most this share of the spread the fewer stages left
FLOOR = 0.02  # (and never for less than this share: splitting noise halves noise too)
KINDS = ("line", "block", "build", "detail")
LINE_MIN = 0.3  # a drawing stage: at least this share of its change lies on thin lines

# Stage vocabularies (name, kind); a recipe names its own in loomis.procedural.kinds.
VOCABULARY: dict[str, list[tuple[str, str]]] = {
    "paint": [("drawing", "line"), ("block-in", "block"), ("layers", "build"), ("details", "detail")],
    "digital": [("line art", "line"), ("flats", "block"), ("shading", "build"), ("details", "detail")],
    "pencil": [("construction", "line"), ("tones", "block"), ("shading", "build"), ("details", "detail")],
    "watercolour": [("drawing", "line"), ("washes", "block"), ("glazes", "build"), ("details", "detail")],
}


@dataclass(frozen=True)
class StageSpan:
    name: str
    kind: str
    first: int  # analysis frame where the stage starts (its "before" state)
    last: int  # analysis frame where it ends


def vocabulary(medium: str | None) -> list[tuple[str, str]]:
    """The stage names for ``medium`` (a registry name), from its procedural recipe's row; the
    paint words for None or a name the registry does not know (a lesson of any process)."""
    from loomis.mediums import get_medium
    from loomis.procedural.kinds import kind_of, recipe_for

    if medium is None:
        return VOCABULARY["paint"]
    try:
        kind = kind_of(recipe_for(get_medium(medium)))
    except InputError:
        return VOCABULARY["paint"]
    return VOCABULARY[kind.stages]


def features(trans: list[Transition]) -> np.ndarray:
    """(T, 3) standardised features of the active transitions: log width, thinness, log area."""
    f = np.array([[np.log1p(t.width), t.thin, np.log(t.area + 1e-4)] for t in trans], np.float64)
    sd = f.std(0)
    return (f - f.mean(0)) / np.where(sd > 1e-6, sd, 1.0)


def segment(x: np.ndarray, k: int, min_len: int) -> tuple[float, list[int]]:
    """Optimal split of the rows of ``x`` into ``k`` contiguous segments (least squares), each at
    least ``min_len`` long. Returns (cost, start index of every segment)."""
    n = len(x)
    cs = np.vstack([np.zeros(x.shape[1]), np.cumsum(x, 0)])
    cs2 = np.concatenate([[0.0], np.cumsum((x**2).sum(1))])

    def cost(i: int, j: int) -> float:  # rows i..j-1
        s = cs[j] - cs[i]
        return float(cs2[j] - cs2[i] - (s @ s) / (j - i))

    inf = float("inf")
    best = np.full((k + 1, n + 1), inf)
    back = np.zeros((k + 1, n + 1), int)
    best[0, 0] = 0.0
    for m in range(1, k + 1):
        for j in range(m * min_len, n + 1):
            for i in range((m - 1) * min_len, j - min_len + 1):
                c = best[m - 1, i] + cost(i, j)
                if c < best[m, j]:
                    best[m, j], back[m, j] = c, i
    starts, j = [], n
    for m in range(k, 0, -1):
        j = back[m, j]
        starts.append(int(j))
    return float(best[k, n]), starts[::-1]


def split(trans: list[Transition], max_stages: int) -> list[tuple[int, int]]:
    """Stage spans as (first, last) analysis frame indices covering the whole process."""
    active = [t for t in trans if t.active]
    n_frames = len(trans) + 1
    if len(active) < 2:
        return [(0, n_frames - 1)]
    x = features(active)
    min_len = max(2 if len(active) >= 12 else 1, len(active) // 20)
    k_max = min(max_stages, len(active) // min_len)
    total, starts = segment(x, 1, min_len)
    single = total
    for k in range(2, k_max + 1):
        c, s = segment(x, k, min_len)
        # A real change point removes a good share of all the spread, or halves what is left.
        gain = total - c
        if gain >= MIN_GAIN * single or (c <= HALVES * total and gain >= FLOOR * single):
            total, starts = c, s
    # Segment starts → frame boundaries: a stage begins where its first active transition begins.
    cuts = [active[s].index - 1 for s in starts[1:]]
    bounds = [0, *cuts, n_frames - 1]
    return list(zip(bounds[:-1], bounds[1:]))


def name_stages(
    spans: list[tuple[int, int]], trans: list[Transition], vocab: list[tuple[str, str]]
) -> list[StageSpan]:
    """Give each span a name from ``vocab``, in order, by how well its measures fit each kind.
    A first stage that does not draw lines is not called a drawing: the line name is dropped
    (and the first spans merged while there are more spans than names)."""
    stats = [_span_stats(a, b, trans) for a, b in spans]
    if stats and stats[0]["thin"] < LINE_MIN and any(kind == "line" for _, kind in vocab):
        vocab = [v for v in vocab if v[1] != "line"]
        while len(spans) > len(vocab):
            spans = [(spans[0][0], spans[1][1]), *spans[2:]]
        stats = [_span_stats(a, b, trans) for a, b in spans]
    wmax = max((s["width"] for s in stats), default=1.0) or 1.0
    amax = max((s["area"] for s in stats), default=1.0) or 1.0
    score = np.array([[_fit(kind, s, wmax, amax) for _, kind in vocab] for s in stats])
    names = _ordered_assignment(score)
    return [StageSpan(vocab[j][0], vocab[j][1], a, b) for (a, b), j in zip(spans, names)]


def _span_stats(a: int, b: int, trans: list[Transition]) -> dict:
    ts = [t for t in trans if a < t.index <= b and t.active]
    if not ts:
        return {"width": 0.0, "thin": 0.0, "area": 0.0}
    w = np.array([t.area for t in ts])
    return {
        "width": float(np.average([t.width for t in ts], weights=w)),
        "thin": float(np.average([t.thin for t in ts], weights=w)),
        "area": float(np.mean(w)),
    }


def _fit(kind: str, s: dict, wmax: float, amax: float) -> float:
    wr, ar = s["width"] / wmax, s["area"] / amax
    return {
        "line": 2.0 * s["thin"] - 0.5,
        "block": wr + ar - s["thin"],
        "build": 0.4,
        "detail": 1.0 - wr - 0.5 * ar,
    }[kind]


def _ordered_assignment(score: np.ndarray) -> list[int]:
    """Indices into the vocabulary, strictly increasing, maximising the summed score."""
    k, m = score.shape
    best = np.full((k + 1, m + 1), -np.inf)
    best[0, :] = 0.0
    for i in range(1, k + 1):
        for j in range(i, m + 1):
            best[i, j] = max(best[i, j - 1], best[i - 1, j - 1] + score[i - 1, j - 1])
    out, j = [], m
    for i in range(k, 0, -1):
        while best[i, j] == best[i, j - 1]:
            j -= 1
        out.append(j - 1)
        j -= 1
    return out[::-1]
