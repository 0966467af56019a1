"""docker/compose.yaml, .ci/smoke, the Dockerfile, docker/.env.example and the settings cannot drift apart.

- the smoke runs exactly compose's command for every service built from the image;
- the smoke gives each process exactly compose's variables (plus the image's own);
- every variable compose gives the application is read by the settings (or by
  gunicorn), and every variable the settings read is in compose or deliberately not
  (each with its reason below), so a new setting needs a decision here;
- docker/.env.example lists exactly the variables compose interpolates;
- the Dockerfile's CMD is compose's web command, its runtime ENV the smoke's image
  environment, and it runs the smoke's collectstatic.

What a process reads is recorded, not guessed: a subprocess swaps ``os.environ``'s
class for one that notes every name the project's own code looks up (not Celery's or
kombu's), then imports the settings (and runs docker/gunicorn.conf.py).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

BASE_DIR = Path(__file__).resolve().parent.parent.parent
COMPOSE = BASE_DIR / "docker" / "compose.yaml"
DOCKERFILE = BASE_DIR / "docker" / "Dockerfile"
ENV_EXAMPLE = BASE_DIR / "docker" / ".env.example"

#: read by gunicorn itself (its defaults for bind and workers), not by any file of ours
GUNICORN_OWN = {"PORT", "WEB_CONCURRENCY"}
#: read by the settings, deliberately not in compose's environment
NOT_IN_COMPOSE = {
    "DEBUG": "production never runs with DEBUG",
    "SECRET_KEY": "given as SECRET_KEY_FILE (a secret)",
    "DATABASE_PASSWORD": "given as DATABASE_PASSWORD_FILE (a secret)",
    "EMAIL_HOST_PASSWORD": "given as EMAIL_HOST_PASSWORD_FILE (a secret)",
    "ALOKON_DATA_DIR": "the image's ENV (/data, a volume)",
    "STATIC_ROOT": "the image's ENV (collected at build time)",
    "MEDIA_ROOT": "under ALOKON_DATA_DIR, on the volume",
    "ALOKON_BACKUP_DIR": "under ALOKON_DATA_DIR, on the volume",
    "ALOKON_DEMO_PASSWORD": "demo data only",
    "CELERY_TASK_ALWAYS_EAGER": "debugging only",
    "AXES_ENABLED": "rate limiting is never off in production",
    "DATABASE_CONNECT_TIMEOUT": "its default (5 s) suits compose's network",
    "EMAIL_TIMEOUT": "its default (30 s) suits any mail server",
}
#: compose-only variables of .env.example (images, ports, the database's user and name)
COMPOSE_ONLY = {"ALOKON_IMAGE", "POSTGRES_IMAGE", "REDIS_IMAGE", "POSTGRES_USER", "POSTGRES_DB", "WEB_BIND", "WEB_PORT"}
REQUIRED = {"DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY_FILE", "ALLOWED_HOSTS", "SITE_URL"}

RECORD = """
import json, os, runpy, sys
read = set()
project = os.getcwd() + os.sep
venv = os.path.realpath(sys.prefix) + os.sep
SKIP = ("/os.py", "/_collections_abc.py")
class Recording(type(os.environ)):
    def __getitem__(self, key):
        # The first caller outside os and collections.abc (get, __contains__): ours, or a library's?
        frame = sys._getframe(1)
        while frame.f_code.co_filename.startswith("<frozen ") or frame.f_code.co_filename.endswith(SKIP):
            frame = frame.f_back
        filename = os.path.realpath(frame.f_code.co_filename)
        if filename.startswith(project) and not filename.startswith(venv):
            read.add(key)
        return super().__getitem__(key)
os.environ.__class__ = Recording
if sys.argv[1].endswith(".py"):
    runpy.run_path(sys.argv[1])
else:
    __import__(sys.argv[1])
print(json.dumps(sorted(read)))
"""


def load_smoke():
    loader = importlib.machinery.SourceFileLoader("alokon_ci_smoke", str(BASE_DIR / ".ci" / "smoke"))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def smoke():
    return load_smoke()


@pytest.fixture(scope="module")
def smoke_plan(smoke, tmp_path_factory):
    return smoke.plan(tmp_path_factory.mktemp("smoke"), 8123)


def app_services(compose: dict) -> set[str]:
    """The services built from alokon's image (the x-app anchor's ``build``)."""
    return {name for name, service in compose["services"].items() if "build" in service}


def names_read(target: str, tmp_path: Path) -> set[str]:
    """Every environment variable a fresh process looks up while importing ``target`` (or running it)."""
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(BASE_DIR),
        "SECRET_KEY": "drift-test-" + "k" * 50,
        "DATABASE_URL": "postgresql://alokon@db:5432/alokon",  # parsed, never connected to
        "CELERY_BROKER_URL": "redis://redis:6379/0",
        "ALOKON_DATA_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-c", RECORD, target], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def settings_read(tmp_path_factory) -> set[str]:
    return names_read("alokon.settings", tmp_path_factory.mktemp("settings"))


@pytest.fixture(scope="module")
def gunicorn_read(tmp_path_factory) -> set[str]:
    return names_read(str(BASE_DIR / "docker" / "gunicorn.conf.py"), tmp_path_factory.mktemp("gunicorn"))


def test_the_smoke_runs_every_service_built_from_the_image(compose, smoke):
    assert app_services(compose) == set(smoke.APP_SERVICES)
    assert set(smoke.LONG_RUNNING) == set(smoke.APP_SERVICES) - {"migrate"}


def test_the_smoke_runs_composes_commands(compose, smoke_plan):
    for name, (command, _) in smoke_plan.items():
        assert command == compose["services"][name]["command"], name
    assert smoke_plan["web"][0][:3] == ["gunicorn", "--config", "docker/gunicorn.conf.py"]
    assert smoke_plan["worker"][0][:5] == ["celery", "-A", "alokon", "--quiet", "worker"]
    assert smoke_plan["beat"][0][:5] == ["celery", "-A", "alokon", "--quiet", "beat"]


def test_the_smoke_gives_each_process_composes_variables_and_the_images(compose, smoke, smoke_plan):
    image_names = set(dockerfile_runtime_env())
    for name, (_, environment) in smoke_plan.items():
        compose_names = set(compose["services"][name]["environment"])
        assert compose_names <= set(environment), name
        extra = set(environment) - compose_names
        assert extra == (image_names | {"HOME", "LANG"}) - compose_names, name
    # The smoke points only container addresses and secret paths elsewhere.
    web_env = smoke_plan["web"][1]
    assert web_env["DATABASE_URL"].startswith(smoke.PG) and web_env["CELERY_BROKER_URL"] == smoke.REDIS_URL
    assert web_env["ALLOWED_HOSTS"] == smoke.HOST and web_env["SECURE_PROXY_SSL_HEADER"] == "X-Forwarded-Proto"


def test_every_variable_compose_gives_the_app_is_read_and_the_required_ones_are_there(
    compose, settings_read, gunicorn_read
):
    for name in app_services(compose):
        environment = set(compose["services"][name]["environment"])
        readers = settings_read | (gunicorn_read | GUNICORN_OWN if name == "web" else set())
        assert environment - readers == set(), f"{name}: compose sets variables nothing reads"
        assert environment >= REQUIRED, name


def test_every_variable_the_settings_read_is_in_compose_or_left_out_on_purpose(compose, settings_read):
    composed = set(compose["services"]["web"]["environment"])
    # NAME_FILE is looked up beside every NAME; only those compose sets matter.
    read = {name for name in settings_read if not name.endswith("_FILE") or name in composed}
    read -= {"DJANGO_SETTINGS_MODULE"}
    assert read - composed - set(NOT_IN_COMPOSE) == set(), "a new setting: add it to compose or NOT_IN_COMPOSE"
    assert set(NOT_IN_COMPOSE) <= settings_read, "NOT_IN_COMPOSE names a variable the settings no longer read"


def test_the_gunicorn_configuration_reads_what_compose_gives_web(compose, gunicorn_read):
    web = set(compose["services"]["web"]["environment"])
    assert {"LOG_FORMAT", "LOG_LEVEL", "WEB_TIMEOUT"} <= gunicorn_read & web
    assert web >= GUNICORN_OWN


def test_env_example_lists_exactly_what_compose_interpolates(compose):
    text = COMPOSE.read_text()
    interpolated = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
    required = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*):\?", text))
    example = dict(
        line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines() if line and not line.startswith("#")
    )
    assert set(example) == interpolated
    assert required == {"ALLOWED_HOSTS", "SITE_URL"}
    assert all(example[name] for name in required), "the required ones have an example value"
    assert interpolated >= COMPOSE_ONLY


def test_secret_files_are_mounted_where_the_file_variables_point(compose):
    for name in app_services(compose):
        service = compose["services"][name]
        for variable, value in service["environment"].items():
            if variable.endswith("_FILE") and value.startswith("/run/secrets/"):
                secret = value.removeprefix("/run/secrets/")
                assert secret in service["secrets"] and secret in compose["secrets"], (name, variable)


def test_every_service_has_a_health_check(compose):
    for name, service in compose["services"].items():
        test = service.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), name
        if name in app_services(compose):
            assert test[1:3] == ["python", "docker/healthcheck.py"] and test[3] == name


def dockerfile_runtime_env() -> dict[str, str]:
    runtime = DOCKERFILE.read_text().split("AS runtime", 1)[1]
    block = re.search(r"^ENV (.*?)(?<!\\)\n", runtime, re.MULTILINE | re.DOTALL).group(1)
    return dict(item.split("=", 1) for item in shlex.split(block.replace("\\\n", " ")))


def test_the_dockerfile_matches_compose_and_the_smoke(compose, smoke):
    text = DOCKERFILE.read_text()
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", text, re.MULTILINE).group(1))
    assert cmd == compose["services"]["web"]["command"]
    assert " ".join(smoke.COLLECTSTATIC) in text
    assert "python manage.py compilemessages" in text
    env = dockerfile_runtime_env()
    assert set(env) == set(smoke.IMAGE_ENV_NAMES) | set(smoke.IMAGE_ENV_PATHS)
    assert env["DJANGO_SETTINGS_MODULE"] == "alokon.settings" and env["PORT"] == "8000"
    assert re.search(r"^USER alokon", text, re.MULTILINE), "the image runs as an unprivileged user"
