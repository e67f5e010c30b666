"""``loomis-data curate``: not yet built (issue 3)."""

from loomis.errors import InputError


def register(sub) -> None:
    p = sub.add_parser("curate", help="not yet built (issue 3)")
    p.set_defaults(func=_run)


def _run(args) -> int:
    raise InputError("loomis-data curate is not yet built (issue 3)")
