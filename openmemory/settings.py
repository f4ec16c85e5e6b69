"""One settings module, driven by the environment (django-environ); `.env.example` documents every variable.

The defaults give the embedded install: a SQLite file in the data directory, no Redis, tasks run in
process, an in-memory Channels layer. Production sets DATABASE_URL, REDIS_URL, SECRET_KEY, ALLOWED_HOSTS.
"""
import os
import secrets
import warnings
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

import openmemory


BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)  # the real environment wins

# An empty value (as a copied .env.example has) means unset; a relative path is relative to the project.
DATA_DIR = (BASE_DIR / (env.str("OPENMEMORY_DATA_DIR", default="") or "data")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=False)


def _secret_key() -> str:
    """SECRET_KEY from the environment, else the key file a local install generated once."""
    if key := env.str("SECRET_KEY", default=""):
        return key
    key_file = DATA_DIR / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    if not (DEBUG or env.bool("OPENMEMORY_CREATE_SECRET_KEY", default=False)):
        raise ImproperlyConfigured(
            f"SECRET_KEY is not set and {key_file} does not exist. Set SECRET_KEY, or run `make run` "
            "once (or set OPENMEMORY_CREATE_SECRET_KEY=true) to generate a key file for a local install."
        )
    key = secrets.token_urlsafe(50)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Behind TLS (production): set these and `manage.py check --deploy` has nothing to warn about. Off by default:
# a local install serves plain HTTP on 127.0.0.1.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # a load balancer's health check may come over plain HTTP
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
# "HTTP_X_FORWARDED_PROTO,https" when a proxy terminates TLS and says so in that header.
SECURE_PROXY_SSL_HEADER = tuple(env.list("SECURE_PROXY_SSL_HEADER", default=[])) or None

INSTALLED_APPS = [
    "whitenoise.runserver_nostatic",
    "openmemory.apps.OpenMemoryAdminConfig",  # Django's admin, with the system's health on its home
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular_sidecar",
    "drf_spectacular",
    "channels",
    "openmemory",
    "memories",
    "apps_registry",
    "stats",
    "mcp_bridge",
    "oauth2_provider",  # after ours: openmemory's templates (login, consent, connected clients) come first
    "axes",  # failed sign-ins counted, per account and per address
]

MIDDLEWARE = [
    "openmemory.middleware.RequestLogMiddleware",
    "openmemory.middleware.DatabaseOutageMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # answers a locked-out sign-in with the page that says when to try again
]

ROOT_URLCONF = "openmemory.urls"
# A JSON request body may be 4 MB, as an MCP message may (413 over it); a backup is uploaded as a file.
DATA_UPLOAD_MAX_MEMORY_SIZE = 4 * 2**20
APPEND_SLASH = False  # the API accepts paths with and without the trailing slash itself
ASGI_APPLICATION = "openmemory.asgi.application"
WSGI_APPLICATION = "openmemory.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: a SQLite file in the data directory unless DATABASE_URL names another (postgres://...).
# Threads per process that run MCP work (who a request is, tool calls): each holds a database connection while it
# works and gives it back when done (mcp_bridge/identity.py). PostgreSQL's pool is sized from it.
OPENMEMORY_MCP_THREADS = env.int("OPENMEMORY_MCP_THREADS", default=8)
DATABASES = {"default": env.db_url_config(env.str("DATABASE_URL", default="")
                                           or f"sqlite:///{DATA_DIR / 'openmemory.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["ENGINE"] = "openmemory.sqlite_backend"
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # WAL lets the web server, workers and manage.py read while one writes; IMMEDIATE takes the
            # write lock at BEGIN, so two writers queue on the timeout instead of failing with "locked".
            # A page cache of 4 MB per connection: under load a process holds one connection per busy thread
            # (17 with 16 clients creating), searches read vectors from the process's copy, not pages, and the
            # OS caches the file anyway (bench/server_bench.py: peak RSS; 16 MB bought no measurable speed).
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
            "PRAGMA cache_size=-4096;",
            "transaction_mode": "IMMEDIATE",
            # Seconds a writer waits for the write lock; past it the request answers 503 with Retry-After.
            "timeout": env.float("SQLITE_BUSY_TIMEOUT", default=20),
            # Open connections kept for the next request (openmemory/sqlite_backend): no connect per request, and
            # a bounded number of page caches whatever the number of threads.
            "pool": env.int("SQLITE_POOL_SIZE", default=4),
        }
    )
    DATABASES["default"].setdefault("TEST", {})["NAME"] = str(DATA_DIR / "test.sqlite3")
else:
    # A pool per process, bounded whatever the concurrency: under ASGI each request runs in a thread of its own,
    # and persistent per-thread connections pile up (98 of PostgreSQL's 100 after one burst). A connection
    # goes back to the pool at the end of each request; a broken one (PostgreSQL restarted) is replaced on
    # checkout. Size: processes x DATABASE_POOL_SIZE (+ Celery's processes) < PostgreSQL's max_connections.
    # While the database is down a request waits DATABASE_POOL_TIMEOUT, then answers 503; the pool gives up a
    # failing reconnection after a second, so the next request tries again at once: back within a second.
    # The MCP threads (OPENMEMORY_MCP_THREADS) each hold a connection while they work: the pool has room for all of
    # them and for REST requests beside (the README's production sizing); a request that still finds none in time
    # answers 503 "busy" with Retry-After: 1, and the connections come back as soon as the burst is over.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1, "max_size": env.int("DATABASE_POOL_SIZE", default=OPENMEMORY_MCP_THREADS + 4),
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=3), "reconnect_timeout": 1,
    }
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# No persistent connections: under ASGI they would be per request thread (Django's docs advise against them);
# PostgreSQL reuses connections through the pool above.
DATABASES["default"]["CONN_MAX_AGE"] = 0
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # with the pool: a connection is checked as it is taken
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: optional. Set, it carries Celery's broker and the Channels layer; unset, tasks run in process.
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"  # never used when eager; named so kombu does not warn
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis away: a write's task is given up quickly (the write has committed; the leftover job categorizes it
# within a minute of Redis's return), and the worker keeps trying to reconnect however long it takes.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=90)
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULER = "openmemory.beat:Scheduler"  # a job not sent while Redis is away: a warning line
CELERY_BEAT_SCHEDULE = {
    "archive-by-policies": {"task": "memories.tasks.archive_by_policies", "schedule": 3600.0},
    "access-log-retention": {"task": "memories.tasks.prune_access_log", "schedule": 3600.0},
    # PostgreSQL: an HNSW index of their own for users with many memories (OPENMEMORY_OWN_VECTOR_INDEX_AT).
    "vector-indexes": {"task": "memories.tasks.sync_vector_indexes", "schedule": 3600.0},
    "oauth-clients-cleanup": {"task": "openmemory.tasks.oauth_clients_cleanup",
                              "schedule": env.float("OAUTH_CLEANUP_EVERY", default=3600.0)},
    # Memories written while the broker was down, or whose task died with its process: queued again.
    "categorize-leftovers": {"task": "memories.tasks.categorize_uncategorized",
                             "schedule": env.float("OPENMEMORY_LEFTOVERS_EVERY", default=30.0)},
}

if REDIS_URL:
    # channels_redis blocks 5 s in BRPOP: its socket must wait longer than that (redis-py's default is 5 s).
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {
        "hosts": [{"address": REDIS_URL, "socket_timeout": 30, "socket_connect_timeout": 5}]}}}
    # The cache (the API's rate limits) fails fast when Redis is away: a request waits 1 s at most for it.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                          "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# The admin's CSS and JS straight from the installed apps: no collectstatic step for a local install.
WHITENOISE_USE_FINDERS = True
# WhiteNoise hands Django a file iterator; under ASGI Django warns on each one, harmlessly.
warnings.filterwarnings("ignore", message="StreamingHttpResponse must consume synchronous iterators")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "openmemory.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
        "openmemory.authentication.LocalNoAuthentication",  # does nothing unless OPENMEMORY_LOCAL_NO_AUTH
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "openmemory.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "openmemory.exceptions.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["openmemory.parsers.JSONParser"],  # the import view adds multipart itself
    "UNAUTHENTICATED_USER": None,
    # Per user (each token acts as one user): one client cannot starve the rest. 429 with Retry-After.
    "DEFAULT_THROTTLE_CLASSES": ["openmemory.throttling.ApiUserThrottle"],
    # \uXXXX escapes in JSON: text a client sent with a lone surrogate can never break an answer.
    "UNICODE_JSON": False,
}
API_THROTTLE_RATE = env.str("API_THROTTLE_RATE", default="1200/min")

# MCP clients connect by OAuth 2.1 (the MCP authorization spec): django-oauth-toolkit is the authorization server;
# people sign in with Django's login and approve each client once. Static API tokens keep working beside it.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/dashboard/"  # signed in without an OAuth request under way: the user's own pages
LOGOUT_REDIRECT_URL = "login"
OAUTH2_PROVIDER = {
    "SCOPES": {"memories": "read and write your memories"},
    "DEFAULT_SCOPES": ["memories"],
    "PKCE_REQUIRED": True,
    # RFC 9700: S256 only, no implicit or password grant, and what the metadata advertises says so.
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,  # OAuth tokens in headers only (?token= is for API tokens)
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,  # RFC 9207: the issuer named in the authorization response
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,  # tokens stored hashed
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "refresh_token"],
    "OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": ["none", "client_secret_basic", "client_secret_post"],
    # Dynamic client registration (RFC 7591) open to any client, as MCP clients register themselves; what a
    # client registers is checked by openmemory.oauth.ClientRegistration (http only for loopback).
    "DCR_ENABLED": True,
    "DCR_REGISTRATION_PERMISSION_CLASSES": ("oauth2_provider.dcr.AllowAllDCRPermission",),
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"],
    "ALLOW_LOCALHOST_LOOPBACK": True,  # RFC 8252: a CLI client's loopback redirect may use any port
    "ACCESS_TOKEN_EXPIRE_SECONDS": env.int("OAUTH_ACCESS_TOKEN_SECONDS", default=3600),
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,  # a refresh token used twice revokes the whole family
    "REFRESH_TOKEN_EXPIRE_SECONDS": 60 * 60 * 24 * 90,
    "REQUEST_APPROVAL_PROMPT": "auto",  # consent remembered per client while it holds a valid token
    "OAUTH2_PROTECTED_RESOURCE_NAME": "OpenMemory MCP",
    # Client ID Metadata Documents (MCP 2026-07-28's preferred registration): a client whose client_id is an https
    # URL is described by the document there (openmemory.oauth.MetadataFetcher). Dynamic registration stays.
    "CIMD_ENABLED": True,
    "CIMD_METADATA_FETCHER": "openmemory.oauth.MetadataFetcher",
    "CIMD_FETCH_TIMEOUT_SECONDS": env.float("OAUTH_CIMD_FETCH_TIMEOUT", default=5.0),
}
# Hosts whose client metadata documents may be served from private addresses (an intranet); all others: public only.
OAUTH_CIMD_PRIVATE_HOSTS = env.list("OAUTH_CIMD_PRIVATE_HOSTS", default=[])
# Sign-in (/accounts/login/, /admin/login/) with django-axes: after LOGIN_FAILURE_LIMIT wrong passwords for one
# account, or from one address, that account or address is refused for LOGIN_LOCKOUT_MINUTES (429, a page that
# says when to try again), even with the right password. Behind a proxy, the address is the one uvicorn's
# --proxy-headers take from X-Forwarded-For.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # failures only: no row per successful sign-in
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# Client registrations one address may make (the token endpoint and sign-in have their own limits).
OAUTH_REGISTRATION_RATE = env.str("OAUTH_REGISTRATION_RATE", default="20/hour")
# A registered client that never got a token is removed after this long (beat; the web process on the default).
OAUTH_UNUSED_CLIENT_HOURS = env.int("OAUTH_UNUSED_CLIENT_HOURS", default=24)
# RFC 9700 warns of http redirect URIs; RFC 8252's loopback callbacks (what CLI clients use) need them, and
# registration (openmemory.oauth.ClientRegistration) allows http for loopback addresses only.
SILENCED_SYSTEM_CHECKS = ["oauth2_provider.W008"]

SPECTACULAR_SETTINGS = {
    "TITLE": "OpenMemory (Django)",
    "DESCRIPTION": "A self-hostable memory server for AI assistants: OpenMemory's REST API, with tokens.",
    "VERSION": openmemory.__version__,
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],  # the docs hold no data: readable without a token
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and Redoc from this server (drf-spectacular-sidecar's static files), never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])  # closed unless listed

# OpenMemory clients send no credentials; this lets requests from 127.0.0.1 act as the user they name.
OPENMEMORY_LOCAL_NO_AUTH = env.bool("OPENMEMORY_LOCAL_NO_AUTH", default=False)
# The local user of a personal install (`make run` creates it): who a tokenless local request that names no
# user acts as, in OPENMEMORY_LOCAL_NO_AUTH mode.
OPENMEMORY_USER = env.str("OPENMEMORY_USER", default="")


# The memory engine (see memories/engine.py); the Config row in the database layers over these.
OPENMEMORY_DUPLICATE_THRESHOLD = env.float("OPENMEMORY_DUPLICATE_THRESHOLD", default=0.95)
OPENMEMORY_MAX_MEMORY_CHARS = env.int("OPENMEMORY_MAX_MEMORY_CHARS", default=10_000)
# SQLite: vectors each process keeps in memory for search (384 floats each: 500,000 is about 770 MB).
OPENMEMORY_VECTOR_CACHE_MAX = env.int("OPENMEMORY_VECTOR_CACHE_MAX", default=500_000)
# The largest memories.json a backup import inflates (and parses): bounds the memory an import can take.
OPENMEMORY_IMPORT_MAX_BYTES = env.int("OPENMEMORY_IMPORT_MAX_MB", default=128) * 2**20
OPENMEMORY_LLM_TIMEOUT = env.float("OPENMEMORY_LLM_TIMEOUT", default=30.0)
OPENMEMORY_CATEGORY_THRESHOLD = env.float("OPENMEMORY_CATEGORY_THRESHOLD", default=0.25)
# /metrics (Prometheus) for a scraper that sends it as a Bearer token; staff signed in read it without. Empty: staff only.
OPENMEMORY_METRICS_TOKEN = env.str("OPENMEMORY_METRICS_TOKEN", default="")
# How long the access log (every read of a memory, by which app) is kept; 0: for ever. Pruned hourly.
OPENMEMORY_ACCESS_LOG_DAYS = env.int("OPENMEMORY_ACCESS_LOG_DAYS", default=90)
# PostgreSQL: a user with this many vectors gets an HNSW index of their own (built by beat's hourly job); fewer are
# searched exactly through the owner's index. 0: none.
OPENMEMORY_OWN_VECTOR_INDEX_AT = env.int("OPENMEMORY_OWN_VECTOR_INDEX_AT", default=5000)
# The environment variables the engine's configuration may read as "env:NAME", beside every *_API_KEY.
OPENMEMORY_CONFIG_ENV = env.list("OPENMEMORY_CONFIG_ENV", default=[])
# Without REDIS_URL the web process runs beat's periodic jobs itself (openmemory/beat.py); false: nobody does.
OPENMEMORY_IN_PROCESS_BEAT = env.bool("OPENMEMORY_IN_PROCESS_BEAT", default=True)
# Seconds after which a queued categorization that never ran is queued again (its process died with it).
OPENMEMORY_CATEGORIZE_REQUEUE_AFTER = env.int("OPENMEMORY_CATEGORIZE_REQUEUE_AFTER", default=300)
# Without a broker: categorize in a thread of the web process (true), or in the request's thread after it commits.
OPENMEMORY_CATEGORIZE_IN_BACKGROUND = env.bool("OPENMEMORY_CATEGORIZE_IN_BACKGROUND", default=True)
# mem0 reads this at import: its files in DATA_DIR (telemetry is off: openmemory/process.py).
os.environ.setdefault("MEM0_DIR", str(DATA_DIR / "mem0"))

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"line": {"()": "openmemory.logs.RedactingFormatter",
                            "format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "line"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Our middleware writes the one line per request; the servers' own access lines carry raw query
        # strings (MCP clients may pass ?token=), so they stay quiet.
        "django.server": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
        # The servers' own loggers write through our handler (their lines are redacted like ours).
        "uvicorn": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "uvicorn.access": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "daphne": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "daphne.access": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
        "mem0": {"level": "ERROR"},
        "axes.apps": {"level": "WARNING"},  # its version line in every process and command
        "mcp": {"level": "WARNING"},  # the SDK logs every stateless request at INFO
    },
}
