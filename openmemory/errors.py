"""Our error classes: raised by services, selectors, tasks and MCP tools alike; no DRF here.

The DRF exception handler (openmemory/exceptions.py) and the MCP tool wrapper translate them.
"""
import logging

from django.db import connections

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    status_code, code = 400, "invalid"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(ApplicationError):
    status_code, code = 404, "not_found"


class AccessDenied(ApplicationError):
    status_code, code = 403, "access_denied"


class AppPaused(AccessDenied):
    code = "app_paused"


class MisdirectedRequest(ApplicationError):
    """A Host header this server does not answer to."""

    status_code, code = 421, "misdirected_request"


class Conflict(ApplicationError):
    status_code, code = 409, "conflict"


class PayloadTooLarge(ApplicationError):
    status_code, code = 413, "too_large"


class EngineUnavailable(ApplicationError):
    """A dependency (embedder, LLM, vector store) failed in a way that may pass: retry later."""

    status_code, code = 503, "engine_unavailable"


class DatabaseUnavailable(EngineUnavailable):
    """The database did not answer (down, restarting, or locked past the wait): retry in a few seconds."""

    status_code, code = 503, "database_unavailable"
    retry_after = 5

    def __init__(self, message: str = "The database is unavailable right now; try again in a few seconds."):
        super().__init__(message)


class NotAuthenticated(ApplicationError):
    status_code, code = 401, "not_authenticated"


class DatabaseBusy(DatabaseUnavailable):
    """Every connection of this process's pool was in use for the whole wait: the database is up, the process is
    saturated. It passes with the burst."""

    retry_after = 1

    def __init__(self):
        super().__init__("The server is busy (every database connection is in use); try again in a second.")


def pool_exhausted(exc: BaseException) -> bool:
    """Whether a database error is the connection pool's wait running out while every one of its connections was
    in use (the database answers; this process is saturated), not a database that does not answer: then the pool
    times out too, but with fewer connections than it may hold (the broken ones are gone)."""
    while exc is not None and type(exc).__name__ != "PoolTimeout":
        exc = exc.__cause__ or exc.__context__
    if exc is None:
        return False
    pool = getattr(connections["default"], "pool", None) if connections["default"].vendor == "postgresql" else None
    stats = pool.get_stats() if pool is not None else {}
    return bool(stats) and stats.get("pool_size", 0) >= stats.get("pool_max", 1) and not stats.get("pool_available")


def database_unavailable(exc: Exception) -> DatabaseUnavailable:
    """A database error that will pass (down, restarting, locked, or every connection in use): 503 with Retry-After;
    the SQL stays in the log."""
    logger.warning("database unavailable: %s: %s", type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
    return DatabaseBusy() if pool_exhausted(exc) else DatabaseUnavailable()
