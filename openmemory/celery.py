from celery import Celery

# The process is prepared (openmemory/process.py) by the package's __init__, which runs before this module.
app = Celery("openmemory")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
