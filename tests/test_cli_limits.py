"""Every numeric option of every command has a range (checked while parsing, NaN/inf refused),
and ``--help`` carries no "(default: None)" noise. Parsers are collected from the console scripts
themselves, so a new option or subcommand is covered as soon as it exists."""

import math
from pathlib import Path

import pytest
import tomllib

from loomis import cli

SCRIPTS = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]["scripts"]
EXTRA_HELP = {"loomis-eval": [["compare", "--help"]]}  # parsers built only for a subcommand


def _parsers(monkeypatch, capsys) -> list[cli.ArgumentParser]:
    import importlib

    made = []
    init = cli.ArgumentParser.__init__

    def record(self, *a, **k):
        init(self, *a, **k)
        made.append(self)

    monkeypatch.setattr(cli.ArgumentParser, "__init__", record)
    for name, target in sorted(SCRIPTS.items()):
        module, func = target.split(":")
        main = getattr(importlib.import_module(module), func)
        for argv in [["--help"], *EXTRA_HELP.get(name, [])]:
            with pytest.raises(SystemExit):
                main(argv)
    capsys.readouterr()
    return made


def _numeric(action) -> bool:
    return action.type in (int, float) or hasattr(action.type, "bounds")


def test_every_numeric_option_of_every_command_has_a_range(monkeypatch, capsys):
    parsers = _parsers(monkeypatch, capsys)
    assert {p.prog.split()[0] for p in parsers} >= set(SCRIPTS)
    seen, missing = 0, []
    for p in parsers:
        cli.apply_validators(p)
        for action in p._actions:
            if not _numeric(action):
                continue
            seen += 1
            lo, hi = getattr(action.type, "bounds", (None, None))
            if lo is None or hi is None or not math.isfinite(lo):
                missing.append(f"{p.prog} {'/'.join(action.option_strings) or action.dest}")
    assert not missing, f"numeric options without a range (add them to loomis.cli.NUMERIC_OPTIONS): {missing}"
    assert seen >= 15  # paint, eval, data curate/synth/cache, train all have some


def test_help_has_no_none_noise(monkeypatch, capsys):
    for p in _parsers(monkeypatch, capsys):
        text = p.format_help()
        assert "(default: None)" not in text and "(default: False)" not in text, p.prog
