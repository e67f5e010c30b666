"""``loomis-data variants``: not yet built (issue 3)."""

from loomis.errors import InputError


def register(sub) -> None:
    p = sub.add_parser("variants", help="not yet built (issue 3)")
    p.set_defaults(func=_run)


def _run(args) -> int:
    raise InputError("loomis-data variants is not yet built (issue 3)")
