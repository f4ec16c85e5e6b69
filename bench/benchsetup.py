"""What every bench script does first: Django on a scratch data directory (unless OPENMEMORY_DATA_DIR names one),
with the project (or another checkout, for comparisons) importable."""
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def django_setup(prefix: str = "om-bench-", *, root: Path = ROOT, unthrottled: bool = False) -> None:
    sys.path.insert(0, str(root))
    os.environ.setdefault("OPENMEMORY_DATA_DIR", tempfile.mkdtemp(prefix=prefix))
    os.environ.setdefault("SECRET_KEY", "bench")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openmemory.settings")
    if unthrottled:  # a bench's client sends far more than a person would
        os.environ["API_THROTTLE_RATE"] = "10000000/min"
    import django

    django.setup()
