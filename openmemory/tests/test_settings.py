"""Settings as people set them: a copied .env.example, and a production environment `check --deploy` accepts."""
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What the environment of the test run would otherwise decide instead of the file under test.
OURS = {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "OPENMEMORY_DATA_DIR", "DEBUG", "ALLOWED_HOSTS",
        "OPENMEMORY_CREATE_SECRET_KEY", "OPENMEMORY_USER"}


def manage(*args, cwd: Path, **env) -> subprocess.CompletedProcess:
    base = {key: value for key, value in os.environ.items() if key not in OURS}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=cwd, env={**base, **env}, capture_output=True,
                          text=True, timeout=120)


def test_copying_env_example_to_env_as_it_says_keeps_every_command_working(tmp_path):
    project = tmp_path / "project"
    for name in ("openmemory", "memories", "apps_registry", "stats", "mcp_bridge"):
        shutil.copytree(ROOT / name, project / name, ignore=shutil.ignore_patterns("node_modules", "__pycache__"))
    shutil.copy(ROOT / "manage.py", project)
    shutil.copy(ROOT / ".env.example", project / ".env")
    without_key = manage("check", cwd=project)
    assert without_key.returncode != 0 and "SECRET_KEY is not set" in without_key.stderr
    assert "KeyError" not in without_key.stderr
    (project / "data").mkdir(exist_ok=True)
    (project / "data" / "secret_key").write_text(secrets.token_urlsafe(50))  # what `make run` leaves
    assert manage("check", cwd=project).returncode == 0
    migrated = manage("migrate", "-v0", cwd=project)
    assert migrated.returncode == 0, migrated.stderr
    assert (project / "data" / "openmemory.sqlite3").exists()  # ./data is the project's, wherever it runs from


def test_a_production_environment_passes_check_deploy_without_a_warning(tmp_path):
    done = manage("check", "--deploy", "--fail-level", "WARNING", cwd=ROOT, DEBUG="false",
                  SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="memory.example.com",
                  OPENMEMORY_DATA_DIR=str(tmp_path), SECURE_SSL_REDIRECT="true", SECURE_HSTS_SECONDS="31536000",
                  SECURE_HSTS_INCLUDE_SUBDOMAINS="true", SECURE_HSTS_PRELOAD="true",
                  SESSION_COOKIE_SECURE="true", CSRF_COOKIE_SECURE="true",
                  SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNINGS" not in done.stdout + done.stderr
