"""Whether the services this server depends on answer: for /healthz and the admin's home."""
import logging

from django.conf import settings
from django.db import connection

from openmemory.celery import app as celery_app
from openmemory.errors import pool_exhausted

logger = logging.getLogger(__name__)


def database_state() -> str:
    """"ok"; "busy" when this process's connections are all in use (the database answers others); "down"."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:
        if pool_exhausted(exc):
            logger.warning("health: every database connection of this process is in use")
            return "busy"
        logger.warning("health: database down: %s", exc)
        return "down"



def redis_ok() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2).ping())
    except Exception as exc:
        logger.warning("health: redis down: %s", exc)
        return False


def workers_answering(timeout: float = 1.0) -> int:
    """How many Celery workers answer a ping through the broker (ask when redis_ok(): 0 when none answers)."""
    try:
        return len(celery_app.control.ping(timeout=timeout) or [])
    except Exception as exc:
        logger.warning("health: worker ping failed: %s", exc)
        return 0
