"""``loomis-train``: LoRA training of Wan 2.1 I2V on reversed painting videos."""

from __future__ import annotations

import sys

from loomis.cli import not_built, run_main


def main(argv=None) -> int:
    sys.exit(run_main(lambda a: not_built("loomis-train", "issue 4", a), argv))
