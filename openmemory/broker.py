"""kombu's Redis transport with one fix, for Celery's broker.

When the broker connection is lost, Celery 5.7 collects the connection (dropping its client) and then closes
it; closing, kombu's Redis channel tries to put its unacknowledged messages back, and tasks still running ack
through it when they finish. Both reach for the dropped client and raise AttributeError, which Celery takes for
an unrecoverable error: the worker exits, and nothing is categorized until someone restarts it. Here the
channel says what happened instead, a connection error, which Celery handles as the lost connection it is
(it reconnects; unacknowledged messages come back after the visibility timeout).
"""
from kombu.transport import redis
from redis.exceptions import ConnectionError as RedisConnectionError


class Channel(redis.Channel):
    def _connparams(self, asynchronous=False):
        if self.connection.client is None:
            raise RedisConnectionError("The broker connection was closed after it was lost.")
        return super()._connparams(asynchronous=asynchronous)


class Transport(redis.Transport):
    Channel = Channel
