"""``loomis-data cache``: not yet built (issue 4)."""

from loomis.errors import InputError


def register(sub) -> None:
    p = sub.add_parser("cache", help="not yet built (issue 4)")
    p.set_defaults(func=_run)


def _run(args) -> int:
    raise InputError("loomis-data cache is not yet built (issue 4)")
