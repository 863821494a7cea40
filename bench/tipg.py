"""tipg (developmentseed's OGC API Features server for PostGIS) as a benchmark reference.

It lives in a virtual environment of its own, `.venv-tipg`, created here with pip: its
dependencies (asyncpg, its own pydantic and FastAPI pins) must not touch the app's.

    python -m bench.tipg --ensure     # create .venv-tipg when missing (scripts/bench.sh does)

    with tipg.serve(url, tables=["public.resource"]) as base:
        ...GET f"{base}/collections/public.resource/items?limit=100"
"""

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from bench import common
from carto import ROOT

VENV = ROOT / ".venv-tipg"
REQUIREMENT = "tipg==1.6.1"  # pinned: a reference that moves is no reference


def python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv() -> Path:
    """The venv's python, after creating the venv and installing tipg when missing."""
    marker = VENV / f".{REQUIREMENT}"
    if not marker.exists():
        if not python().exists():
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python()), "-m", "pip", "install", "-q", REQUIREMENT, "uvicorn"],
                       check=True)
        marker.touch()
    return python()


@contextmanager
def serve(url: str, tables: Sequence[str] = ("public.resource",),
          max_features: int = 10_000) -> Iterator[str]:
    """tipg on a free loopback port, one uvicorn worker (like the app's), serving `tables`
    of database `url`; stopped at the end."""
    py = ensure_venv()
    port = common.free_port()
    libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    env = os.environ | {
        "DATABASE_URL": libpq,
        "TIPG_DB_SCHEMAS": json.dumps(sorted({t.split(".")[0] for t in tables})),
        "TIPG_DB_TABLES": json.dumps(list(tables)),
        "TIPG_DB_EXCLUDE_FUNCTION_SCHEMAS": json.dumps(["public"]),
        "TIPG_MAX_FEATURES_PER_QUERY": str(max_features),
        "TIPG_CATALOG_TTL": "3600",
    }
    proc = subprocess.Popen(
        [str(py), "-m", "uvicorn", "tipg.main:app", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--log-level", "warning", "--no-access-log"],
        env=env, cwd="/")
    try:
        common.wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        common.stop(proc)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ensure", action="store_true", help="create .venv-tipg if missing")
    if parser.parse_args().ensure:
        print(ensure_venv())
