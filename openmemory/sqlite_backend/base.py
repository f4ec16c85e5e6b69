"""Django's SQLite backend on sqlean (a drop-in sqlite3 that may load extensions), with sqlite-vec loaded, and a
small pool of open connections per process.

Many Python builds (pyenv's, python.org's macOS installer) ship a sqlite3 module that cannot load
extensions at all, so the embedded vector store cannot rely on the standard library's module.

The pool: under ASGI every request (and every MCP tool call) runs in a thread of its own, and Django opens a
connection per thread and closes it at the end (CONN_MAX_AGE=0). Opening one costs about 1.2 ms (the file,
the PRAGMAs, sqlite-vec, Django's functions), and one kept per thread holds its own page cache: memory that
grows with the number of threads. Here a closed connection goes back to a bounded list of idle ones instead,
rolled back if it was left in a transaction, and the next thread takes it as it is (OPTIONS["pool"]: how
many are kept idle; 0 turns the pool off).

The write gate: SQLite has one write lock per database, and a writer that finds it taken sleeps in SQLite's busy
handler (1, 2, 5 ... 50, 100 ms at a time) and tries again; whoever happens to try just after a commit wins. Eight
clients creating at once then waited in a lottery: a p95 eight times the median. Within a process, write
transactions (BEGIN IMMEDIATE) first take the process's gate, first come, first served, and a thread waiting at it
goes on the moment the one before commits; only writers of other processes (a worker, manage.py) still meet the
busy handler.

The query planner needs statistics: without them SQLite reads every one of a user's rows to check 60 ids. A new
connection runs `PRAGMA optimize=0x10002` (SQLite's advice for long-lived connections: it analyzes the tables
that were never analyzed or that grew 25-fold since), and so does a returning one every OPTIMIZE_EVERY seconds.
"""
import collections
import logging
import os
import threading
import time

import sqlite_vec

import openmemory  # noqa: F401  (sqlite3 is sqlean's before Django's backend binds it: openmemory/process.py)
from django.db import OperationalError
from django.db.backends.sqlite3 import base as sqlite_base

logger = logging.getLogger(__name__)
OPTIMIZE_EVERY = 300  # seconds
OPTIMIZE = "PRAGMA optimize=0x10002"


def _optimize(connection) -> None:
    """PRAGMA optimize, if the write lock is free now: writing statistics needs it, and a wait here would be one
    outside the write gate. Busy or locked: the statistics wait for the next turn; the connection is fine."""
    (timeout,) = connection.execute("PRAGMA busy_timeout").fetchone()
    connection.execute("PRAGMA busy_timeout = 0")
    try:
        connection.execute(OPTIMIZE)
    except sqlite_base.Database.Error as exc:
        logger.info("PRAGMA optimize skipped: %s", exc)
    finally:
        connection.execute(f"PRAGMA busy_timeout = {int(timeout)}")


class _Pool:
    def __init__(self, size: int):
        self.size, self.idle, self.lock = size, [], threading.Lock()
        self.optimized_at = time.monotonic()

    def take(self):
        with self.lock:
            return self.idle.pop() if self.idle else None

    def give(self, connection) -> bool:
        """Keep the connection for the next thread; False when enough are kept already (the caller closes it)."""
        if connection.in_transaction:
            connection.rollback()
        if time.monotonic() - self.optimized_at > OPTIMIZE_EVERY:
            self.optimized_at = time.monotonic()
            _optimize(connection)
        with self.lock:
            if len(self.idle) >= self.size:
                return False
            self.idle.append(connection)
            return True

    def forget(self) -> None:
        """In a forked child: the parent's connections are not this process's to use (nor to close)."""
        self.idle, self.lock = [], threading.Lock()


_pools: dict[str, _Pool] = {}
_pools_lock = threading.Lock()


def _forget_pools() -> None:
    for pool in _pools.values():
        pool.forget()


os.register_at_fork(after_in_child=_forget_pools)


class _Gate:
    """A lock taken first come, first served: a release hands it straight to the longest waiting thread."""

    def __init__(self):
        self._lock, self._waiters, self._held = threading.Lock(), collections.deque(), False

    def acquire(self, timeout: float) -> bool:
        with self._lock:
            if not self._held:
                self._held = True
                return True
            waiter = threading.Lock()
            waiter.acquire()
            self._waiters.append(waiter)
        if waiter.acquire(timeout=timeout):
            return True
        with self._lock:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
                return False
            return True  # handed over as the wait ran out: it is this thread's now

    def release(self) -> None:
        with self._lock:
            if self._waiters:
                self._waiters.popleft().release()
            else:
                self._held = False

    @property
    def waiting(self) -> int:
        return len(self._waiters)


_gates: dict[str, _Gate] = {}


def _forget_gates() -> None:
    _gates.clear()  # a lock held by a parent's thread at the fork would never be released in the child


os.register_at_fork(after_in_child=_forget_gates)


class DatabaseWrapper(sqlite_base.DatabaseWrapper):
    _holds_gate = None  # the process's write gate while this connection's write transaction is open

    def get_connection_params(self):
        params = super().get_connection_params()
        size = params.pop("pool", 0)
        self._pool = None
        if size and not self.is_in_memory_db():
            with _pools_lock:
                self._pool = _pools.setdefault(str(params["database"]), _Pool(size))
        return params

    def _start_transaction_under_autocommit(self):
        if self.transaction_mode != "IMMEDIATE" or self.is_in_memory_db():
            return super()._start_transaction_under_autocommit()
        with _pools_lock:
            gate = _gates.setdefault(str(self.settings_dict["NAME"]), _Gate())
        if not gate.acquire(timeout=self.settings_dict["OPTIONS"].get("timeout", 5)):
            raise OperationalError("database is locked (a write of this process held it past the timeout)")
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            gate.release()
            raise
        self._holds_gate = gate

    def _open_gate(self) -> None:
        gate, self._holds_gate = self._holds_gate, None
        if gate is not None:
            gate.release()

    def _commit(self):
        try:
            return super()._commit()
        finally:
            self._open_gate()

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self._open_gate()

    def get_new_connection(self, conn_params):
        if self._pool is not None and (connection := self._pool.take()) is not None:
            return connection
        connection = super().get_new_connection(conn_params)
        connection.enable_load_extension(True)
        sqlite_vec.load(connection)
        connection.enable_load_extension(False)
        _optimize(connection)
        return connection

    def _close(self):
        pool = getattr(self, "_pool", None)
        try:
            if self.connection is not None and pool is not None:
                with self.wrap_database_errors:
                    if pool.give(self.connection):  # rolled back there if left in a transaction
                        return
            super()._close()
        finally:
            self._open_gate()
