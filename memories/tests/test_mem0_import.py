"""mem0 is imported without qdrant_client (memories.engine.load_mem0), and a configuration that names qdrant still
gets mem0's real qdrant settings."""
import json
import subprocess
import sys

import pytest
from django.conf import settings

SCRIPT = """
import json, sys
import django
django.setup()
from memories.engine import get_engine, section_problem
get_engine()
after_engine = "qdrant_client" in sys.modules
problems = [section_problem("vector_store", {"provider": "qdrant", "config": {"path": sys.argv[1]}}),
            section_problem("vector_store", {"provider": "qdrant", "config": {"no_such_setting": 1, "port": "x"}})]
from mem0.vector_stores.configs import VectorStoreConfig
config = VectorStoreConfig(provider="qdrant", config={"collection_name": "memories", "path": sys.argv[1]}).config
print(json.dumps({"after_engine": after_engine, "after_qdrant": "qdrant_client" in sys.modules,
                  "problems": problems, "config": type(config).__module__, "path": config.path}))
"""


@pytest.mark.live_server_process
def test_building_the_engine_leaves_qdrant_client_unimported_and_qdrant_settings_still_check(db, tmp_path):
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "openmemory.settings", "SECRET_KEY": "x",
           "OPENMEMORY_DATA_DIR": str(settings.DATA_DIR), "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], env=env, cwd=settings.BASE_DIR,
                   check=True, capture_output=True)
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "qdrant")], env=env, cwd=settings.BASE_DIR,
                         check=True, capture_output=True, text=True).stdout
    seen = json.loads(out.splitlines()[-1])
    assert seen["after_engine"] is False
    assert seen["problems"][0] is None and "Invalid vector_store settings for 'qdrant'" in seen["problems"][1]
    assert seen["after_qdrant"] is True
    assert seen["config"] == "mem0.configs.vector_stores.qdrant" and seen["path"] == str(tmp_path / "qdrant")
