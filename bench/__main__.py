"""`python -m bench [NAME...]`: run the benchmarks (all by default), each in its own database
on the DATABASE_URL server, then write the results table of docs/benchmarks.md and append to
bench/history.csv. `make bench` runs it after scripts/bench.sh installed what it needs."""

import argparse
import datetime as dt
import importlib
import shlex
import sys

from bench import MODULES, harness
from carto.config import DatabaseSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply data sizes (1 = the sizes the docs describe)")
    parser.add_argument("--http-seconds", type=float, default=15.0,
                        help="duration of the HTTP load runs (scaled per benchmark)")
    parser.add_argument("--keep", action="store_true",
                        help="keep and reuse the terreau_bench_* databases")
    parser.add_argument("--history", default=str(harness.HISTORY),
                        help="CSV to append one row per figure to ('' = none)")
    parser.add_argument("--docs", default=str(harness.DOCS),
                        help="markdown file whose results section is rewritten ('' = none)")
    parser.add_argument("--database-prefix", default="terreau_bench_",
                        help="benchmark databases are named <prefix><benchmark>")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and stop")
    args = parser.parse_args(argv)
    for module in MODULES:
        importlib.import_module(f"bench.{module}")
    if args.list:
        for name, b in harness.REGISTRY.items():
            print(f"{name}: {b.title}")
        return 0
    names = args.names or list(harness.REGISTRY)
    unknown = [n for n in names if n not in harness.REGISTRY]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: "
                     f"{', '.join(harness.REGISTRY)}")
    server = DatabaseSettings().database_url
    sha = harness.commit()  # the code that runs: read before, not after (a commit made during
    # a 35-minute run was once recorded as the run's)
    results = harness.run(names, server, args.scale, args.http_seconds, args.keep,
                          prefix=args.database_prefix)
    when = dt.datetime.now(dt.UTC)
    m = harness.machine(server)
    if args.history:
        harness.append_history(harness.history_rows(results, m, when, sha),
                               harness.Path(args.history))
    if args.docs:
        command = "make bench" if not args.names and args.scale == 1 else \
            "python -m bench " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
        harness.write_docs(harness.results_markdown(results, m, when, sha, command, args.scale),
                           harness.Path(args.docs))
    failed = [r.benchmark.name for r in results if r.error]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
