"""``loomis-data synth``: not yet built (issue 6)."""

from loomis.errors import InputError


def register(sub) -> None:
    p = sub.add_parser("synth", help="not yet built (issue 6)")
    p.set_defaults(func=_run)


def _run(args) -> int:
    raise InputError("loomis-data synth is not yet built (issue 6)")
