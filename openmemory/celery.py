import os

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openmemory.settings")

# redis:// URLs get kombu's Redis transport with our fix for a lost connection (see openmemory/broker.py).
TRANSPORT_ALIASES.update(redis="openmemory.broker:Transport", rediss="openmemory.broker:Transport")

app = Celery("openmemory")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
