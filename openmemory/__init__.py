import ctypes
import os

# One BLAS thread per call, before anything imports numpy: a search's matrix product (10,000 x 384) takes 0.2 ms on
# one thread, and OpenBLAS's own threads, spinning against the server's threads, made 8 concurrent ones 17 times
# slower each. The server's concurrency comes from its threads and processes instead.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _few_malloc_arenas() -> None:
    """glibc gives threads that allocate at the same time arenas of their own (up to 8 per core) and keeps what
    each one held, so a server's memory grew with how many of its threads had once been busy together. Two
    arenas (MALLOC_ARENA_MAX to choose): peak RSS 542 -> 445 MiB in bench/server_bench.py, for 59 -> 50
    searches/s with 8 concurrent clients (4 arenas: 465 MiB, 51/s)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc
        return
    libc.mallopt(-8, int(os.environ.get("MALLOC_ARENA_MAX", "2")))  # -8: M_ARENA_MAX


_few_malloc_arenas()

from openmemory.celery import app as celery_app  # noqa: E402

__all__ = ("celery_app",)
