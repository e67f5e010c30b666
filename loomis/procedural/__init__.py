"""The weight-free procedural painter (stroke-based painting processes).

    from loomis.procedural import ProceduralConfig, paint
    frames = paint(image, "oil", ProceduralConfig(frames=49, seed=0))

See ``docs/procedural.md`` for the recipes and options.
"""

from loomis.procedural.config import SPEEDS, ProceduralConfig, Recipe
from loomis.procedural.painter import paint

__all__ = ["SPEEDS", "ProceduralConfig", "Recipe", "paint"]
