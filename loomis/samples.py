"""Sample images that ship with installed packages (no files from outside the project).

``python -m loomis.samples NAME`` prints the path of a bundled sample, e.g. ``grace_hopper``
(matplotlib's sample data: a portrait photograph), for ``make demo``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from loomis.errors import InputError


def sample_path(name: str) -> Path:
    if name == "grace_hopper":
        import matplotlib

        path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    elif name in ("astronaut", "coffee", "chelsea", "rocket"):
        import skimage.data

        path = (
            Path(skimage.data.__file__).parent
            / {
                "astronaut": "astronaut.png",
                "coffee": "coffee.png",
                "chelsea": "chelsea.png",
                "rocket": "rocket.jpg",
            }[name]
        )
    else:
        raise InputError(f"unknown sample {name!r}; try grace_hopper, astronaut, coffee, chelsea, rocket")
    if not path.exists():
        raise InputError(f"sample {name} is not installed at {path}")
    return path


if __name__ == "__main__":
    print(sample_path(sys.argv[1] if len(sys.argv) > 1 else "grace_hopper"))
