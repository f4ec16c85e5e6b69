"""The periodic jobs of the server itself (CELERY_BEAT_SCHEDULE; in the web process on the embedded default)."""
from celery import shared_task

from openmemory.services import oauth_clients_unused_delete


@shared_task(ignore_result=True)
def oauth_clients_cleanup() -> int:
    return oauth_clients_unused_delete()
