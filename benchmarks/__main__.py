"""Run the benchmarks: `python -m benchmarks` for all, `--only NAME` for one.

Each writes benchmarks/results/NAME.json and NAME.md and refreshes the
list in benchmarks/results/README.md. Benchmarks are not part of the test run; each is
bounded in time and talks to loopback only.
"""

import argparse
import importlib
import sys

BENCHMARKS = {
    "model_comparison": "benchmarks.model_comparison",
    "backend": "benchmarks.backend_latency",
    "browser": "benchmarks.browser",
    "video": "benchmarks.video",
    "scan": "benchmarks.scan",
    "provenance": "benchmarks.provenance",
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=sorted(BENCHMARKS), help="run one benchmark")
    args, rest = p.parse_known_args(argv)
    names = [args.only] if args.only else list(BENCHMARKS)
    failed = []
    for name in names:
        print(f"== {name}", flush=True)
        try:
            importlib.import_module(BENCHMARKS[name]).main(rest)
        except ModuleNotFoundError as e:
            print(f"{name}: {e}", file=sys.stderr)
            failed.append(name)
    if failed:
        raise SystemExit(f"benchmarks failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
