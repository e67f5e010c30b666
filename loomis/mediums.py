"""The medium registry: painting mediums are data (``loomis/data/mediums.yaml``), not code branches.

``get_medium("oil")`` returns a frozen ``Medium``; ``build_prompt(medium, caption)`` makes the prompt
the LoRAs were trained with: ``"<medium words> Step by step painting process. <caption>"``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType

import yaml

from loomis.errors import InputError

PROMPT_TEMPLATE = "{words} Step by step painting process. {caption}"
DEFAULT_CAPTION = "A picture."
DEFAULT_NEGATIVE_PROMPT = (
    "blurry, low quality, jpeg artifacts, watermark, text, logo, hands, fingers, brush, "
    "camera motion, zoom, flicker, static image"
)


@dataclass(frozen=True)
class Medium:
    name: str
    kind: str  # "process" or "transfer"
    description: str
    words: str
    lora: str | None = None
    faithful: bool = True
    sampler: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    procedural: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))


_FIELDS = {"kind", "description", "words", "lora", "faithful", "sampler", "procedural"}
# What a medium row may set for the wan backend (everything else comes from the model spec).
SAMPLER_KEYS = frozenset({"frames", "steps", "guidance", "fps", "scheduler", "shift"})


@functools.cache
def registry() -> MappingProxyType:
    """All mediums by name, in file order."""
    text = resources.files("loomis").joinpath("data/mediums.yaml").read_text()
    raw = yaml.safe_load(text)
    out = {}
    for name, row in raw.items():
        unknown = set(row) - _FIELDS
        if unknown:
            raise ValueError(f"mediums.yaml: medium {name!r} has unknown keys {sorted(unknown)}")
        if row.get("kind") not in ("process", "transfer"):
            raise ValueError(f"mediums.yaml: medium {name!r} needs kind: process|transfer")
        bad_sampler = set(row.get("sampler") or {}) - SAMPLER_KEYS
        if bad_sampler:
            raise ValueError(f"mediums.yaml: medium {name!r} has unknown sampler keys {sorted(bad_sampler)}")
        out[name] = Medium(
            name=name,
            kind=row["kind"],
            description=row.get("description", ""),
            words=row["words"],
            lora=row.get("lora"),
            faithful=bool(row.get("faithful", True)),
            sampler=MappingProxyType(dict(row.get("sampler") or {})),
            procedural=MappingProxyType(dict(row.get("procedural") or {})),
        )
    return MappingProxyType(out)


def medium_names() -> list[str]:
    return list(registry())


def get_medium(name: str | Medium) -> Medium:
    """The medium called ``name`` (a ``Medium`` is returned as it is: callers pass the object
    down, not its name); an unknown name is an InputError listing the valid ones."""
    if isinstance(name, Medium):
        return name
    reg = registry()
    if name not in reg:
        raise InputError(f"unknown medium {name!r}; valid mediums: {', '.join(reg)}")
    return reg[name]


def build_prompt(medium: Medium | str, caption: str | None = None) -> str:
    """``"<medium words> Step by step painting process. <caption>"``."""
    medium = get_medium(medium)
    caption = (caption or "").strip() or DEFAULT_CAPTION
    return PROMPT_TEMPLATE.format(words=medium.words, caption=caption)
