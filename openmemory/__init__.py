from openmemory.process import prepare

prepare()  # before anything imports numpy, Django's SQLite backend or Celery: see openmemory/process.py

from openmemory.celery import app as celery_app  # noqa: E402

__all__ = ("celery_app",)
