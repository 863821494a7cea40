"""Wires the app together: database, routers, error handlers, static files. Nothing else."""

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from sqlalchemy.ext.asyncio import async_sessionmaker

from api import assets, openapi, problems, query, ratelimit, readahead, security
from api.deps import Slots
from api.limits import BodySizeLimit
from api.routers import (
    docs,
    duplicates,
    exports,
    gap,
    health,
    imports,
    indicators,
    link_pages,
    links,
    maps,
    moderation,
    moderation_page,
    nearby,
    ogc,
    outbox,
    pages,
    records,
    resource_pages,
    resources,
    session,
    territories,
    tiles,
    tokens,
    vocab,
    workshop_pages,
    workshops,
)
from carto import ROOT
from carto.config import app_settings
from carto.db import async_engine, get_engine, pool_capacity, session_factory

# The collector's threshold 0 while serving (CPython's default: 700); see `lifespan`.
YOUNG_GENERATION = 20_000


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = app_settings()
    to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
    app.state.engine = get_engine(app.state.database_url)
    # a request reserves its sync connection before it needs a thread, writes first
    # (api.deps.connection_slot): as many slots as threads, never more than the pool holds
    app.state.connection_slots = Slots(min(pool_capacity(), settings.worker_threads),
                                       settings.write_reserve)
    app.state.sessions = session_factory(app.state.database_url)
    app.state.read_sessions = session_factory(app.state.database_url, read_only=True)
    app.state.async_engine = async_engine(app.state.database_url)
    app.state.async_reads = async_sessionmaker(app.state.async_engine, expire_on_commit=False)
    # the next /ogc page of an anonymous sequential reader, computed while it parses one
    app.state.read_ahead = readahead.ReadAhead(readahead.epoch_of(app.state.read_sessions))
    # What start-up allocated (~180k objects: modules, SQLAlchemy, pandas...) lives as long as
    # the process. Frozen, it is left out of the collector's full passes, which otherwise
    # walked it for ~100 ms every few dozen requests: the p99 of /api/nearby.
    gc.collect()
    gc.freeze()
    # A young generation of 700 objects was collected every few requests, and the oldest
    # generation every few hundred: a nearby request allocates thousands of containers that
    # die with it (rows, features), and each collection walked the other requests' live ones.
    # With 20,000, ~100x fewer collections, ~0.2 ms less of worker CPU per nearby request
    # (docs/benchmarks.md, Nearby); the process's own threshold comes back at shutdown.
    thresholds = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION, *thresholds[1:])
    yield
    gc.set_threshold(*thresholds)
    app.state.engine.dispose()
    await app.state.async_engine.dispose()


def create_app(database_url: str | None = None) -> FastAPI:
    app = FastAPI(
        title="Terreau",
        summary="Food-solidarity resources and cooperation links, territory by territory.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served by api.routers.docs from local assets
        redoc_url=None,
        telemetry=None if app_settings().telemetry else {"tracing": False, "metrics": False, "logs": False},
    )
    app.state.database_url = database_url
    problems.install(app)
    ratelimit.install(app)
    docs.mount(app)  # before /static, which would otherwise shadow /static/swagger
    app.mount("/static", StaticFiles(directory=ROOT / "static"), name="static")
    assets.install(app)  # /static/vendor/{leaflet,font-awesome} from the xstatic wheels
    app.include_router(maps.router)
    app.add_middleware(BodySizeLimit, max_bytes=app_settings().max_body_bytes,
                       larger={"/api/imports": app_settings().max_import_bytes})
    origins = security.cors_origins()
    if origins:  # reading the API from other origins' pages: GET and HEAD only, off by default
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "HEAD"],
                           allow_headers=["Accept", "Accept-Language", "If-None-Match"],
                           expose_headers=["ETag", "Link", "Retry-After"], max_age=600)
    app.add_middleware(security.SecurityHeaders)  # outermost: every answer gets the headers
    # nearby first: each request walks the routers in order until one matches (~5 us each),
    # and /api/nearby is the hottest path; no other router matches its paths, whatever the method
    for module in (nearby, health, docs, territories, resources, links, moderation, tokens, vocab,
                   gap, duplicates, outbox, imports, exports, ogc, tiles, indicators, session,
                   records, link_pages, moderation_page, pages, workshops, workshop_pages):
        app.include_router(module.router)
    app.include_router(resource_pages.router)  # issue 13: resource forms, delete, history
    app.include_router(resource_pages.api_router)  # /api/opening-hours/check
    query.install(app)  # unknown query parameters: 400, on every operation (api.query)
    openapi.install(app)  # the real error responses in /openapi.json
    return app
