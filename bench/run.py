"""``make bench``: run every ``bench/bench_*.py`` module's ``run(out_dir) -> dict`` and write the
results to ``OUT/<name>.json`` plus a combined ``OUT/summary.md``.

``python -m bench.run --only procedural`` runs one. Benchmarks measure; they do not pass or fail
(targets are printed beside the numbers).
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import time
from pathlib import Path

from loomis.io import write_bytes, write_json


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="bench/results")
    ap.add_argument("--only", nargs="*", default=None, help="benchmark names (bench_<name>.py)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = sorted(p.stem[len("bench_") :] for p in Path(__file__).parent.glob("bench_*.py"))
    if args.only:
        names = [n for n in names if n in args.only]
    for name in names:
        mod = importlib.import_module(f"bench.bench_{name}")
        t0 = time.perf_counter()
        result = mod.run(out)
        result["_wall_s"] = round(time.perf_counter() - t0, 2)
        result["_measured"] = f"{platform.node()}, {time.strftime('%Y-%m-%d %H:%M')}"
        write_json(out / f"{name}.json", result)
        print(f"[bench] {name}: {json.dumps(result)}")
    write_summary(out)


def write_summary(out: Path) -> None:
    """``summary.md`` from every result file in ``out`` (a partial ``--only`` run keeps the rest),
    each section saying when and where it was measured."""
    lines = ["# Loomis benchmarks", ""]
    for path in sorted(out.glob("*.json")):
        result = json.loads(path.read_text())
        when = result.get("_measured", "date not recorded")
        lines += [f"## {path.stem} ({when})", "", "```json", json.dumps(result, indent=2), "```", ""]
    write_bytes(out / "summary.md", "\n".join(lines).encode())


if __name__ == "__main__":
    main()
