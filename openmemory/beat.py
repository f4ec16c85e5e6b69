"""Periodic jobs. The embedded default's beat: with no broker there is no Celery beat, so the web process runs the
periodic jobs itself (CELERY_BEAT_SCHEDULE, the same tasks in process): categorization lost with a killed process is
queued again, archive policies are applied. Started by openmemory/asgi.py, never by manage.py or a worker. And with a
broker, Celery beat's scheduler (Scheduler)."""
import logging
import threading
import time

from celery.beat import PersistentScheduler
from django.conf import settings
from django.db import close_old_connections

from openmemory.celery import app

logger = logging.getLogger(__name__)
_started = threading.Event()


def start_in_process_beat() -> None:
    """Once per process, and only where no Celery beat runs (no REDIS_URL)."""
    if settings.REDIS_URL or not settings.OPENMEMORY_IN_PROCESS_BEAT or _started.is_set():
        return
    _started.set()
    threading.Thread(target=_run, name="beat", daemon=True).start()


def _run() -> None:
    app.loader.import_default_modules()  # every app's tasks module (a worker does this when it starts)
    schedule = {entry["task"]: float(entry["schedule"]) for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    due = {task: time.monotonic() + every for task, every in schedule.items()}
    while True:
        task = min(due, key=due.get)
        time.sleep(max(0.0, due[task] - time.monotonic()))
        close_old_connections()
        try:
            # Called as a function: no "task succeeded" line every 30 s in the server's log; a line when it did work.
            if done := app.tasks[task]():
                logger.info("periodic job %s: %s", task, done)
        except Exception as exc:  # tried again at its next turn: the thread must outlive a database outage
            logger.warning("periodic job %s failed (%s: %s); it runs again in %.0f s", task, type(exc).__name__,
                           str(exc).splitlines()[0] if str(exc) else "", schedule[task])
        finally:
            close_old_connections()
        due[task] = time.monotonic() + schedule[task]


class Scheduler(PersistentScheduler):
    """Celery beat's scheduler (CELERY_BEAT_SCHEDULER), but a job it cannot send while the broker is away is one
    warning line, not an error with two stacks: it is sent at its next turn."""

    def apply_entry(self, entry, producer=None):
        try:
            self.apply_async(entry, producer=producer, advance=False)
        except Exception as exc:  # the broker away: kombu's and redis' errors alike
            logger.warning("beat: %s not sent (%s: %s); it is sent at its next turn", entry.name, type(exc).__name__,
                           str(exc)[:200])
