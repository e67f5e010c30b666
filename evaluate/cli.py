"""``loomis-eval``: process metrics for generated painting processes."""

from __future__ import annotations

import sys

from loomis.cli import not_built, run_main


def main(argv=None) -> int:
    sys.exit(run_main(lambda a: not_built("loomis-eval", "issue 5", a), argv))
