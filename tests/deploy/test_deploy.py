"""Checks of the multi-replica deployment files, offline (run by scripts/test_deploy.sh).

- deploy/helm/cogway: linted and rendered by Helm's own engine (helm-python-sdk binds Helm v4's Go
  SDK; there is no helm binary), with the chart's ci/*-values.yaml and a few overrides; every
  rendered object is validated against the Kubernetes JSON schemas (kubernetes-validate, strict:
  unknown fields are errors) of the oldest Kubernetes the chart supports and of the newest bundled.
- docker/compose.cluster.yaml: parsed by compose_spec (strict Compose Specification types), then
  its services, dependencies and health checks.
- docker/nginx.cluster.conf: `nginx -t` on a copy whose upstream hosts are 127.0.0.1.
"""

from __future__ import annotations

import base64
import copy
import re
import shutil
import subprocess
from pathlib import Path

import helm_python as helm
import kubernetes_validate
import pytest
import yaml
from compose_spec import PyOptions

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "cogway"
COMPOSE = ROOT / "docker" / "compose.cluster.yaml"
NGINX_CONF = ROOT / "docker" / "nginx.cluster.conf"
DOCKERFILE = ROOT / "docker" / "Dockerfile"

RELEASE = "demo"
NAMESPACE = "cogway"
FULLNAME = "demo-cogway"
# Chart.yaml's kubeVersion floor, and the newest schemas kubernetes-validate bundles.
KUBE_VERSIONS = ["1.25.0", "1.37.0"]
VALUES_FILES = sorted(p.name for p in (CHART / "ci").glob("*-values.yaml"))

# The settings every replica gets (issue "scale-out on Postgres and Redis").
CLUSTER_ENV = [
    "COGWAY__DATABASE__URL",
    "COGWAY__REDIS__URL",
    "COGWAY__CLUSTER__REPLICA_ID",
    "COGWAY__AUTH__JWT_SECRET",
    "COGWAY__AUTH__ADMIN_KEY",
    "COGWAY__BLOBS__BACKEND",
    "COGWAY__JOBS__LEASE_SECS",
    "COGWAY_MODELS_DIR",
]


# ---------------------------------------------------------------------------------------------
# Helm chart


def ci_values(name: str) -> dict:
    return yaml.safe_load((CHART / "ci" / name).read_text()) or {}


def merged(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def render(values: dict) -> list[dict]:
    """The chart's objects as `helm template demo deploy/helm/cogway -n cogway -f ...` makes them."""
    with helm.Chart.load(str(CHART)) as chart:
        manifests = chart.render(values, name=RELEASE, namespace=NAMESPACE)
    objects = []
    for path, text in sorted(manifests.items()):
        if not path.endswith((".yaml", ".yml")):
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                assert isinstance(doc, dict), f"{path}: not a mapping"
                objects.append(doc)
    return objects


def by_kind(objects: list[dict]) -> dict[str, list[dict]]:
    kinds: dict[str, list[dict]] = {}
    for obj in objects:
        kinds.setdefault(obj["kind"], []).append(obj)
    return kinds


def one(objects: list[dict], kind: str) -> dict:
    found = by_kind(objects).get(kind, [])
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]


def container(objects: list[dict]) -> dict:
    containers = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def env_of(objects: list[dict]) -> dict[str, dict]:
    return {e["name"]: e for e in container(objects)["env"]}


def render_error(values: dict) -> str:
    with pytest.raises(helm.HelmRenderError) as err:
        render(values)
    return str(err.value)


def test_helm_engine_version():
    # The wheel's Helm SDK; the test depends on its rendering, so say which one it is.
    assert helm.helm_sdk_version().startswith("v4."), helm.helm_sdk_version()


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_chart_lints_clean(values_file):
    report = helm.lint(str(CHART), ci_values(values_file), strict=True, namespace=NAMESPACE)
    # Severity 1 is information (e.g. "icon is recommended"); 2 warnings, 3 errors.
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert not problems and not report["errors"], report


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_rendered_objects_match_kubernetes_schemas(values_file, kube_version):
    objects = render(ci_values(values_file))
    assert objects
    failures = []
    for obj in objects:
        name = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(obj, kube_version, strict=True)
        except kubernetes_validate.ValidationError as e:
            where = "/".join(str(p) for p in e.path)
            failures.append(f"{name} at {where or '.'}: {e.message}")
        except kubernetes_validate.SchemaNotFoundError as e:
            failures.append(f"{name}: no schema for it in Kubernetes {kube_version} ({e})")
    assert not failures, "\n".join(failures)


def test_default_values():
    objects = render(ci_values("default-values.yaml"))
    kinds = by_kind(objects)
    assert sorted(kinds) == ["Deployment", "Secret", "Service"]

    deployment = one(objects, "Deployment")
    assert deployment["metadata"]["name"] == FULLNAME
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["automountServiceAccountToken"] is False
    # Longer than the gateway's 30 s of shutdown plus the preStop pause.
    assert pod["terminationGracePeriodSeconds"] > 30 + 5

    c = container(objects)
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert c["image"] == f"cogway:{chart['appVersion']}"
    assert c["ports"] == [{"name": "http", "containerPort": 5000, "protocol": "TCP"}]
    assert c["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    startup = c["startupProbe"]
    assert startup["httpGet"]["path"] == "/ready"
    # Models take up to a minute: give them well over that.
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120
    assert c["resources"]["requests"] and c["resources"]["limits"]
    assert c["securityContext"]["allowPrivilegeEscalation"] is False

    env = env_of(objects)
    for name in CLUSTER_ENV:
        assert name in env, name
    secret = one(objects, "Secret")
    assert secret["metadata"]["name"] == FULLNAME
    for name, key in [
        ("COGWAY__DATABASE__URL", "database-url"),
        ("COGWAY__REDIS__URL", "redis-url"),
        ("COGWAY__AUTH__JWT_SECRET", "jwt-secret"),
        ("COGWAY__AUTH__ADMIN_KEY", "admin-key"),
    ]:
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == FULLNAME and ref["key"] == key, (name, ref)
    assert env["COGWAY__AUTH__ADMIN_KEY"]["valueFrom"]["secretKeyRef"]["optional"] is True
    assert env["COGWAY__CLUSTER__REPLICA_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["COGWAY__BLOBS__BACKEND"]["value"] == "database"
    assert "COGWAY__BLOBS__DIR" not in env
    assert env["COGWAY__JOBS__LEASE_SECS"]["value"] == "30"
    assert env["COGWAY_MODELS_DIR"]["value"] == "/opt/cogway/models"

    # No admin key given: the Secret has none (the optional reference leaves the variable unset).
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert sorted(data) == ["database-url", "jwt-secret", "redis-url"]
    assert data["database-url"].startswith("postgres://")
    assert data["redis-url"].startswith("redis://")
    # Generated (no lookup offline): long enough for the gateway's 32-character minimum.
    assert len(data["jwt-secret"]) >= 32

    # The image's baked models are used: nothing is mounted over them.
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    assert "/opt/cogway/models" not in mounts
    assert mounts == {"/var/lib/cogway"}

    service = one(objects, "Service")
    assert service["spec"]["ports"][0]["port"] == 5000
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_everything_enabled():
    objects = render(ci_values("full-values.yaml"))
    kinds = by_kind(objects)
    assert sorted(kinds) == ["Deployment", "Ingress", "PersistentVolumeClaim", "PodDisruptionBudget", "Service"]
    # existingSecret: the chart makes no Secret and every reference goes to the given one.
    env = env_of(objects)
    for name in ["COGWAY__DATABASE__URL", "COGWAY__REDIS__URL", "COGWAY__AUTH__JWT_SECRET", "COGWAY__AUTH__ADMIN_KEY"]:
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "cogway-settings", name
    deployment = one(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    assert "checksum/secret" not in deployment["spec"]["template"]["metadata"]["annotations"]
    assert env["COGWAY__BLOBS__BACKEND"]["value"] == "directory"
    assert env["COGWAY__BLOBS__DIR"]["value"] == "/var/lib/cogway-blobs"
    assert env["COGWAY__SERVER__WORKERS"]["value"] == "4"
    assert env["COGWAY__LIMITS__DEFAULT_RPS"]["value"] == "50"
    assert env["RUST_LOG"]["value"] == "info"

    claims = {p["metadata"]["name"]: p for p in kinds["PersistentVolumeClaim"]}
    assert sorted(claims) == [f"{FULLNAME}-blobs", f"{FULLNAME}-models"]
    assert claims[f"{FULLNAME}-blobs"]["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claims[f"{FULLNAME}-models"]["spec"]["storageClassName"] == "nfs"

    pod = deployment["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m for m in container(objects)["volumeMounts"]}
    assert volumes["models"]["persistentVolumeClaim"]["claimName"] == f"{FULLNAME}-models"
    assert mounts["models"]["mountPath"] == "/opt/cogway/models" and mounts["models"]["readOnly"] is True
    assert volumes["blobs"]["persistentVolumeClaim"]["claimName"] == f"{FULLNAME}-blobs"
    assert mounts["blobs"]["mountPath"] == "/var/lib/cogway-blobs"

    ingress = one(objects, "Ingress")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    rule = ingress["spec"]["rules"][0]
    assert rule["host"] == "cogway.example.com"
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": FULLNAME, "port": {"name": "http"}}
    assert ingress["spec"]["tls"][0]["secretName"] == "cogway-tls"
    body = ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"]
    assert int(body.rstrip("m")) >= 200

    pdb = one(objects, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]


def test_existing_claims_are_used_not_created():
    values = merged(
        ci_values("full-values.yaml"),
        {"models": {"persistence": {"existingClaim": "my-models"}}, "blobs": {"persistence": {"existingClaim": "my-blobs"}}},
    )
    objects = render(values)
    assert "PersistentVolumeClaim" not in by_kind(objects)
    volumes = {v["name"]: v for v in one(objects, "Deployment")["spec"]["template"]["spec"]["volumes"]}
    assert volumes["models"]["persistentVolumeClaim"]["claimName"] == "my-models"
    assert volumes["blobs"]["persistentVolumeClaim"]["claimName"] == "my-blobs"


def test_given_secrets_go_into_the_secret():
    values = merged(
        ci_values("default-values.yaml"),
        {"auth": {"jwtSecret": "j" * 40, "adminKey": "admin-key-0123456789"}, "podDisruptionBudget": {"enabled": True, "maxUnavailable": 1}},
    )
    objects = render(values)
    data = {k: base64.b64decode(v).decode() for k, v in one(objects, "Secret")["data"].items()}
    assert data["jwt-secret"] == "j" * 40
    assert data["admin-key"] == "admin-key-0123456789"
    pdb = one(objects, "PodDisruptionBudget")
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": pdb["spec"]["selector"]}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"postgres": {"url": ""}}, "set postgres.url"),
        ({"redis": {"url": ""}}, "set redis.url"),
        ({"auth": {"jwtSecret": "too-short"}}, "at least 32 characters"),
        ({"auth": {"adminKey": "short"}}, "at least 16 characters"),
        ({"blobs": {"backend": "tape"}}, "blobs.backend must be database, directory or s3"),
        ({"blobs": {"backend": "s3"}}, "needs blobs.s3.bucket"),
        ({"blobs": {"backend": "s3", "s3": {"bucket": "b"}}}, "needs blobs.s3.accessKeyId"),
        ({"blobs": {"backend": "directory"}}, "needs a volume shared by every replica"),
    ],
)
def test_unworkable_values_fail_the_render(override, message):
    assert message in render_error(merged(ci_values("default-values.yaml"), override))


def test_s3_blobs_take_their_keys_from_the_secret():
    s3 = {"endpoint": "http://minio:9000", "bucket": "cogway-jobs", "accessKeyId": "AKIAEXAMPLE",
          "secretAccessKey": "s" * 40}
    objects = render(merged(ci_values("default-values.yaml"), {"blobs": {"backend": "s3", "s3": s3}}))
    env = env_of(objects)
    assert env["COGWAY__BLOBS__BACKEND"]["value"] == "s3"
    assert env["COGWAY__BLOBS__S3__ENDPOINT"]["value"] == "http://minio:9000"
    assert env["COGWAY__BLOBS__S3__BUCKET"]["value"] == "cogway-jobs"
    assert env["COGWAY__BLOBS__S3__REGION"]["value"] == "us-east-1"
    assert env["COGWAY__BLOBS__S3__PREFIX"]["value"] == "cogway"
    assert "COGWAY__BLOBS__DIR" not in env
    secret = one(objects, "Secret")
    for name, key in [("COGWAY__BLOBS__S3__ACCESS_KEY_ID", "s3-access-key-id"),
                      ("COGWAY__BLOBS__S3__SECRET_ACCESS_KEY", "s3-secret-access-key")]:
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": secret["metadata"]["name"], "key": key}, ref
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data["s3-access-key-id"] == "AKIAEXAMPLE" and data["s3-secret-access-key"] == "s" * 40
    # No volume for blobs: the bucket is shared.
    assert "PersistentVolumeClaim" not in by_kind(objects)


def test_chart_defaults_alone_ask_for_the_database():
    # values.yaml has no Postgres/Redis to point at: installing without them is an error.
    assert "set postgres.url" in render_error({})


def test_chart_matches_the_image():
    dockerfile = DOCKERFILE.read_text()
    chart_values = yaml.safe_load((CHART / "values.yaml").read_text())
    uid = re.search(r"useradd --uid (\d+)", dockerfile).group(1)
    assert chart_values["podSecurityContext"]["runAsUser"] == int(uid)
    assert f"COGWAY_MODELS_DIR={chart_values['models']['dir']}" in dockerfile
    assert "EXPOSE 5000" in dockerfile
    assert "VOLUME /var/lib/cogway" in dockerfile


# ---------------------------------------------------------------------------------------------
# Docker Compose


@pytest.fixture(scope="module")
def compose() -> dict:
    text = COMPOSE.read_text()
    # Strict parse: unknown keys, wrong types, unknown conditions and bad durations are errors.
    parsed = PyOptions(apply_merge=True).from_yaml(text)
    parsed.validate()
    return parsed.to_dict()


REPLICAS = ["cogway-1", "cogway-2"]


def test_compose_services(compose):
    services = compose["services"]
    assert sorted(services) == sorted(REPLICAS + ["nginx", "postgres", "redis"])
    assert services["postgres"]["image"].split(":")[0] == "postgres"
    assert services["postgres"]["image"].split(":")[1].startswith("15")
    assert services["redis"]["image"] == "redis:7"
    # Only the load balancer is published.
    published = [name for name, s in services.items() if s.get("ports")]
    assert published == ["nginx"]


def test_compose_replicas(compose):
    services = compose["services"]
    single = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())["services"]["cogway"]
    envs = []
    for name in REPLICAS:
        s = services[name]
        assert s["image"] == single["image"] == "cogway:latest"
        assert s["build"] == single["build"]
        assert s["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }, name
        assert "/ready" in " ".join(s["healthcheck"]["test"])
        env = dict(s["environment"])
        for var in CLUSTER_ENV:
            assert var in env, (name, var)
        assert env.pop("COGWAY__CLUSTER__REPLICA_ID") == name
        envs.append(env)
    # Apart from the replica id, the replicas are configured alike (the JWT secret above all).
    assert envs[0] == envs[1]
    env = envs[0]
    assert env["COGWAY__DATABASE__URL"].startswith("postgres://") and "@postgres:5432/" in env["COGWAY__DATABASE__URL"]
    assert env["COGWAY__REDIS__URL"] == "redis://redis:6379/0"
    # Required from the caller: compose stops with this message when it is unset.
    assert env["COGWAY__AUTH__JWT_SECRET"].startswith("${COGWAY__AUTH__JWT_SECRET:?")
    # Passed through (null): left unset in the containers when unset in the shell.
    assert env["COGWAY__AUTH__ADMIN_KEY"] is None
    assert env["COGWAY__BLOBS__BACKEND"] in ("database", "directory")
    assert env["COGWAY_MODELS_DIR"] == "/opt/cogway/models"


def test_compose_health_checks(compose):
    services = compose["services"]
    for name in ["postgres", "redis", *REPLICAS]:
        check = services[name].get("healthcheck")
        assert check and check["test"][0] in ("CMD", "CMD-SHELL"), name
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    assert "redis-cli" in services["redis"]["healthcheck"]["test"]
    assert services["nginx"]["depends_on"] == {r: {"condition": "service_healthy"} for r in REPLICAS}


def test_compose_nginx_mounts_the_config(compose):
    volumes = compose["services"]["nginx"]["volumes"]
    assert "./nginx.cluster.conf:/etc/nginx/nginx.conf:ro" in volumes
    assert (COMPOSE.parent / "nginx.cluster.conf").is_file()


# ---------------------------------------------------------------------------------------------
# nginx


def nginx_directives(name: str) -> list[str]:
    text = re.sub(r"#.*", "", NGINX_CONF.read_text())
    return [m.strip() for m in re.findall(rf"^\s*{name}\s+([^;{{}}\n]+);", text, re.M)]


def size_bytes(value: str) -> int:
    m = re.fullmatch(r"(\d+)([kKmMgG]?)", value)
    assert m, value
    return int(m.group(1)) * {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()]


def seconds(value: str) -> int:
    m = re.fullmatch(r"(\d+)(s|m)?", value)
    assert m, value
    return int(m.group(1)) * (60 if m.group(2) == "m" else 1)


def test_nginx_upstream_is_the_replicas(compose):
    servers = [s.split()[0] for s in nginx_directives("server")]
    assert sorted(servers) == sorted(f"{r}:5000" for r in REPLICAS)
    assert set(REPLICAS) <= set(compose["services"])


def test_nginx_settings():
    assert size_bytes(nginx_directives("client_max_body_size")[0]) >= 200 * 1000 * 1000
    for name in ["proxy_read_timeout", "proxy_send_timeout"]:
        assert seconds(nginx_directives(name)[0]) >= 300, name
    headers = nginx_directives("proxy_set_header")
    assert "Upgrade $http_upgrade" in headers
    assert "Connection $connection_upgrade" in headers
    assert nginx_directives("proxy_http_version") == ["1.1"]


def find_nginx() -> str | None:
    return shutil.which("nginx") or next((p for p in ["/usr/sbin/nginx"] if Path(p).exists()), None)


def test_nginx_config_syntax(tmp_path):
    nginx = find_nginx()
    if nginx is None:
        pytest.skip("nginx is not installed (scripts/test_deploy.sh installs nginx-light)")
    text = NGINX_CONF.read_text()
    # The compose service names resolve only on the compose network.
    copy_text, n = re.subn(r"(\bserver\s+)cogway-\d+(:\d+)", r"\g<1>127.0.0.1\2", text)
    assert n == len(REPLICAS)
    conf = tmp_path / "nginx.conf"
    conf.write_text(copy_text)
    result = subprocess.run(
        [nginx, "-t", "-q", "-p", str(tmp_path), "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
