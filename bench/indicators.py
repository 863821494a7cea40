"""Cooperation indicators (issue 17): the indicators of a territory with 10,000 resources and
20,000 links, whose target is under 2 s (`GET /api/territories/{slug}/indicators`, JSON,
anonymous reader), today and on a past day.

Data (clearly synthetic, bench.synthetic): the territory `bench-indicators` (Hérault's
communes), 10,000 resources spread inside it, 20,000 random links between them; every link has
a dated level history (a first level in 2024, a third of them a later change in 2025) and its
change-log row, as links written through the API have.

Figures, each beside a reference measured in the same run on the same rows:
- the endpoint today, and on 2025-01-01, against the raw SQL that reads the same links and
  actors (no visibility, no history): what the network reading itself costs;
- the endpoint's parts: `snapshot` (the SQL of the day) and `measures.indicators` (networkx and
  igraph), for where the time goes.

    python -m bench indicators
"""

import statistics
import time
from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from bench import common, synthetic
from bench.harness import Context, Figure, analyze, benchmark
from carto import indicators as ind
from carto.db import transaction
from carto.indicators import measures
from carto.visibility import ANONYMOUS

SLUG = "bench-indicators"
PAST = date(2025, 1, 1)
TARGET_MS = 2000

RAW = """
    SELECT l.source_id, l.target_id, l.category, l.level, s.kind, t.kind
    FROM link l JOIN resource s ON s.id = l.source_id JOIN resource t ON t.id = l.target_id
    WHERE l.territory_id = (SELECT id FROM territory WHERE slug = :slug)
    UNION ALL
    SELECT r.id, NULL, NULL, NULL, r.kind, NULL
    FROM resource_territory rt JOIN resource r ON r.id = rt.resource_id
    WHERE rt.territory_id = (SELECT id FROM territory WHERE slug = :slug)"""


def fill(url: str, resources: int, links: int) -> None:
    with transaction(url) as session:
        territory = synthetic.ensure_territory(session, SLUG, ["34"])
        synthetic.add_resources(session, territory, resources, seed=17)
        synthetic.add_links(session, territory, links + links // 50)  # duplicates are skipped
        session.execute(text("""
            DELETE FROM link WHERE id IN (SELECT id FROM link WHERE territory_id = :tid
                                          ORDER BY id OFFSET :n)"""),
                        {"tid": territory.id, "n": links})
        session.execute(text("""
            INSERT INTO link_level_history (link_id, level, changed_on, changed_by)
            SELECT id, greatest(1, level - 1),
                   date '2024-01-01' + (abs(hashtext(id::text)) % 365), 'bench'
            FROM link WHERE territory_id = :tid"""), {"tid": territory.id})
        session.execute(text("""
            INSERT INTO link_level_history (link_id, level, changed_on, changed_by)
            SELECT id, level, date '2025-01-01' + (abs(hashtext(id::text)) % 300), 'bench'
            FROM link WHERE territory_id = :tid AND abs(hashtext(id::text)) % 3 = 0"""),
                        {"tid": territory.id})
        session.execute(text("""
            INSERT INTO change_log (entity_type, entity_id, action, actor, before, after)
            SELECT 'link', id, 'create', 'bench', NULL,
                   jsonb_build_object('status', status, 'level', level)
            FROM link WHERE territory_id = :tid"""), {"tid": territory.id})
    analyze(url)


@benchmark("indicators", "cooperation indicators (issue 17)")
def run(ctx: Context) -> list[Figure]:
    resources, links = ctx.size(10_000), ctx.size(20_000)
    ctx.log(f"   filling {resources} resources and {links} links with their level history")
    fill(ctx.url, resources, links)
    runs = ctx.size(7, minimum=3)
    from api.main import create_app

    with transaction(ctx.url) as session, TestClient(create_app(ctx.url)) as client:
        def raw() -> Any:
            return session.execute(text(RAW), {"slug": SLUG}).all()

        def get(path: str) -> Any:
            def call() -> int:
                r = client.get(path)
                assert r.status_code == 200, r.text[:300]
                return len(r.content)
            return call

        today_ms, past_ms, raw_ms = common.interleaved(
            [get(f"/api/territories/{SLUG}/indicators"),
             get(f"/api/territories/{SLUG}/indicators?at={PAST}"), raw], runs)
        cpu = []  # this process's CPU per call: the app's Python share, whatever the load
        for _ in range(runs):
            started = time.process_time()
            get(f"/api/territories/{SLUG}/indicators")()
            cpu.append((time.process_time() - started) * 1000)
        snap = ind.snapshot(session, ANONYMOUS, SLUG)
        snapshot_ms, measures_ms, raw2_ms = common.interleaved(
            [lambda: ind.snapshot(session, ANONYMOUS, SLUG),
             lambda: measures.indicators(snap), raw], runs)
        net = measures.indicators(snap)["network"]
    met = "met" if today_ms < TARGET_MS and past_ms < TARGET_MS else "NOT met"
    ctx.details.append(
        f"`{SLUG}`: {resources:,} resources, {len(snap.links):,} links today, "
        f"{net['pairs']:,} linked pairs, {net['components']} components; betweenness "
        f"{net['betweenness']['method']} ({net['betweenness']['samples'] or 'all'} sources); "
        f"medians of {runs} alternating runs. Absolute target < {TARGET_MS} ms: {met} "
        f"(today {today_ms:,.0f} ms, {PAST} {past_ms:,.0f} ms). The app's own CPU per "
        f"call (Python: networkx, igraph, JSON; PostgreSQL's share not counted): "
        f"{statistics.median(cpu):,.0f} ms.")
    reference = "raw SQL reading the same links and actors (no visibility, no history)"
    return [
        Figure("indicators.today_ms", "GET indicators (today, JSON)", today_ms, raw_ms,
               reference, "ms"),
        Figure("indicators.past_ms", f"GET indicators at {PAST} (JSON)", past_ms, raw_ms,
               reference, "ms"),
        Figure("indicators.snapshot_ms", "`snapshot`: the day's actors and links (SQL)",
               snapshot_ms, raw2_ms, reference, "ms"),
        Figure("indicators.measures_ms", "`measures.indicators` (networkx, igraph)",
               measures_ms, raw2_ms, reference, "ms"),
    ]
