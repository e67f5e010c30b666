"""The one table of procedural recipes: what each ``recipe:`` of ``mediums.yaml`` builds.

Every property of a recipe lives in its row here — the plan function, its default phase shares,
whether it is drawn on paper, whether it is a graphite drawing that coloured pencil finishes on a
colour picture, whether it needs a face — so adding a recipe is adding a row, and nothing else
lists recipe names. ``recipe_for(medium)`` reads a ``Medium``'s ``procedural`` row into a
``Recipe`` (unknown keys or recipe names are a ``ValueError``: a broken registry, not user input).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace

from loomis.mediums import Medium
from loomis.procedural import config as cfg
from loomis.procedural.colouring import colouring_plan
from loomis.procedural.config import Recipe
from loomis.procedural.digital import digital_plan
from loomis.procedural.face import loomis_plan
from loomis.procedural.recipes import Plan, paint_plan, pencil_plan
from loomis.procedural.strokes import Stroke
from loomis.procedural.watercolour import watercolour_plan


@dataclass(frozen=True)
class RecipeKind:
    plan: Callable[[Plan], list[Stroke]]
    phases: Mapping[str, float]  # default phase shares of the video time
    paper: bool = False  # drawn on paper: a nearly flat ground (a toned ground is brushed on)
    graphite: bool = False  # a graphite drawing: coloured pencil follows on a colour picture
    face: bool = False  # built on a detected face (falls back to ``pencil`` without one)
    stages: str = "paint"  # the lesson's stage words (loomis.lesson.stages.VOCABULARY)


KINDS: dict[str, RecipeKind] = {
    "paint": RecipeKind(paint_plan, cfg.PAINT_PHASES),
    "pencil": RecipeKind(pencil_plan, cfg.PENCIL_PHASES, paper=True, graphite=True, stages="pencil"),
    "loomis": RecipeKind(
        loomis_plan, cfg.LOOMIS_PHASES, paper=True, graphite=True, face=True, stages="pencil"
    ),
    "colouring": RecipeKind(colouring_plan, cfg.COLOURING_PHASES, paper=True, stages="digital"),
    "watercolour": RecipeKind(watercolour_plan, cfg.WATERCOLOUR_PHASES, paper=True, stages="watercolour"),
    "digital": RecipeKind(digital_plan, cfg.DIGITAL_PHASES, paper=True, stages="digital"),
}


def kind_of(recipe: Recipe) -> RecipeKind:
    return KINDS[recipe.recipe]


def recipe_for(medium: Medium) -> Recipe:
    """The medium's ``procedural`` row as a ``Recipe`` (defaults for what the row leaves out)."""
    row = dict(medium.procedural)
    known = {f.name for f in fields(Recipe)}
    unknown = set(row) - known
    if unknown:
        raise ValueError(
            f"mediums.yaml: medium {medium.name!r} procedural has unknown keys {sorted(unknown)}"
        )
    for key in ("ground", "sketch_colour"):
        if key in row:
            row[key] = tuple(int(v) for v in row[key])
    if "paced" in row:
        row["paced"] = tuple(str(v) for v in row["paced"])
    if "curve" in row:
        row["curve"] = tuple(float(v) for v in row["curve"])
    kind = row.get("recipe", Recipe.recipe)
    if kind not in KINDS:
        raise ValueError(
            f"mediums.yaml: medium {medium.name!r} has unknown recipe {kind!r}; known: {', '.join(KINDS)}"
        )
    row.setdefault("phases", dict(KINDS[kind].phases))
    return replace(Recipe(), **row)
