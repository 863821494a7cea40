"""Issue 3 benchmark: a page of 100 resources filtered by territory and kind.

Target: < 20 ms server-side at the median with 100,000 resources and 200,000 links, and one
uvicorn worker sustaining >= 250 such pages/s on two cores.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5433/terreau python -m bench.api_pages
(uses its own database `terreau_bench_api` on that server, filled once by bench.synthetic)
"""

import random
import re
import statistics
import time

from sqlalchemy import text

from bench import common, synthetic
from carto import search
from carto.db import transaction
from carto.visibility import ANONYMOUS

DB = "terreau_bench_api"
TERRITORY = "bench-occitanie"


def prepare() -> str:
    url = common.bench_database(DB)
    if common.count(url, "SELECT count(*) FROM resource") < 100_000:
        with transaction(url) as session:
            territory = synthetic.ensure_territory(session, TERRITORY, ["30", "34", "43", "48"])
            synthetic.add_resources(session, territory, 100_000)
            synthetic.add_links(session, territory, 200_000)
    with transaction(url) as session:  # fresh rows have no statistics: plans would be blind
        session.execute(text("ANALYZE"))
    return url


def server_side(url: str, runs: int = 400) -> tuple[float, float]:
    """The domain call the endpoint makes (SQL + rows), walking pages of random kinds."""
    kinds = [k for k, _ in synthetic.KIND_WEIGHTS]
    rng = random.Random(1)
    timings = []
    with transaction(url) as session:
        after = None
        flt = search.ResourceFilter(territory=TERRITORY, kinds=[rng.choice(kinds)])
        for _ in range(runs):
            started = time.perf_counter()
            _, after = search.list_resources_geojson(session, ANONYMOUS, flt, 100, after)
            timings.append((time.perf_counter() - started) * 1000)
            if after is None or rng.random() < 0.1:
                after = None
                flt = search.ResourceFilter(territory=TERRITORY, kinds=[rng.choice(kinds)])
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.95)]


def main() -> None:
    url = prepare()
    resources = common.count(url, "SELECT count(*) FROM resource")
    links = common.count(url, "SELECT count(*) FROM link")
    median, p95 = server_side(url)
    print(f"machine: {common.machine()}")
    print(f"data: {resources} resources, {links} links")
    print(f"server-side page of 100 (territory + kind): median {median:.2f} ms, p95 {p95:.2f} ms")
    with common.uvicorn_server(url) as base:
        target = f"{base}/api/resources?territory={TERRITORY}&kind=producer&limit=100"
        out = common.wrk(target, seconds=15, connections=16)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    print(f"HTTP, 1 uvicorn worker, wrk 2 threads 16 connections 15 s: "
          f"{rps.group(1) if rps else '?'} req/s")
    print(out)


if __name__ == "__main__":
    main()
