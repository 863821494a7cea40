"""Benchmarks: generators, measurements, and the harness that runs them (bench/harness.py).

MODULES lists the modules whose `@benchmark` functions `python -m bench` runs, in this order.
"""

MODULES = ["nearby", "api_pages", "gap", "gap_contention", "maps", "imports", "indicators", "ogc",
           "tiles", "workshop"]
