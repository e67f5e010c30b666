"""YAML config files with ``extends: other.yaml`` (resolved relative to the file, deep-merged, the
child winning): the training config and ``loomis-data cache --config`` read them the same way."""

from __future__ import annotations

from pathlib import Path

from loomis.errors import InputError


def load_yaml(path: str | Path, _seen: tuple = ()) -> dict:
    """A YAML config as a dict, with ``extends:`` resolved."""
    import yaml

    path = Path(path)
    if path.is_dir():
        raise InputError(f"config {path} is a folder; give a YAML file (e.g. configs/tiny.yaml)")
    if not path.is_file():
        raise InputError(f"config file {path} does not exist")
    if path.resolve() in _seen:
        raise InputError(f"config {path}: 'extends' loops back to itself")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"config {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise InputError(f"config {path} must be a mapping of sections (model:, data:, …)")
    parent = raw.pop("extends", None)
    if parent:
        base = load_yaml(path.parent / parent, _seen + (path.resolve(),))
        raw = deep_merge(base, raw)
    return raw


def deep_merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
