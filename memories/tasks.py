import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.db import InterfaceError, OperationalError

from openmemory.errors import EngineUnavailable

logger = logging.getLogger(__name__)


# Transient: a provider or the database away for a while (EngineUnavailable covers DatabaseUnavailable).
TRANSIENT = (EngineUnavailable, SoftTimeLimitExceeded, OperationalError, InterfaceError)


@shared_task(autoretry_for=TRANSIENT, retry_backoff=2, retry_backoff_max=600, retry_jitter=True, max_retries=6,
             acks_late=True, ignore_result=True)
def categorize_memory(memory_id: str, digest: str) -> None:
    from memories.services import BadLLMOutput, memory_categorize  # in-body: services send these tasks

    try:
        memory_categorize(memory_id=memory_id, digest=digest)
    except BadLLMOutput as exc:  # permanent: the memory stays uncategorized
        logger.error("categorization of memory %s failed for good: %s", memory_id, exc.message)


@shared_task(ignore_result=True)
def categorize_uncategorized() -> int:
    from memories.services import memories_categorize_leftovers

    return memories_categorize_leftovers()


@shared_task(ignore_result=True)
def archive_by_policies() -> int:
    from memories.services import memories_archive_by_policies

    return memories_archive_by_policies()


@shared_task(ignore_result=True)
def prune_access_log() -> int:
    from memories.services import memory_access_log_prune

    return memory_access_log_prune()


# Building an index of a user's 100,000 vectors can take minutes: longer than a task's usual limit.
@shared_task(ignore_result=True, soft_time_limit=3600, time_limit=3700)
def sync_vector_indexes() -> str:
    from memories.services import vector_indexes_sync

    done = vector_indexes_sync()
    return f"users' own HNSW indexes: {done['built']} built, {done['dropped']} dropped" if any(done.values()) else ""
