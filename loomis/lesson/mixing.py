"""Mixing recipes from the learner's own paints: Kubelka–Munk on reflectance spectra.

Each paint is a tube colour (its masstone sRGB, or a measured reflectance curve) with a tinting
strength. Its reflectance spectrum R(λ) is recovered from sRGB with colour-science (Mallett &
Yuksel 2019: smooth, bounded reflectances that reproduce the sRGB colour under D65). Mixing
follows single-constant Kubelka–Munk: K/S = (1 − R)² / 2R per paint; the mix's K/S is the
strength-weighted mean; R_mix = 1 + K/S − √((K/S)² + 2 K/S). The recipe for a colour is the mix
of at most three paints whose CIE Lab (D65, 2° observer) is nearest in CIEDE2000 — found by a grid
over all pairs and triples, refined by a local optimiser, with fewer paints preferred when they
come within ``SLACK_DE``. The mixing error is stated as ΔE (CIEDE2000). This is a model, not a
measurement of real tubes: the default paints are approximate.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import yaml
from skimage import color

from loomis.errors import InputError

WAVELENGTHS = np.arange(380, 781, 10)
SLACK_DE = 1.0  # a recipe with fewer paints wins when within this ΔE of the best
MAX_PAINTS = 24
R_MIN, R_MAX = 1e-3, 0.999


@dataclass(frozen=True)
class Paint:
    name: str
    rgb: tuple[int, int, int]
    strength: float = 1.0
    pigment: str = ""
    reflectance: tuple[float, ...] | None = None  # measured R at WAVELENGTHS, if known


@dataclass
class Recipe:
    paints: list[str]
    weights: list[float]  # fractions of the mix, summing to 1
    parts: list[int]  # the same as small whole-number parts
    delta_e: float  # CIEDE2000 of the mix (exact weights) against the wanted colour
    parts_delta_e: float  # CIEDE2000 of the mix made in whole parts
    mix_lab: np.ndarray

    def text(self) -> str:
        """ "2 parts titanium white + 1 part ultramarine blue (ΔE 1.2)"; percentages when whole
        parts would be too coarse (a touch of a strong paint)."""
        if len(self.paints) == 1:
            return f"{self.paints[0]} (ΔE {self.delta_e:.1f})"
        if self.parts_delta_e <= self.delta_e + 1.0:
            bits = [f"{p} part{'s' if p > 1 else ''} {n}" for p, n in zip(self.parts, self.paints)]
            return " + ".join(bits) + f" (ΔE {self.parts_delta_e:.1f})"
        bits = [f"{_percent(w)} {n}" for w, n in zip(self.weights, self.paints)]
        return " + ".join(bits) + f" (ΔE {self.delta_e:.1f})"


def _percent(w: float) -> str:
    return f"{w * 100:.0f}%" if w >= 0.1 else f"{w * 100:.1f}%"


@functools.cache
def _colour():
    try:
        import colour
    except ImportError:
        raise InputError(
            "mixing recipes need colour-science: pip install 'loomis[studio]' (or colour-science)"
        ) from None
    return colour


@functools.cache
def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Mallett basis (3, L), XYZ weights (L, 3) with Y(white) = 1, D65 white xy), computed once."""
    colour = _colour()
    shape = colour.SpectralShape(380, 780, 10)
    basis = colour.recovery.MSDS_BASIS_FUNCTIONS_sRGB_MALLETT2019.copy().align(shape).values.T
    cmfs = colour.MSDS_CMFS["CIE 1931 2 Degree Standard Observer"].copy().align(shape).values
    ill = colour.SDS_ILLUMINANTS["D65"].copy().align(shape).values
    w = cmfs * ill[:, None]
    white = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D65"]
    return basis, w / w[:, 1].sum(), white


def rgb_to_reflectance(rgb) -> np.ndarray:
    """sRGB (0–255, (..., 3)) → reflectance at ``WAVELENGTHS`` (Mallett & Yuksel 2019)."""
    basis, _, _ = _tables()
    lin = _colour().cctf_decoding(np.asarray(rgb, np.float64) / 255.0, function="sRGB")
    return np.clip(lin @ basis, R_MIN, R_MAX)


def reflectance_to_lab(r: np.ndarray) -> np.ndarray:
    """CIELAB (D65, 2°) of reflectances (..., L) — scikit-image's Lab, the one the palette uses."""
    _, w, _ = _tables()
    xyz = np.asarray(r) @ w
    return color.xyz2lab(xyz.reshape(-1, 1, 3)).reshape(xyz.shape)


def rgb_to_lab(rgb) -> np.ndarray:
    rgb = np.asarray(rgb, np.float64) / 255.0
    return color.rgb2lab(rgb.reshape(-1, 1, 3)).reshape(rgb.shape)


def km_mix(ks: np.ndarray, strength: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Reflectance of mixes. ``ks`` (P, L) paints' K/S, ``strength`` (P,), ``weights`` (..., P)
    fractions → (..., L)."""
    c = weights * strength
    mix = (c @ ks) / np.maximum(c.sum(-1, keepdims=True), 1e-12)
    return 1.0 + mix - np.sqrt(mix * mix + 2.0 * mix)


def delta_e(a, b) -> np.ndarray:
    """CIEDE2000 (broadcasting)."""
    a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
    return color.deltaE_ciede2000(a, b)


class PaintSet:
    """The learner's paints, with spectra and a precomputed table of pair and triple mixes."""

    def __init__(self, paints: list[Paint]):
        if not paints:
            raise InputError("the paint list is empty; list at least one paint")
        self.paints = paints
        refl = [np.asarray(p.reflectance) if p.reflectance else rgb_to_reflectance(p.rgb) for p in paints]
        self.reflectance = np.clip(np.array(refl, np.float64), R_MIN, R_MAX)
        self.ks = (1 - self.reflectance) ** 2 / (2 * self.reflectance)
        self.strength = np.array([p.strength for p in paints], np.float64)
        self._combos, self._weights = _grid(len(paints))
        self._lab = self.mix_lab(self._weights)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.paints]

    def mix_lab(self, weights: np.ndarray) -> np.ndarray:
        """CIELAB of mixes given full weight vectors (..., P)."""
        return reflectance_to_lab(km_mix(self.ks, self.strength, np.asarray(weights, np.float64)))

    def recipe(self, lab) -> Recipe:
        """The best mix of 1–3 paints for the CIELAB colour ``lab``."""
        lab = np.asarray(lab, np.float64)
        de = delta_e(self._lab, lab)
        best: dict[int, tuple[float, np.ndarray]] = {}
        for n in (1, 2, 3):
            sel = np.flatnonzero(self._combos == n)
            for j in sel[np.argsort(de[sel])[:2]]:  # refine the two best grid points
                w, d = self._refine(self._weights[j], lab)
                if n not in best or d < best[n][0]:
                    best[n] = (d, w)
        top = min(d for d, _ in best.values())
        n = min(k for k, (d, _) in best.items() if d <= top + SLACK_DE)
        return self._as_recipe(best[n][1], lab)

    def _refine(self, w0: np.ndarray, lab: np.ndarray) -> tuple[np.ndarray, float]:
        """Local search around ``w0`` over the log-ratios of its paints: a vectorised grid of
        offsets, best kept, step shrunk (a pattern search; deterministic and fast)."""
        idx = np.flatnonzero(w0 > 0)
        z = np.log(w0[idx])
        d0 = float(delta_e(self.mix_lab(w0), lab))
        if len(idx) == 1:
            return w0, d0
        ticks = np.linspace(-1.0, 1.0, 41 if len(idx) == 2 else 15)
        offsets = np.stack(np.meshgrid(*[ticks] * (len(idx) - 1), indexing="ij"), -1).reshape(
            -1, len(idx) - 1
        )
        offsets = np.concatenate([offsets, np.zeros((len(offsets), 1))], 1)  # the last paint is the anchor
        step, best_w, best_d = 2.0, w0, d0
        for _ in range(6):
            zz = z + step * offsets
            e = np.exp(zz - zz.max(1, keepdims=True))
            ws = np.zeros((len(zz), len(w0)))
            ws[:, idx] = e / e.sum(1, keepdims=True)
            d = delta_e(self.mix_lab(ws), lab)
            k = int(np.argmin(d))
            if d[k] < best_d:
                best_w, best_d, z = ws[k], float(d[k]), np.log(ws[k, idx])
            step *= 0.3
        return best_w, best_d

    def _as_recipe(self, w: np.ndarray, lab: np.ndarray) -> Recipe:
        idx = [int(i) for i in np.argsort(-w) if w[i] > 1e-4]
        w = _spread(w[idx], idx, len(w))
        exact = float(delta_e(self.mix_lab(w), lab))
        parts, parts_de = [1], exact
        if len(idx) > 1:
            parts, parts_de = _parts(
                w[idx], lambda p: float(delta_e(self.mix_lab(_spread(p, idx, len(w))), lab))
            )
        return Recipe(
            paints=[self.paints[i].name for i in idx],
            weights=[round(float(w[i]), 4) for i in idx],
            parts=list(parts),
            delta_e=round(exact, 2),
            parts_delta_e=round(parts_de, 2),
            mix_lab=self.mix_lab(w),
        )


def _spread(parts, idx, n) -> np.ndarray:
    w = np.zeros(n)
    w[idx] = np.asarray(parts, np.float64) / float(sum(parts))
    return w


def _parts(w: np.ndarray, err) -> tuple[list[int], float]:
    """Whole-number parts (total ≤ 20) nearest in colour to the weights ``w``: the smallest
    total within 0.5 ΔE of the best found."""
    found = []
    for total in range(len(w), 21):
        p = [max(1, int(round(v * total))) for v in w]
        found.append((p, err(p)))
    floor = min(d for _, d in found)
    return next((p, d) for p, d in found if d <= floor + 0.5)


# Weight levels of the search grid: dense near 0 and 1, where tints and touches of a strong
# colour live.
_LEVELS = np.array([0.01, 0.02, 0.04, 0.07, 0.12, 0.2, 0.3, 0.4, 0.5])


def _grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Weight vectors of single paints, pairs and triples (fractions from ``_LEVELS``)."""
    pair = np.unique(np.concatenate([_LEVELS, 1 - _LEVELS]))
    pair = pair[(pair > 0) & (pair < 1)]
    coarse = np.array([0.02, 0.06, 0.15, 0.35, 1.0])  # the refinement does the fine work
    trio = np.array([(a, b, c) for a in coarse for b in coarse for c in coarse], np.float64)
    trio = np.unique(np.round(trio / trio.sum(1, keepdims=True), 3), axis=0)
    rows, count = [np.eye(n)], [np.ones(n, int)]
    for i, j in itertools.combinations(range(n), 2):
        w = np.zeros((len(pair), n))
        w[:, i], w[:, j] = pair, 1 - pair
        rows.append(w), count.append(np.full(len(pair), 2))
    for i, j, k in itertools.combinations(range(n), 3):
        w = np.zeros((len(trio), n))
        w[:, [i, j, k]] = trio
        rows.append(w), count.append(np.full(len(trio), 3))
    return np.concatenate(count), np.concatenate(rows)


# --------------------------------------------------------------------------------------------
# paint lists
# --------------------------------------------------------------------------------------------
def default_paints() -> list[Paint]:
    text = resources.files("loomis.lesson").joinpath("paints.yaml").read_text()
    return parse_paints(yaml.safe_load(text), "the default paints")


def read_paints(path: str | Path) -> list[Paint]:
    """The learner's paints from a YAML file (see docs/lesson.md for the format)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"paints file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(f"paints file {path} is not valid YAML ({str(exc).splitlines()[0]})") from None
    return parse_paints(data, str(path))


def parse_paints(data, where: str) -> list[Paint]:
    if isinstance(data, dict):
        data = data.get("paints")
    if not isinstance(data, list) or not data:
        raise InputError(
            f"{where}: expected a list of paints (name + rgb), e.g. '- {{name: ultramarine, rgb: \"#283a8c\"}}'"
        )
    if len(data) > MAX_PAINTS:
        raise InputError(f"{where}: {len(data)} paints; list at most {MAX_PAINTS} (the tubes you really use)")
    paints, seen = [], set()
    for i, row in enumerate(data):
        if not isinstance(row, dict) or not isinstance(row.get("name"), str) or not row["name"].strip():
            raise InputError(
                f"{where}: paint {i + 1} needs a name, e.g. '- {{name: ultramarine, rgb: \"#283a8c\"}}'"
            )
        name = row["name"].strip()
        if name in seen:
            raise InputError(f"{where}: paint {name!r} is listed twice")
        seen.add(name)
        unknown = set(row) - {"name", "rgb", "strength", "pigment", "reflectance"}
        if unknown:
            raise InputError(
                f"{where}: paint {name!r} has unknown keys {sorted(unknown)} (name, rgb, strength, pigment, reflectance)"
            )
        strength = row.get("strength", 1.0)
        if (
            not isinstance(strength, (int, float))
            or not math.isfinite(strength)
            or not 0.05 <= strength <= 20
        ):
            raise InputError(
                f"{where}: paint {name!r} strength must be a number from 0.05 to 20, got {strength!r}"
            )
        paints.append(
            Paint(
                name,
                _parse_rgb(row.get("rgb"), name, where),
                float(strength),
                str(row.get("pigment", "")),
                _parse_reflectance(row.get("reflectance"), name, where),
            )
        )
    return paints


def _parse_rgb(v, name: str, where: str) -> tuple[int, int, int]:
    if isinstance(v, str) and len(v.strip().lstrip("#")) == 6:
        try:
            h = v.strip().lstrip("#")
            return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
        except ValueError:
            pass
    if isinstance(v, list) and len(v) == 3 and all(isinstance(c, int) and 0 <= c <= 255 for c in v):
        return int(v[0]), int(v[1]), int(v[2])
    raise InputError(f'{where}: paint {name!r} needs rgb as "#rrggbb" or [r, g, b] (0-255), got {v!r}')


def _parse_reflectance(v, name: str, where: str) -> tuple[float, ...] | None:
    if v is None:
        return None
    ok = isinstance(v, list) and len(v) == len(WAVELENGTHS)
    ok = ok and all(isinstance(x, (int, float)) and math.isfinite(x) and 0 <= x <= 1 for x in v)
    if not ok:
        raise InputError(
            f"{where}: paint {name!r} reflectance must be {len(WAVELENGTHS)} numbers in 0..1 (380-780 nm, 10 nm steps)"
        )
    return tuple(float(x) for x in v)
