"""docker-compose.yml keeps the promises a platform engineer relies on; read as YAML, no Docker needed."""
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
PROJECT_IMAGE = "portico:local"
PROXY_TEMPLATE = "deploy/nginx/portico.conf.template"
PROXY_TEMPLATES = (PROXY_TEMPLATE, "deploy/nginx/portico-routes.inc.template")
TEMPLATE_VARIABLE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")

# service name -> (module it runs, port it listens on, what it must wait for: healthy services, and the
# topics when it uses Kafka). The console uses no Kafka (its events go through link-issuer's outbox table)
# and waits for link-issuer, whose start applies the schema both read.
APP_SERVICES: dict[str, tuple[str, int, set[str]]] = {
    "link-issuer": ("link_issuer", 8101, {"kafka-topics", "postgres"}),
    "portal-session": ("portal_session", 8102, {"kafka-topics", "redis"}),
    "connection-config": ("connection_config", 8103, {"kafka-topics", "postgres", "redis"}),
    "audit": ("audit", 8104, {"kafka-topics", "postgres"}),
    "console": ("link_issuer.console", 8105, {"postgres", "redis", "link-issuer"}),
}
INFRASTRUCTURE = {"kafka", "kafka-topics", "postgres", "redis", "proxy"}
PASSED_THROUGH = ("PORTICO_BOOTSTRAP_API_KEY", "PORTICO_OUTBOUND_ALLOW_HOSTS")


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    # safe_load resolves the `<<` merge keys, so each service appears exactly as compose sees it.
    return yaml.safe_load(COMPOSE_FILE.read_text())["services"]


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {name: str(value) for name, value in env.items()}


def depends_on_of(service: dict[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on", {})
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: spec.get("condition", "service_started") for name, spec in deps.items()}


def bind_mount_sources(service: dict[str, Any]) -> list[str]:
    sources = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                sources.append(volume["source"])
        elif volume.startswith((".", "/", "~")):
            sources.append(volume.split(":", 1)[0])
    return sources


def project_image_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in services.items() if svc.get("image") == PROJECT_IMAGE}


def test_every_named_service_exists(services):
    assert set(APP_SERVICES) | INFRASTRUCTURE == set(services)


def test_each_app_service_builds_the_project_image_and_runs_its_module(services):
    for name, (module, _, _) in APP_SERVICES.items():
        svc = services[name]
        assert svc["build"] == ".", name
        assert svc["image"] == PROJECT_IMAGE, name
        assert svc["command"] == ["python", "-m", module], name


def test_each_app_service_listens_on_all_interfaces_on_its_own_port(services):
    for name, (_, port, _) in APP_SERVICES.items():
        env = environment_of(services[name])
        port_variable = f"PORTICO_{name.upper().replace('-', '_')}_PORT"
        assert env["PORTICO_HTTP_HOST"] == "0.0.0.0", name
        assert env[port_variable] == str(port), name


def test_each_app_service_health_is_its_readyz_over_python(services):
    for name, (_, port, _) in APP_SERVICES.items():
        test = services[name]["healthcheck"]["test"]
        assert test[:3] == ["CMD", "python", "-c"], name
        assert f"http://127.0.0.1:{port}/readyz" in test[3], name


def test_each_app_service_waits_for_healthy_dependencies_and_created_topics(services):
    for name, (_, _, dependencies) in APP_SERVICES.items():
        expected = {
            dep: "service_completed_successfully" if dep == "kafka-topics" else "service_healthy" for dep in dependencies
        }
        assert depends_on_of(services[name]) == expected, name


def test_console_gets_link_issuers_environment_with_its_own_port(services):
    link_issuer = environment_of(services["link-issuer"])
    console = environment_of(services["console"])
    assert console.pop("PORTICO_CONSOLE_PORT") == "8105"
    assert link_issuer.pop("PORTICO_LINK_ISSUER_PORT") == "8101"
    assert console == link_issuer


def test_infrastructure_has_healthchecks_so_dependants_can_wait(services):
    for name in ("kafka", "postgres", "redis", "proxy"):
        assert services[name]["healthcheck"]["test"], name


def test_kafka_topics_runs_once_after_kafka_is_healthy(services):
    topics = services["kafka-topics"]
    assert topics["image"] == PROJECT_IMAGE
    assert topics["command"] == ["python", "-m", "shared.topics"]
    assert topics.get("restart", "no") == "no"
    assert depends_on_of(topics) == {"kafka": "service_healthy"}


def test_kafka_never_auto_creates_topics(services):
    env = environment_of(services["kafka"])
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka:9092"


def test_project_containers_only_get_variables_the_settings_module_reads(services):
    from shared.settings import known_environment_variables

    known = known_environment_variables()
    for name, svc in project_image_services(services).items():
        unknown = set(environment_of(svc)) - known
        assert not unknown, f"{name} sets variables shared.settings does not read: {sorted(unknown)}"


def test_bootstrap_key_and_outbound_allow_list_come_from_the_callers_environment(services):
    for name, svc in project_image_services(services).items():
        env = environment_of(svc)
        for variable in PASSED_THROUGH:
            assert env[variable] == f"${{{variable}:-}}", name


def test_project_containers_are_read_only_and_unprivileged(services):
    for name, svc in project_image_services(services).items():
        assert svc["read_only"] is True, name
        assert "/tmp" in svc["tmpfs"], name
        assert svc["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in svc["security_opt"], name


def test_only_the_proxy_publishes_a_port_and_only_on_loopback(services):
    published = {name: svc["ports"] for name, svc in services.items() if svc.get("ports")}
    assert published == {"proxy": ["127.0.0.1:8080:8080"]}


def test_proxy_renders_the_portico_template_with_each_service_upstream(services):
    proxy = services["proxy"]
    for template in PROXY_TEMPLATES:
        assert f"./{template}:/etc/nginx/templates/{Path(template).name}:ro" in proxy["volumes"]
    env = environment_of(proxy)
    assert env["PORTICO_PROXY_PORT"] == "8080"
    for name, (_, port, _) in APP_SERVICES.items():
        assert env[f"{name.upper().replace('-', '_')}_UPSTREAM"] == f"{name}:{port}"
    assert depends_on_of(proxy) == {name: "service_healthy" for name in APP_SERVICES}


def test_every_variable_of_the_proxy_templates_is_set_for_the_image_to_substitute(services):
    """The image substitutes only variables its environment defines: any other ${NAME} stops nginx."""
    env = environment_of(services["proxy"])
    for template in PROXY_TEMPLATES:
        for variable in TEMPLATE_VARIABLE.findall((REPO_ROOT / template).read_text()):
            assert variable in env, f"{template}: ${{{variable}}} is not set for the proxy"


def test_proxy_serves_plain_http_and_logs_to_the_container_streams(services):
    env = environment_of(services["proxy"])
    assert env["PORTICO_PROXY_HTTP_SCHEME"] == "http"
    assert (env["PORTICO_PROXY_ACCESS_LOG"], env["PORTICO_PROXY_ERROR_LOG"]) == ("/dev/stdout", "/dev/stderr")


def test_every_mounted_host_file_exists_in_the_repo(services):
    for name, svc in services.items():
        for source in bind_mount_sources(svc):
            assert (REPO_ROOT / source).exists(), f"{name} mounts missing {source}"


def test_named_volumes_are_declared(services):
    declared = set(yaml.safe_load(COMPOSE_FILE.read_text()).get("volumes") or {})
    for name, svc in services.items():
        for volume in svc.get("volumes", []):
            if isinstance(volume, str) and not volume.startswith((".", "/", "~")):
                assert volume.split(":", 1)[0] in declared, name


def test_postgres_init_creates_each_service_database():
    sql = (REPO_ROOT / "deploy/docker/postgres-init.sql").read_text()
    for database in ("portico_link_issuer", "portico_connection_config", "portico_audit"):
        assert f"'{database}'" in sql


def test_image_runs_as_non_root_uid_10001():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", dockerfile, flags=re.MULTILINE)
    assert users and users[-1].split(":")[0] == "10001"


def _compose_plugin_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
    except subprocess.TimeoutExpired:
        return False
    return probe.returncode == 0


@pytest.mark.skipif(
    not _compose_plugin_available(),
    reason="`docker compose version` fails: the Docker Compose v2 plugin is not installed "
    "(`docker compose config` itself needs no daemon)",
)
def test_docker_compose_accepts_the_file():
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
