"""The SQLite backend's pool of open connections (openmemory/sqlite_backend): reused across threads, bounded, and
never handing over a transaction or a lock."""
import os
import threading
import time

import pytest
from django.db import connection, transaction

from apps_registry.models import App
from openmemory.sqlite_backend.base import _gates, _pools

pytestmark = [
    pytest.mark.skipif(os.environ.get("DATABASE_URL", "").startswith("postgres"),
                       reason="SQLite's pool: runs in the SQLite pass"),
    pytest.mark.django_db(transaction=True),
]


def in_thread(function):
    result = []
    thread = threading.Thread(target=lambda: result.append(function()))
    thread.start()
    thread.join()
    return result[0]


def raw_connection():
    """What a request thread does: use the database, then close (CONN_MAX_AGE=0); returns the sqlite3 connection."""
    App.objects.exists()
    raw = connection.connection
    connection.close()
    return raw


def test_a_thread_reuses_the_connection_another_one_closed():
    first = in_thread(raw_connection)
    assert in_thread(raw_connection) is first


def test_a_connection_closed_inside_a_transaction_comes_back_rolled_back(alice):
    def abandoned():
        with transaction.atomic():
            App.objects.create(owner=alice, name="never-committed")
            connection.close()  # as a request thread that fails mid-transaction
        return True

    in_thread(abandoned)
    in_thread(lambda: App.objects.create(owner=alice, name="next"))  # on the same connection, taken from the pool
    assert App.objects.filter(name="next").exists()  # committed: not inside the abandoned transaction
    assert not App.objects.filter(name="never-committed").exists()
    App.objects.create(owner=alice, name="and-this")  # and the write lock is free


def test_the_pool_keeps_a_bounded_number_of_idle_connections():
    size = connection.settings_dict["OPTIONS"]["pool"]
    barrier = threading.Barrier(size + 3)
    held = []

    def hold():
        App.objects.exists()
        held.append(connection.connection)
        barrier.wait()
        connection.close()

    threads = [threading.Thread(target=hold) for _ in range(size + 3)]
    [thread.start() for thread in threads]
    [thread.join() for thread in threads]
    assert len({id(raw) for raw in held}) == size + 3  # as many as were used at once
    idle = _pools[connection.settings_dict["NAME"]].idle
    assert len(idle) == size and all(raw in held for raw in idle)  # then `size` of them kept, the others closed


def test_writers_of_a_process_go_in_the_order_they_came(alice):
    """SQLite's busy handler let whichever writer polled just after a commit go first: under eight concurrent
    creates some waited behind many later ones (a p95 eight times the median). Now they queue."""
    order, release = [], threading.Event()

    def holder():
        with transaction.atomic():
            App.objects.create(owner=alice, name="first")
            order.append("first")
            release.wait()
        connection.close()

    def writer(name):
        with transaction.atomic():
            App.objects.create(owner=alice, name=name)
            order.append(name)
        connection.close()

    threads = [threading.Thread(target=holder)]
    threads[0].start()
    while not order:
        time.sleep(0.005)
    gate = _gates[connection.settings_dict["NAME"]]
    for i in range(6):
        threads.append(threading.Thread(target=writer, args=(f"w{i}",)))
        threads[-1].start()
        while gate.waiting < i + 1:  # each queued before the next one comes
            time.sleep(0.005)
    release.set()
    [thread.join() for thread in threads]
    assert order == ["first", "w0", "w1", "w2", "w3", "w4", "w5"]
    assert set(order) <= set(App.objects.filter(owner=alice).values_list("name", flat=True))
