"""The Helm chart renders valid, locked-down Kubernetes manifests; needs helm (deploy/helm/tools.sh install)."""
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
CHART = REPO_ROOT / "deploy/helm/portico"
PRODUCTION_VALUES = CHART / "ci/production-values.yaml"
PROXY_TEMPLATE = REPO_ROOT / "deploy/nginx/portico.conf.template"
# The templates the chart's proxy renders (the local proxy's https server is not one: TLS ends in front).
PROXY_TEMPLATES = ("portico.conf.template", "portico-routes.inc.template")
TEMPLATE_VARIABLE = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")
KUBERNETES_DOC = REPO_ROOT / "docs/kubernetes.md"
KUBERNETES_VERSION = "1.31.0"
RELEASE = "portico"

# The Kafka SASL/TLS settings a cluster that requires SCRAM over TLS needs (fields of shared.settings).
KAFKA_SECURITY_SETTINGS = {
    "PORTICO_KAFKA_SECURITY_PROTOCOL",
    "PORTICO_KAFKA_SASL_MECHANISM",
    "PORTICO_KAFKA_SASL_USERNAME",
    "PORTICO_KAFKA_SASL_PASSWORD",
    "PORTICO_KAFKA_SSL_CA_FILE",
}

# service -> (module, port, the services allowed to call it)
SERVICES: dict[str, tuple[str, int, set[str]]] = {
    "link-issuer": ("link_issuer", 8101, {"proxy", "portal-session"}),
    "portal-session": ("portal_session", 8102, {"proxy"}),
    "connection-config": ("connection_config", 8103, {"proxy", "portal-session", "console"}),
    "audit": ("audit", 8104, {"proxy", "console"}),
    "console": ("link_issuer.console", 8105, {"proxy"}),
}
# The console uses no Kafka: its events go through link-issuer's outbox table.
KAFKA_USERS = [s for s in SERVICES if s != "console"]
# Resources the chart renders only for operators installed in the cluster; kubernetes-validate
# ships no schema for them.
CUSTOM_RESOURCES = {("kafka.strimzi.io/v1beta2", "KafkaTopic"), ("monitoring.coreos.com/v1", "ServiceMonitor")}
SECRET_LOOKING_NAME = re.compile(r"KEY|TOKEN|PASSWORD|SECRET|DATABASE_URL")
URL_WITH_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/@\s]*:[^/@\s]+@")
PINNED_TAG = re.compile(r"^v?\d+\.\d+\.\d+[-+._a-zA-Z0-9]*$")

RENDERINGS: dict[str, list[str]] = {
    "defaults": [],
    "production": ["-f", str(PRODUCTION_VALUES)],
    # Production with the hook Job instead of Strimzi topics, so SASL/TLS reach the Job too.
    "production-topic-job": [
        "-f", str(PRODUCTION_VALUES), "--set", "kafka.topics.create=job", "--set", "metrics.serviceMonitor.enabled=true",
    ],
}


def find_helm() -> str | None:
    candidates = [os.environ.get("PORTICO_HELM"), shutil.which("helm")]
    cache_dir = Path(os.environ.get("PORTICO_CACHE_DIR", Path.home() / ".cache/portico"))
    candidates.insert(1, str(cache_dir / "bin/helm"))
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


HELM = find_helm()
pytestmark = pytest.mark.skipif(
    HELM is None, reason="helm is not installed: `bash deploy/helm/tools.sh install` builds it with Go (once)"
)


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    assert HELM is not None
    return subprocess.run([HELM, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)


def helm_template(*args: str) -> subprocess.CompletedProcess[str]:
    return helm("template", RELEASE, str(CHART), "--namespace", "portico", "--kube-version", KUBERNETES_VERSION, *args)


@cache
def render(name: str) -> tuple[dict[str, Any], ...]:
    result = helm_template(*RENDERINGS[name])
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def of_kind(manifests: tuple[dict[str, Any], ...], kind: str) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def pod_specs(manifests: tuple[dict[str, Any], ...]) -> Iterator[tuple[str, dict[str, Any]]]:
    for m in manifests:
        if m["kind"] in ("Deployment", "Job"):
            yield f'{m["kind"]}/{m["metadata"]["name"]}', m["spec"]["template"]["spec"]


def is_portico_image(container: dict[str, Any]) -> bool:
    return container["image"].rsplit(":", 1)[0].endswith("portico")


def env_names(container: dict[str, Any], manifests: tuple[dict[str, Any], ...]) -> set[str]:
    """Every variable a container gets: its own env and the ConfigMaps it takes whole."""
    names = {entry["name"] for entry in container.get("env", [])}
    config_maps = of_kind(manifests, "ConfigMap")
    for source in container.get("envFrom", []):
        names |= set(config_maps[source["configMapRef"]["name"]]["data"])
    return names


def service_container(manifests: tuple[dict[str, Any], ...], service: str) -> dict[str, Any]:
    deployment = of_kind(manifests, "Deployment")[f"{RELEASE}-{service}"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


@pytest.mark.parametrize("values", [[], ["-f", str(PRODUCTION_VALUES)]], ids=["defaults", "production"])
def test_chart_lints_strictly(values):
    result = helm("lint", "--strict", str(CHART), *values)
    assert result.returncode == 0, result.stdout + result.stderr


def test_plain_helm_template_renders_with_the_defaults():
    result = helm("template", str(CHART))
    assert result.returncode == 0, result.stderr
    assert "kind: Deployment" in result.stdout


def test_the_documented_minimal_values_render(tmp_path):
    section = KUBERNETES_DOC.read_text().split("## A minimal values file", 1)[1]
    values = tmp_path / "values.yaml"
    values.write_text(section.split("```yaml\n", 1)[1].split("```", 1)[0])
    result = helm_template("-f", str(values))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("rendering", RENDERINGS)
def test_every_manifest_is_valid_for_kubernetes_1_31(rendering):
    for manifest in render(rendering):
        if (manifest["apiVersion"], manifest["kind"]) in CUSTOM_RESOURCES:
            continue
        try:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f'{manifest["kind"]}/{manifest["metadata"]["name"]}: {error.message} at {list(error.path)}')


def test_defaults_run_each_service_from_the_one_image_on_its_port():
    manifests = render("defaults")
    assert set(of_kind(manifests, "Deployment")) == {f"{RELEASE}-{s}" for s in [*SERVICES, "proxy"]}
    services = of_kind(manifests, "Service")
    for service, (module, port, _) in SERVICES.items():
        container = service_container(manifests, service)
        assert container["image"] == "portico:0.1.0"
        assert container["command"] == ["python", "-m", module]
        assert container["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
        assert services[f"{RELEASE}-{service}"]["spec"]["ports"][0]["port"] == port
    settings = of_kind(manifests, "ConfigMap")[f"{RELEASE}-settings"]["data"]
    assert settings["PORTICO_HTTP_HOST"] == "0.0.0.0"
    assert settings["PORTICO_CONNECTION_CONFIG_INTERNAL_URL"] == f"http://{RELEASE}-connection-config:8103"
    assert settings["PORTICO_AUDIT_INTERNAL_URL"] == f"http://{RELEASE}-audit:8104"
    assert settings["PORTICO_LINK_ISSUER_INTERNAL_URL"] == f"http://{RELEASE}-link-issuer:8101"
    ports = {settings[f"PORTICO_{s.upper().replace('-', '_')}_PORT"] for s in SERVICES}
    assert ports == {"8101", "8102", "8103", "8104", "8105"}


@pytest.mark.parametrize("rendering", RENDERINGS)
def test_every_workload_is_probed_bounded_and_locked_down(rendering):
    manifests = render(rendering)
    for name, spec in pod_specs(manifests):
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["enableServiceLinks"] is False, name
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for container in spec["containers"]:
            where = f'{name}/{container["name"]}'
            if name.startswith("Deployment/"):
                for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                    assert container[probe]["httpGet"]["port"] == "http", where
            for bound in ("requests", "limits"):
                assert set(container["resources"][bound]) >= {"cpu", "memory"}, where
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            repository, _, tag = container["image"].rpartition(":")
            assert repository and PINNED_TAG.match(tag), f"{where}: image {container['image']} is not pinned"
            mounts = {mount["mountPath"] for mount in container["volumeMounts"]}
            assert "/tmp" in mounts, where
            if is_portico_image(container):
                assert spec["securityContext"]["runAsUser"] == 10001, where


def test_service_probes_use_healthz_for_liveness_and_readyz_for_readiness():
    manifests = render("defaults")
    for service in SERVICES:
        container = service_container(manifests, service)
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


@pytest.mark.parametrize("rendering", RENDERINGS)
def test_no_credential_is_rendered_into_a_config_map_or_a_plain_env_value(rendering):
    manifests = render(rendering)
    assert not of_kind(manifests, "Secret"), "the chart only references existing Secrets"
    for name, config_map in of_kind(manifests, "ConfigMap").items():
        for key, value in config_map["data"].items():
            if key.startswith("PORTICO_"):
                assert not SECRET_LOOKING_NAME.search(key), f"{name}: {key}"
            assert not URL_WITH_PASSWORD.search(value), f"{name}: {key} holds a URL with a password"
    for name, spec in pod_specs(manifests):
        for container in spec["containers"]:
            for entry in container.get("env", []):
                if SECRET_LOOKING_NAME.search(entry["name"]) or entry["name"] == "PORTICO_REDIS_URL":
                    if entry["name"] == "PORTICO_REDIS_URL" and "value" in entry:
                        assert not URL_WITH_PASSWORD.search(entry["value"]), name
                        continue
                    assert "secretKeyRef" in entry.get("valueFrom", {}), f"{name}: {entry['name']} is not from a Secret"


@pytest.mark.parametrize("rendering", RENDERINGS)
def test_services_get_only_variables_the_settings_read(rendering):
    from shared.settings import known_environment_variables

    known = known_environment_variables()
    manifests = render(rendering)
    for name, spec in pod_specs(manifests):
        for container in spec["containers"]:
            if is_portico_image(container):
                unknown = env_names(container, manifests) - known
                assert not unknown, f"{name} sets variables shared.settings does not read: {sorted(unknown)}"


def test_kafka_security_settings_are_settings_the_services_read():
    from shared.settings import known_environment_variables

    assert KAFKA_SECURITY_SETTINGS <= known_environment_variables()


def test_production_values_set_every_kafka_security_setting():
    manifests = render("production-topic-job")
    for service in KAFKA_USERS:
        assert env_names(service_container(manifests, service), manifests) >= KAFKA_SECURITY_SETTINGS, service
    (job,) = of_kind(manifests, "Job").values()
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert env_names(container, manifests) >= KAFKA_SECURITY_SETTINGS
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["PORTICO_KAFKA_SSL_CA_FILE"] == f'{mounts["kafka-ca"]}/ca.crt'
    assert env["PORTICO_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"


def test_each_service_gets_only_its_own_secrets():
    manifests = render("production")

    def secret_env(service: str) -> set[str]:
        return {e["name"] for e in service_container(manifests, service)["env"] if "valueFrom" in e}

    common = {"PORTICO_INTERNAL_TOKEN", "PORTICO_KAFKA_SASL_PASSWORD"}
    link_issuer = {"PORTICO_LINK_SIGNING_KEY", "PORTICO_LINK_ISSUER_DATABASE_URL", "PORTICO_BOOTSTRAP_API_KEY"}
    assert secret_env("link-issuer") == common | link_issuer
    # link-issuer's own, and Redis (sessions, sign-in counters) instead of Kafka
    assert secret_env("console") == {"PORTICO_INTERNAL_TOKEN", "PORTICO_REDIS_URL"} | link_issuer
    assert secret_env("portal-session") == common | {"PORTICO_LINK_SIGNING_KEY", "PORTICO_REDIS_URL"}
    assert secret_env("connection-config") == common | {
        "PORTICO_ENCRYPTION_KEYS", "PORTICO_CONNECTION_CONFIG_DATABASE_URL"}
    assert secret_env("audit") == common | {
        "PORTICO_AUDIT_DATABASE_URL", "PORTICO_AUDIT_WRITER_DATABASE_URL", "PORTICO_AUDIT_CHECKPOINT_SIGNING_KEY"}


@pytest.mark.parametrize("rendering", RENDERINGS)
def test_console_gets_link_issuers_settings_and_secrets_with_redis_instead_of_kafka(rendering):
    manifests = render(rendering)
    link_issuer, console = service_container(manifests, "link-issuer"), service_container(manifests, "console")
    assert console["envFrom"] == link_issuer["envFrom"]
    without_kafka = [e for e in link_issuer["env"] if e["name"] != "PORTICO_KAFKA_SASL_PASSWORD"]
    assert [e for e in console["env"] if e["name"] != "PORTICO_REDIS_URL"] == without_kafka
    assert {"PORTICO_CONSOLE_PORT", "PORTICO_CONNECTION_CONFIG_INTERNAL_URL", "PORTICO_AUDIT_INTERNAL_URL"} <= env_names(
        console, manifests)


def test_proxy_renders_the_local_template_with_the_token_from_a_secret():
    manifests = render("defaults")
    config_map = of_kind(manifests, "ConfigMap")[f"{RELEASE}-proxy"]["data"]
    for name in PROXY_TEMPLATES:
        assert config_map[name] == (PROXY_TEMPLATE.parent / name).read_text(), f"{name} differs from deploy/nginx"
    assert "${PORTICO_INTERNAL_TOKEN}" in config_map["portico.conf.template"], "substituted in the pod, not here"
    proxy = of_kind(manifests, "Deployment")[f"{RELEASE}-proxy"]["spec"]["template"]["spec"]
    (container,) = proxy["containers"]
    env = {e["name"]: e for e in container["env"]}
    for service, (_, port, _) in SERVICES.items():
        assert env[f"{service.upper().replace('-', '_')}_UPSTREAM"]["value"] == f"{RELEASE}-{service}:{port}"
    assert env["PORTICO_INTERNAL_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "portico", "key": "internal-token"}
    assert env["NGINX_ENVSUBST_TEMPLATE_SUFFIX"]["value"] == ".template"
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in proxy["volumes"]}
    assert "emptyDir" in volumes[mounts["/etc/nginx/conf.d"]], "the rendered config (with the token) stays in the pod"
    mounted_templates = {item["path"] for item in volumes[mounts["/etc/nginx/templates"]]["configMap"]["items"]}
    assert set(PROXY_TEMPLATES) <= mounted_templates
    assert proxy["securityContext"]["runAsUser"] == 101



@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed (apt-get install nginx-light)")
def test_proxy_configuration_passes_nginx_config_test(tmp_path):
    """The chart's nginx.conf, realip file and template, as the image assembles them, parse."""
    manifests = render("production")
    data = of_kind(manifests, "ConfigMap")[f"{RELEASE}-proxy"]["data"]
    (tmp_path / "conf.d").mkdir()
    main = data["nginx.conf"].replace("/etc/nginx/conf.d", str(tmp_path / "conf.d")).replace("/tmp/", f"{tmp_path}/")
    main = main.replace("/dev/stdout", str(tmp_path / "access.log")).replace("/dev/stderr", str(tmp_path / "error.log"))
    (tmp_path / "nginx.conf").write_text(main)
    (tmp_path / "conf.d/00-real-ip.conf").write_text(data["00-real-ip.conf"])
    substitutions = proxy_environment(manifests) | {"PORTICO_PROXY_PORT": "127.0.0.1:8080", "PORTICO_INTERNAL_TOKEN": "token"}
    # Loopback stands in for the Service names, which only resolve in the cluster.
    substitutions |= {f"{s.upper().replace('-', '_')}_UPSTREAM": f"127.0.0.1:{port}" for s, (_, port, _) in SERVICES.items()}
    logs = ("PORTICO_PROXY_ACCESS_LOG", "PORTICO_PROXY_ERROR_LOG")
    substitutions |= {name: str(tmp_path / name.rsplit("_", 1)[1].lower()) for name in logs}
    for name in PROXY_TEMPLATES:
        rendered = TEMPLATE_VARIABLE.sub(lambda m: substitutions[m[1]], data[name])
        (tmp_path / "conf.d" / name.removesuffix(".template")).write_text(rendered)
    result = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e", str(tmp_path / "error.log")],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 0, result.stderr

def proxy_environment(manifests: tuple[dict[str, Any], ...]) -> dict[str, str]:
    """The proxy container's variables: plain values, and "<from a Secret>" for the others."""
    proxy = of_kind(manifests, "Deployment")[f"{RELEASE}-proxy"]["spec"]["template"]["spec"]
    (container,) = proxy["containers"]
    return {e["name"]: e.get("value", "<from a Secret>") for e in container["env"]}


@pytest.mark.parametrize("rendering", RENDERINGS)
def test_every_variable_of_the_proxy_templates_is_set_for_the_image_to_substitute(rendering):
    """An unset ${NAME} would stay in the configuration as text and stop nginx at start."""
    manifests = render(rendering)
    data = of_kind(manifests, "ConfigMap")[f"{RELEASE}-proxy"]["data"]
    env = proxy_environment(manifests)
    filter_ = re.compile(env["NGINX_ENVSUBST_FILTER"])
    for name in PROXY_TEMPLATES:
        for variable in TEMPLATE_VARIABLE.findall(data[name]):
            assert variable in env and filter_.search(variable), f"{name}: ${{{variable}}} is not substituted"


@pytest.mark.parametrize(("public_url", "scheme"), [("https://sso.example.com", "https"), ("http://127.0.0.1:8080", "http")])
def test_proxy_sends_hsts_and_forwarded_https_only_when_users_reach_it_over_https(public_url, scheme):
    """TLS ends in front of the chart's proxy (Ingress or load balancer): publicUrl says which scheme users see."""
    result = helm_template("--set", f"publicUrl={public_url}")
    assert result.returncode == 0, result.stderr
    manifests = tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)
    assert proxy_environment(manifests)["PORTICO_PROXY_HTTP_SCHEME"] == scheme


def test_proxy_logs_to_the_container_streams_through_the_redacting_format():
    manifests = render("production")
    env = proxy_environment(manifests)
    assert (env["PORTICO_PROXY_ACCESS_LOG"], env["PORTICO_PROXY_ERROR_LOG"]) == ("/dev/stdout", "/dev/stderr")
    main = of_kind(manifests, "ConfigMap")[f"{RELEASE}-proxy"]["data"]["nginx.conf"]
    assert "access_log" not in main, "an http-level access log in nginx's default format would log link tokens"


def test_ingress_sends_the_public_paths_to_the_proxy():
    (ingress,) = of_kind(render("production"), "Ingress").values()
    assert ingress["spec"]["ingressClassName"] == "nginx"
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "sso.example.com"
    paths = {p["path"]: p["backend"]["service"]["name"] for p in rule["http"]["paths"]}
    assert paths == dict.fromkeys(["/api/v1", "/portal", "/console", "/sso"], f"{RELEASE}-proxy")
    assert ingress["spec"]["tls"] == [{"hosts": ["sso.example.com"], "secretName": "portico-tls"}]
    assert not of_kind(render("defaults"), "Ingress")


@pytest.mark.parametrize("rendering", ["defaults", "production"])
def test_network_policies_let_only_callers_in_and_only_portal_session_and_the_console_call_a_service(rendering):
    manifests = render(rendering)
    policies = of_kind(manifests, "NetworkPolicy")
    for service, (_, port, callers) in SERVICES.items():
        policy = policies[f"{RELEASE}-{service}"]["spec"]
        assert policy["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == service
        (ingress,) = policy["ingress"]
        assert ingress["ports"] == [{"port": port, "protocol": "TCP"}]
        assert {peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for peer in ingress["from"]} == callers
        pod_peers = {
            peer["podSelector"]["matchLabels"].get("app.kubernetes.io/component")
            for rule in policy["egress"] for peer in rule.get("to", []) if set(peer) == {"podSelector"}
        }
        calls = {"portal-session": {"connection-config", "link-issuer"}, "console": {"connection-config", "audit"}}
        assert pod_peers == calls.get(service, set()), service
    proxy = policies[f"{RELEASE}-proxy"]["spec"]
    reached = {peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
               for rule in proxy["egress"] for peer in rule.get("to", []) if set(peer) == {"podSelector"}}
    assert reached == set(SERVICES)


def test_network_policies_open_only_each_services_dependencies():
    policies = of_kind(render("production"), "NetworkPolicy")

    def egress_ports(name: str) -> set[int]:
        return {p["port"] for rule in policies[f"{RELEASE}-{name}"]["spec"]["egress"] for p in rule["ports"]}

    dns, kafka, redis, postgres, https = 53, 9093, 6380, 5432, 443
    assert egress_ports("link-issuer") == {dns, kafka, postgres}
    assert egress_ports("portal-session") == {dns, kafka, redis, 8101, 8103}
    assert egress_ports("connection-config") == {dns, kafka, postgres, https}
    assert egress_ports("audit") == {dns, kafka, postgres}
    assert egress_ports("console") == {dns, redis, postgres, 8103, 8104}


def test_topics_are_a_hook_job_by_default_and_strimzi_topics_on_request():
    from portico_events import ALL_TOPICS

    (job,) = of_kind(render("defaults"), "Job").values()
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["python", "-m", "shared.topics"]
    topics = of_kind(render("production"), "KafkaTopic")
    assert {t["spec"]["topicName"] for t in topics.values()} == set(ALL_TOPICS)
    for topic in topics.values():
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "events"
        assert topic["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert topic["spec"] == {"topicName": topic["spec"]["topicName"], "partitions": 6, "replicas": 3}
    assert not of_kind(render("production"), "Job")


def test_autoscaled_deployments_leave_the_replica_count_to_the_hpa():
    manifests = render("production")
    autoscalers = of_kind(manifests, "HorizontalPodAutoscaler")
    autoscaled = ("link-issuer", "portal-session", "connection-config", "console", "proxy")
    assert set(autoscalers) == {f"{RELEASE}-{s}" for s in autoscaled}
    for name, deployment in of_kind(manifests, "Deployment").items():
        assert ("replicas" in deployment["spec"]) == (name not in autoscalers), name
    assert set(of_kind(manifests, "PodDisruptionBudget")) == set(of_kind(manifests, "Deployment"))


def test_every_service_mounts_the_ca_bundles_its_urls_point_at():
    manifests = render("production")
    expected = {
        "link-issuer": {"/etc/portico/kafka-ca", "/etc/portico/postgres-ca"},
        "portal-session": {"/etc/portico/kafka-ca", "/etc/portico/redis-ca"},
        "connection-config": {"/etc/portico/kafka-ca", "/etc/portico/postgres-ca"},
        "audit": {"/etc/portico/kafka-ca", "/etc/portico/postgres-ca"},
        "console": {"/etc/portico/redis-ca", "/etc/portico/postgres-ca"},
    }
    for service, mounts in expected.items():
        container = service_container(manifests, service)
        assert {m["mountPath"] for m in container["volumeMounts"]} - {"/tmp"} == mounts, service


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set-string", "linkIssuer.replicas=two"], "replicas"),
        (["--set", "image.tag=latest"], "tag"),
        (["--set", "linkIssuer.replica=2"], "replica"),
        (["--set", "kafka.securityProtocol=SASL_SSL"], "existingSecret"),
        (["--set", "kafka.securityProtocol=SCRAM"], "securityProtocol"),
        (["--set", "redis.url=redis://:hunter2@redis:6379/0"], "redis"),
        (["--set", "publicUrl=sso.example.com"], "publicUrl"),
        (["--set", "config.PORTICO_INTERNAL_TOKEN=hunter2"], "credential"),
        (["--set", "config.OTEL_EXPORTER_OTLP_HEADERS=api-key=hunter2"], "credential"),
        (["--set", "config.JAVA_OPTS=-Xmx1g"], "JAVA_OPTS"),
        (["--set", "config.PORTICO_REDIS_URL=redis://redis:6379/0"], "set by the chart"),
        (["--set", "kafka.topics.create=auto"], "create"),
        (["--set", "postgres.auditWriter.existingSecret="], "auditWriter"),
    ],
    ids=["replicas-two", "latest-tag", "misspelt-key", "sasl-without-secret", "unknown-protocol",
         "redis-password-in-values", "public-url-without-scheme", "secret-in-config", "otlp-headers-in-config",
         "foreign-setting-in-config", "reserved-setting", "topic-mode",
         "audit-writer-without-secret"],
)
def test_a_wrong_value_fails_rendering_with_a_message(args, message):
    result = helm_template(*args)
    assert result.returncode != 0, f"helm template accepted {args}"
    assert message in result.stderr, result.stderr


def test_tracing_is_configured_with_otel_variables_in_config():
    result = helm_template("--set", "config.OTEL_EXPORTER_OTLP_ENDPOINT=http://otel-collector.observability:4318",
                           "--set", "config.OTEL_TRACES_SAMPLER=parentbased_traceidratio",
                           "--set-string", "config.OTEL_TRACES_SAMPLER_ARG=0.1")
    assert result.returncode == 0, result.stderr
    manifests = tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)
    data = of_kind(manifests, "ConfigMap")[f"{RELEASE}-settings"]["data"]
    assert data["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.observability:4318"
    assert data["OTEL_TRACES_SAMPLER_ARG"] == "0.1"
