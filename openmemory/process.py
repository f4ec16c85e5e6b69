"""What every process of ours sets up before Django does anything (web, worker, beat, manage.py, the tests): one
place, run once, from openmemory/__init__.py, which asgi, celery and manage.py all import first.

- Environment defaults: the settings module; one BLAS thread per call; mem0 without telemetry.
- glibc's malloc arenas: two (MALLOC_ARENA_MAX to choose).
- `sqlite3` is sqlean's module, which can load sqlite-vec, before Django's SQLite backend binds it.
- Celery's redis:// URLs take our kombu transport (openmemory/broker.py).
- Every log record is masked for secrets (openmemory/logs.py).
- The thread pools the server runs work on, sized together (`pool`).
"""
import ctypes
import functools
import os
import sys
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings

from openmemory.logs import install as install_log_masking

# Threads per pool. A thread that touches the database holds a connection of its own while it works: the MCP pool's
# threads and the request threads together must fit the database pool (settings: DATABASE_POOL_SIZE).
POOLS = {
    # MCP tool calls and logins: not Django's one thread for async code, where 8 clients would queue. Its size is
    # settings.OPENMEMORY_MCP_THREADS, from which PostgreSQL's pool is sized.
    "mcp": None,
    "embed": 8,  # a search's query embedding, beside the thread that runs its keyword query (no connection)
    # The embedded default's categorization after a commit: SQLite takes one writer at a time. Jobs still queued
    # when the process exits normally are run first (concurrent.futures joins its threads at exit).
    "categorize": 1,
}


def prepare() -> None:
    """Idempotent: a second call changes nothing."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openmemory.settings")
    # One BLAS thread per call, before anything imports numpy: a search's matrix product (10,000 x 384) takes 0.2 ms
    # on one thread, and OpenBLAS's own threads, spinning against the server's, made 8 concurrent ones 17 times slower.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("MEM0_TELEMETRY", "False")  # mem0 reads it at import: it would phone home
    _few_malloc_arenas()
    _sqlite_that_loads_extensions()
    _broker_transport()
    install_log_masking()


def _few_malloc_arenas() -> None:
    """glibc gives threads that allocate at the same time arenas of their own (up to 8 per core) and keeps what
    each one held, so a server's memory grew with how many of its threads had once been busy together. Two
    arenas: peak RSS 542 -> 445 MiB in bench/server_bench.py, for 59 -> 50 searches/s with 8 concurrent clients
    (4 arenas: 465 MiB, 51/s)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc
        return
    libc.mallopt(-8, int(os.environ.get("MALLOC_ARENA_MAX", "2")))  # -8: M_ARENA_MAX


def _sqlite_that_loads_extensions() -> None:
    """Many Python builds (pyenv's, python.org's macOS installer) ship a sqlite3 that cannot load extensions at all;
    Django's backend binds `from sqlite3 import dbapi2` when first imported (openmemory/sqlite_backend)."""
    import sqlean

    sys.modules["sqlite3"] = sqlean
    sys.modules["sqlite3.dbapi2"] = sqlean.dbapi2


def _broker_transport() -> None:
    """redis:// URLs get kombu's Redis transport with our fix for a lost connection (openmemory/broker.py)."""
    from kombu.transport import TRANSPORT_ALIASES

    TRANSPORT_ALIASES.update(redis="openmemory.broker:Transport", rediss="openmemory.broker:Transport")


@functools.cache
def pool(name: str) -> ThreadPoolExecutor:
    """This process's pool of that name (POOLS), made on first use (once the settings are loaded)."""
    size = POOLS[name] or settings.OPENMEMORY_MCP_THREADS
    return ThreadPoolExecutor(max_workers=size, thread_name_prefix=name)
