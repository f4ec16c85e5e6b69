"""What an operator scrapes: Prometheus' text format at /metrics (prometheus-client), for staff or a metrics token.

Counted as things happen, in every process: HTTP requests by route and status with their latency, MCP tool calls by
tool, transport and outcome, searches' time, this process's database pool. Read when scraped: the categorization
backlog and its lag, and the Celery queue's depth. With several web processes (the Procfile's `web`) every process
writes its figures to PROMETHEUS_MULTIPROC_DIR and a scrape, whichever process answers it, sums them all.
"""
import os

from django.conf import settings
from django.db import connections
from django.utils import timezone
from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram,
                               generate_latest, multiprocess)
from prometheus_client.core import GaugeMetricFamily

from memories.models import Memory

_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUESTS = Counter("openmemory_http_requests", "HTTP requests answered, by route (the URL pattern's name: no ids), "
                   "method and status.", ["route", "method", "status"])
REQUEST_SECONDS = Histogram("openmemory_http_request_duration_seconds", "Time to answer an HTTP request, by route "
                            "and method (an SSE stream: how long it stayed open).", ["route", "method"],
                            buckets=_LATENCY)
TOOL_CALLS = Counter("openmemory_mcp_tool_calls", "MCP tool calls, by tool, transport (http, sse, ws) and outcome "
                     "(ok, error: the tool answered an error).", ["tool", "transport", "outcome"])
TOOL_SECONDS = Histogram("openmemory_mcp_tool_call_duration_seconds", "Time of an MCP tool call in the server.",
                         ["tool", "transport"], buckets=_LATENCY)
SEARCH_SECONDS = Histogram("openmemory_search_duration_seconds", "Time of one search in the engine (the query's "
                           "embedding, the vector and keyword legs, the access rules, fusion): REST and MCP searches.",
                           buckets=_LATENCY)
POOL_IN_USE = Gauge("openmemory_db_pool_connections_in_use", "PostgreSQL: connections of this process's pool in use "
                    "(summed over live processes).", multiprocess_mode="livesum")
POOL_SIZE = Gauge("openmemory_db_pool_connections", "PostgreSQL: connections the pool holds now.",
                  multiprocess_mode="livesum")
POOL_WAITING = Gauge("openmemory_db_pool_requests_waiting", "PostgreSQL: requests waiting for a connection now.",
                     multiprocess_mode="livesum")


def request_done(*, route: str, method: str, status, seconds: float) -> None:
    REQUESTS.labels(route, method, str(status)).inc()
    REQUEST_SECONDS.labels(route, method).observe(seconds)
    _pool_figures()


def tool_call_done(*, tool: str, transport: str, ok: bool, seconds: float) -> None:
    TOOL_CALLS.labels(tool, transport, "ok" if ok else "error").inc()
    TOOL_SECONDS.labels(tool, transport).observe(seconds)


def _pool_figures() -> None:
    pool = getattr(connections["default"], "pool", None) if connections["default"].vendor == "postgresql" else None
    if pool is None:
        return
    stats = pool.get_stats()
    POOL_SIZE.set(stats.get("pool_size", 0))
    POOL_IN_USE.set(stats.get("pool_size", 0) - stats.get("pool_available", 0))
    POOL_WAITING.set(stats.get("requests_waiting", 0))


class _Backlog:
    """Read at scrape time, from the database and the broker (a few indexed reads)."""

    def collect(self):
        waiting = Memory.objects.live().filter(categorized_at__isnull=True)
        oldest = waiting.order_by("created_at").values_list("created_at", flat=True).first()
        yield GaugeMetricFamily("openmemory_uncategorized_memories", "Live memories not categorized yet.",
                                value=waiting.count())
        yield GaugeMetricFamily("openmemory_categorization_lag_seconds", "Age of the oldest live memory not "
                                "categorized yet (0: none waits).",
                                value=(timezone.now() - oldest).total_seconds() if oldest else 0.0)
        if settings.REDIS_URL:
            yield GaugeMetricFamily("openmemory_celery_queue_length", "Tasks waiting in Celery's queue (Redis).",
                                    value=_queue_length())


def _queue_length() -> float:
    import redis

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
        return float(client.llen("celery"))
    except redis.RedisError:
        return float("nan")  # Redis away: no figure, rather than a false zero


class _ThisProcess:
    """One process (no PROMETHEUS_MULTIPROC_DIR): its own figures, as prometheus-client keeps them."""

    def collect(self):
        yield from REGISTRY.collect()


def exposition() -> tuple[bytes, str]:
    """(the text a scrape gets, its content type)."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # every process's files, summed
    else:
        registry.register(_ThisProcess())
    registry.register(_Backlog())
    return generate_latest(registry), CONTENT_TYPE_LATEST
