from openmemory.process import prepare

__version__ = "0.2.0"  # what /api/schema/ and MCP's serverInfo report

prepare()  # before anything imports numpy, Django's SQLite backend or Celery: see openmemory/process.py

from openmemory.celery import app as celery_app  # noqa: E402

__all__ = ("__version__", "celery_app")
