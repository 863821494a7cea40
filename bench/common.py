"""Shared bits of the benchmarks: a dedicated database, the machine's description, a server."""

import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from carto import ROOT
from carto.config import DatabaseSettings


def bench_database(name: str) -> str:
    """The URL of database `name` on the DATABASE_URL server, created and migrated if needed."""
    base = make_url(DatabaseSettings().database_url)
    admin = base.set(database="postgres", drivername="postgresql").render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
    url = base.set(database=name).render_as_string(False)
    from carto import migrate

    migrate.upgrade(url)
    return url


def count(url: str, sql: str) -> int:
    from carto.db import transaction

    with transaction(url) as session:
        return int(session.scalar(text(sql)) or 0)


def machine() -> str:
    cpu = "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    pg = "?"
    try:
        from carto.db import transaction

        with transaction() as session:
            pg = str(session.scalar(text("SELECT split_part(version(), ' on ', 1)")))
            pg += ", PostGIS " + str(session.scalar(text("SELECT postgis_lib_version()")))
    except Exception:
        pass
    return (f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, {pg}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def uvicorn_server(url: str, workers: int = 1) -> Iterator[str]:
    """One uvicorn process on loopback, stopped at the end."""
    port = free_port()
    env = os.environ | {"DATABASE_URL": url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory", "--host",
         "127.0.0.1", "--port", str(port), "--workers", str(workers), "--log-level", "warning",
         "--no-access-log"],
        cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("uvicorn did not start") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def wrk(url: str, seconds: int = 15, connections: int = 16) -> str:
    """Requests/s and latency from wrk (Debian's package), bounded in time, loopback only."""
    assert url.startswith("http://127.0.0.1:"), "load tests stay on this machine"
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    return out
