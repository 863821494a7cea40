"""A page of 100 resources (issue 3) against tipg serving the same table, and against a bare
endpoint of the same worker.

Data: the territory `bench-occitanie` (departments 30, 34, 43, 48) with 100,000 synthetic
resources and 200,000 links (bench/synthetic.py), ANALYZEd.

- `GET /api/resources?territory=bench-occitanie&kind=<kind>&limit=100` on one uvicorn worker,
  wrk with 16 connections cycling through the twelve kinds;
- the reference: tipg 1.6.1 (its own venv, bench/tipg.py), one uvicorn worker, serving the
  same `resource` table, `GET /collections/public.resource/items?kind=<kind>&limit=100` (every
  resource is in the territory, so it is the same page of the same rows). Target: >= 3x its
  throughput.
- beside it, `/_bench/bare` (a handler on the event loop, like this one since it reads
  through api.auth.read_own, no database): recorded without a target.

Rounds alternate (ours, tipg, bare) three times; the median round of each counts.

    python -m bench api_pages
"""

from sqlalchemy import text

from bench import app as bench_app
from bench import common, synthetic, tipg
from bench.harness import Context, Figure, analyze, benchmark
from carto.db import transaction

SLUG = "bench-occitanie"
DEPARTMENTS = ["30", "34", "43", "48"]


def fill(url: str, resources: int, links: int) -> int:
    with transaction(url) as session:
        territory = synthetic.fill_territory(session, SLUG, DEPARTMENTS, resources, links)
        made = int(session.scalar(text("SELECT count(*) FROM link WHERE territory_id = :t"),
                                  {"t": territory.id}) or 0)
    analyze(url)
    return made


def median(runs: list[common.Load]) -> common.Load:
    return sorted(runs, key=lambda r: r.rps)[len(runs) // 2]


@benchmark("api_pages", "a page of 100 resources (issue 3)")
def run(ctx: Context) -> list[Figure]:
    resources, links = ctx.size(100_000), ctx.size(200_000)
    ctx.log(f"   filling {resources} resources, {links} links")
    made = fill(ctx.url, resources, links)
    kinds = [k for k, _ in synthetic.KIND_WEIGHTS]
    ours_paths = [f"/api/resources?territory={SLUG}&kind={k}&limit=100" for k in kinds]
    tipg_paths = [f"/collections/public.resource/items?kind={k}&limit=100" for k in kinds]
    seconds = ctx.seconds(5)
    ours, theirs, bare = [], [], []
    with common.uvicorn_server(ctx.url) as base, tipg.serve(ctx.url) as tipg_base:
        common.load(base, ours_paths, 1)  # warm-up: pools, caches, tipg's catalogue
        common.load(tipg_base, tipg_paths, 1)
        for _ in range(3):
            ours.append(common.load(base, ours_paths, seconds))
            theirs.append(common.load(tipg_base, tipg_paths, seconds))
            bare.append(common.load(base, [bench_app.BARE_ASYNC], seconds))
    o, t, b = median(ours), median(theirs), median(bare)
    bad = [f"{name} {r.non_2xx} of {r.requests}" for name, r in
           (("ours", o), ("tipg", t), ("bare", b)) if r.non_2xx]
    if bad:  # said, not hidden
        ctx.details.append(f"**errors under load** (answers not 2xx): {', '.join(bad)}.")
    ctx.details.append(
        f"{resources:,} resources, {made:,} links; {o.tool}, 16 connections, 3 alternating "
        f"rounds of {seconds} s, median round: ours p50 {o.p50_ms} ms, tipg p50 {t.p50_ms} ms.")
    return [
        Figure("api_pages.vs_tipg_rps", "page of 100 resources (territory + kind), 1 worker",
               o.rps, t.rps, "tipg 1.6.1 serving the same table, 1 worker", "req/s",
               at_least=3),
        Figure("api_pages.vs_bare_rps", "page of 100 resources, 1 worker", o.rps, b.rps,
               "bare event-loop endpoint, same worker", "req/s"),
    ]
