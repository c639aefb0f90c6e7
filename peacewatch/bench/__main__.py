"""`python -m peacewatch.bench [NAME ...]`: run the named benchmarks (default: all) and print results.

Each benchmark module exposes `run() -> list[str]`: human-readable lines with throughput and the ratio
against a baseline measured in the same run. Results are recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import importlib
import time

BENCHMARKS = ["crawl", "warehouse", "nlp"]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m peacewatch.bench")
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"benchmarks to run: {', '.join(BENCHMARKS)} (default: all)")
    names = parser.parse_args().names or BENCHMARKS
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    for name in names:
        try:
            module = importlib.import_module(f"peacewatch.bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"peacewatch.bench.{name}":
                raise
            print(f"== {name}: not available")
            continue
        started = time.perf_counter()
        print(f"== {name}")
        for line in module.run():
            print(f"   {line}", flush=True)
        print(f"   ({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
