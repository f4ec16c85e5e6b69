import openmemory  # noqa: F401  (prepares the process: openmemory/process.py)
from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
