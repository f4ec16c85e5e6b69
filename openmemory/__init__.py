import os

# One BLAS thread per call, before anything imports numpy: a search's matrix product (10,000 x 384) takes 0.2 ms on
# one thread, and OpenBLAS's own threads, spinning against the server's threads, made 8 concurrent ones 17 times
# slower each. The server's concurrency comes from its threads and processes instead.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from openmemory.celery import app as celery_app  # noqa: E402

__all__ = ("celery_app",)
