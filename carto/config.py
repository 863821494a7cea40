"""Settings, one class per concern, read from the environment (and `.env` when present)."""

from functools import lru_cache

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5433/terreau"


class DatabaseSettings(BaseSettings):
    """Where PostGIS is. `postgresql://` URLs are accepted and given the psycopg 3 driver."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    pool_size: int = 20
    # Connections beyond `pool_size` under a burst (None: as many again), and how long a request
    # waits for one before it is answered 503 (api.problems).
    pool_overflow: int | None = None
    pool_timeout: float = 30
    # Connections of the event-loop engine (`carto.db.async_engine`, used by /api/nearby):
    # they bound the statements in flight; on two cores 8 gave the most requests/s (4: 690,
    # 8: 715, 16: 655). A request that waits longer than `async_pool_timeout` s is a 503.
    async_pool_size: int = 8
    async_pool_timeout: float = 10
    echo_sql: bool = False

    @field_validator("database_url")
    @classmethod
    def _use_psycopg3(cls, value: str) -> str:
        for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value


class MapSettings(BaseSettings):
    """Basemap tiles are the only thing a page may fetch from outside the app."""

    model_config = SettingsConfigDict(env_prefix="TERREAU_MAP_", env_file=".env", extra="ignore")

    tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    tile_attribution: str = (
        '&copy; <a href="https://www.openstreetmap.org/copyright">contributeurs OpenStreetMap</a>'
    )
    embed_limit: int = 2000


class AppSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TERREAU_", env_file=".env", extra="ignore")

    default_lang: str = "fr"
    max_body_bytes: int = 1_000_000
    # POST /api/imports takes files: 100,000 rows of a spreadsheet weigh about 10 MB.
    max_import_bytes: int = 50_000_000
    # Threads running the (synchronous) request handlers of one worker. Few is faster: with 40
    # (anyio's default) the threads fight for the GIL; 8 keep PostgreSQL busy while Python
    # works (docs/benchmarks.md, Nearby). Keep it at most the database pool size.
    worker_threads: int = 8
    # Of those threads, how many reads never take (api.deps.Slots): a crowd of readers cannot
    # make a write wait behind it. Reads wait behind every write and hold at most
    # `worker_threads - write_reserve` threads (bench/workshop.py, docs/benchmarks.md).
    write_reserve: int = 2
    # FastAPI's built-in OpenTelemetry. Off unless asked for: when on but unconfigured it still
    # looks the global providers up in the environment on every request (~3 % of a nearby
    # request's Python time). TERREAU_TELEMETRY=true uses the global OTel providers.
    telemetry: bool = False
    # The address people open, e.g. https://terreau.example: sign-in links (`carto token
    # create --link`; /admin/tokens uses the request's own address instead) and the links of a
    # downloaded offline map ("Voir la fiche", "Ouvrir dans Terreau"), left out when unset.
    public_url: str = ""



class GapSettings(BaseSettings):
    """How much work one gap request may ask for (issue 10 §5). A drawn perimeter is checked
    before any SQL runs; beyond these, analyse a territory or a list of communes instead. The
    defaults hold a department (Hérault: 6,101 km², 342 communes) with room to spare."""

    model_config = SettingsConfigDict(env_prefix="TERREAU_GAP_", env_file=".env", extra="ignore")

    max_area_km2: float = 10_000.0  # geodesic area of a drawn polygon
    max_span_km: float = 300.0  # the larger side of its bounding box
    max_vertices: int = 10_000  # positions of all its rings together
    max_radius_km: float = 200.0  # the catchment around any perimeter
    max_communes: int = 1_500  # a commune list, or the communes of a choropleth request


class RateLimitSettings(BaseSettings):
    """How often a client may ask for costly work, in the `limits` library's notation
    ("20/minute", "5 per 10 seconds"). Counted per client address (the token when one is
    given), in this process's memory unless `storage_uri` names a shared store (one counter
    per worker otherwise). Behind a reverse proxy, run uvicorn with --proxy-headers so that
    the client address is the caller's, not the proxy's."""

    model_config = SettingsConfigDict(env_prefix="TERREAU_RATE_", env_file=".env",
                                      extra="ignore")

    enabled: bool = True
    gap: str = "30/minute"  # every gap analysis: JSON, CSV, choropleth, the page
    nearby: str = "600/minute"  # cheap (about 10 ms) but anonymous and scriptable
    failed_tokens: str = "10/minute"  # wrong bearer tokens; past it, every token is refused
    # Workshops (issue 14): joining is anonymous, counted per address; a village hall's tablets
    # share one, so the limit holds a room of thirty joining at once. Votes count per token.
    workshop_join: str = "60/minute"
    workshop_vote: str = "30/minute"
    storage_uri: str = "memory://"
    # At most this many gap computations at once per process; the others wait on the event
    # loop (holding no worker thread) up to `gap_wait_s`, then get a 503 with Retry-After.
    gap_concurrency: int = 2
    gap_wait_s: float = 10.0


class SecuritySettings(BaseSettings):
    """Who may frame the embeddable map and read the API from another origin (api.security)."""

    model_config = SettingsConfigDict(env_prefix="TERREAU_", env_file=".env", extra="ignore")

    # CSP frame-ancestors of /territories/{slug}/map.html, the map made for iframes: `*`
    # (anywhere, the default), or e.g. "'self' https://www.mairie.example"; other pages 'self'.
    embed_ancestors: str = "*"
    # Origins allowed to read the API (GET and HEAD only) from a browser, comma-separated, or
    # `*`; empty (the default) sends no CORS header at all.
    cors_origins: str = ""

@lru_cache
def database_settings() -> DatabaseSettings:
    return DatabaseSettings()


@lru_cache
def map_settings() -> MapSettings:
    return MapSettings()


@lru_cache
def app_settings() -> AppSettings:
    return AppSettings()


@lru_cache
def gap_settings() -> GapSettings:
    return GapSettings()


@lru_cache
def rate_limit_settings() -> RateLimitSettings:
    return RateLimitSettings()


@lru_cache
def security_settings() -> SecuritySettings:
    return SecuritySettings()
