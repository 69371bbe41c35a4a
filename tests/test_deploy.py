"""What an operations team deploys (`deploy/`): every Kubernetes manifest validates against the Kubernetes schemas
(`kubernetes-validate`, offline), the production overlay renders, every installed service is deployed (image,
database URL, gateway subgraph URL, migrations, network access; the portal without database, with NATS for its
revoked sessions), and the
invariants hold: probes on /readyz and /healthz, non-root read-only containers with requests and limits, an
autoscaler and a disruption budget per Deployment, only the gateway and the portal exposed, subgraphs reachable from
the gateway only, NATS as three fsyncing nodes, PostgreSQL as a three-instance CloudNativePG cluster with a role pair
per service; and each image definition is multi-stage, pinned and non-root."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from demimas_common.service import discover_services
from demimas_gateway.settings import GatewaySettings

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "deploy" / "k8s" / "base"
OVERLAY = ROOT / "deploy" / "k8s" / "overlays" / "production"
K8S_VERSION = "1.31.0"
SERVICES = {"registry": 4001, "designation": 4002, "pillars": 4003, "audit": 4004, "cases": 4005, "feeds": 4006}
PAGES = {"portal": 4007}  # page-only services: no database, not a subgraph; people reach them
CUSTOM = {("postgresql.cnpg.io/v1", "Cluster")}  # CloudNativePG's CRD: checked by hand below


def _documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def base() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    docs = [d for name in kustomization["resources"] for d in _documents(BASE / name)]
    for d in docs:
        if d["kind"] != "Namespace":
            d.setdefault("metadata", {})["namespace"] = kustomization["namespace"]
    return docs


def _merge(into: Any, patch: Any) -> Any:
    """Strategic merge as kustomize does it for these patches: maps merged, lists of named items merged by name."""
    if isinstance(into, dict) and isinstance(patch, dict):
        for key, value in patch.items():
            into[key] = _merge(into[key], value) if key in into else copy.deepcopy(value)
        return into
    if isinstance(into, list) and isinstance(patch, list) and all(isinstance(i, dict) and "name" in i for i in patch):
        by_name = {i.get("name"): i for i in into if isinstance(i, dict)}
        for item in patch:
            if item["name"] in by_name:
                _merge(by_name[item["name"]], item)
            else:
                into.append(copy.deepcopy(item))
        return into
    return copy.deepcopy(patch)


def production() -> list[dict[str, Any]]:
    overlay = yaml.safe_load((OVERLAY / "kustomization.yaml").read_text())
    docs = base()
    index = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    for patch_ref in overlay.get("patches", []):
        for patch in _documents(OVERLAY / patch_ref["path"]):
            _merge(index[(patch["kind"], patch["metadata"]["name"])], patch)
    for r in overlay.get("replicas", []):
        index[("Deployment", r["name"])]["spec"]["replicas"] = r["count"]
    tags = {i["name"]: i["newTag"] for i in overlay.get("images", [])}
    for d in docs:
        spec = d.get("spec", {}).get("template", {}).get("spec", {})
        for c in spec.get("containers", []):
            name = c["image"].rsplit(":", 1)[0]
            if name in tags:
                c["image"] = f"{name}:{tags[name]}"
    return docs


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


@pytest.mark.parametrize("render", [base, production], ids=["base", "production"])
def test_every_manifest_validates_against_the_kubernetes_schemas(render: Any) -> None:
    docs = render()
    assert len(docs) > 30
    for d in docs:
        if (d["apiVersion"], d["kind"]) in CUSTOM:
            continue
        kubernetes_validate.validate(d, K8S_VERSION, strict=True)


def test_kustomize_renders_the_overlay_like_our_reading_of_it() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (with its built-in kustomize) is not installed")
    out = subprocess.run([kubectl, "kustomize", str(OVERLAY)], capture_output=True, text=True, check=True).stdout
    rendered = [d for d in yaml.safe_load_all(out) if d]
    for d in rendered:
        if (d["apiVersion"], d["kind"]) not in CUSTOM:
            kubernetes_validate.validate(d, K8S_VERSION, strict=True)
    ours = {(d["kind"], d["metadata"]["name"]): d for d in production()}
    theirs = {(d["kind"], d["metadata"]["name"]): d for d in rendered}
    assert set(ours) == set(theirs)
    for key in [k for k in ours if k[0] in ("Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget")]:
        assert theirs[key]["spec"].get("replicas") == ours[key]["spec"].get("replicas"), key
        assert theirs[key]["spec"].get("minReplicas") == ours[key]["spec"].get("minReplicas"), key


@pytest.mark.parametrize("render", [base, production], ids=["base", "production"])
def test_deployments_are_probed_non_root_limited_scaled_and_protected(render: Any) -> None:
    docs = render()
    deployments, hpas, pdbs = (
        of_kind(docs, "Deployment"),
        of_kind(docs, "HorizontalPodAutoscaler"),
        of_kind(docs, "PodDisruptionBudget"),
    )
    assert set(deployments) == {*SERVICES, *PAGES, "gateway"}
    for name, d in deployments.items():
        pod = d["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert d["spec"]["replicas"] >= 2, name
        for c in pod["containers"]:
            assert c["readinessProbe"]["httpGet"]["path"] == "/readyz", name
            assert c["livenessProbe"]["httpGet"]["path"] == "/healthz", name
            assert c["securityContext"]["runAsNonRoot"] is True
            assert c["securityContext"]["readOnlyRootFilesystem"] is True
            assert c["securityContext"]["allowPrivilegeEscalation"] is False
            assert {"cpu", "memory"} <= set(c["resources"]["requests"]) & set(c["resources"]["limits"]), name
        assert hpas[name]["spec"]["scaleTargetRef"]["name"] == name
        assert hpas[name]["spec"]["minReplicas"] >= 2
        assert pdbs[name]["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": name}


def test_every_service_is_deployed() -> None:
    """A new service joins SERVICES (and so every check here): the services installed are the services deployed,
    each with its image, its database URL, a way to NATS and PostgreSQL, a subgraph URL in the gateway and its
    migrations in the migrate image."""
    assert {s.name: s.port for s in discover_services() if s.database} == SERVICES
    assert {s.name: s.port for s in discover_services() if not s.database} == PAGES
    docs = base()
    deployments = of_kind(docs, "Deployment")
    [gateway] = deployments["gateway"]["spec"]["template"]["spec"]["containers"]
    urls = yaml.safe_load(next(e["value"] for e in gateway["env"] if e["name"] == "DEMIMAS_GATEWAY_SUBGRAPH_URLS"))
    assert urls == {n: f"http://{n}.demimas.svc.cluster.local:{port}/graphql" for n, port in SERVICES.items()}
    secret = of_kind(docs, "Secret")["demimas-database"]["stringData"]
    policies = of_kind(docs, "NetworkPolicy")
    migrate = (ROOT / "deploy" / "docker" / "migrate.Dockerfile").read_text()
    tags = {i["name"] for i in yaml.safe_load((OVERLAY / "kustomization.yaml").read_text())["images"]}
    for name, port in SERVICES.items():
        [container] = deployments[name]["spec"]["template"]["spec"]["containers"]
        assert container["image"].startswith(f"ghcr.io/demimas/{name}:"), name
        assert container["ports"] == [{"name": "http", "containerPort": port}], name
        [db] = [e for e in container["env"] if e["name"] == "DEMIMAS_DATABASE_URL"]
        key = db["valueFrom"]["secretKeyRef"]["key"]
        assert key == f"{name}-url", name
        assert secret[key].startswith(f"postgresql://{name}_app:"), name
        for policy in ("nats-from-services", "postgres-from-services"):
            [selector] = policies[policy]["spec"]["ingress"][0]["from"][0]["podSelector"]["matchExpressions"]
            assert name in selector["values"], (policy, name)
        assert f"COPY services/{name} services/{name}" in migrate, name
        assert f"./services/{name}" in migrate, name
        assert f"ghcr.io/demimas/{name}" in tags, name
        assert f'"--port", "{port}"' in (ROOT / "deploy" / "docker" / f"{name}.Dockerfile").read_text(), name


def test_only_the_gateway_and_the_pages_are_exposed_and_subgraphs_accept_only_the_gateway() -> None:
    docs = base()
    services = of_kind(docs, "Service")
    exposed = {n for n, s in services.items() if s["spec"].get("type", "ClusterIP") != "ClusterIP"}
    assert exposed == {"gateway", *PAGES}
    policies = of_kind(docs, "NetworkPolicy")
    assert policies["default-deny-ingress"]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    for name, port in SERVICES.items():
        [rule] = policies[name]["spec"]["ingress"]
        assert rule["from"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "gateway"}}}], name
        assert rule["ports"] == [{"protocol": "TCP", "port": port}]
    assert all("from" not in r for r in policies["gateway"]["spec"]["ingress"])  # the API's public door
    for name, port in PAGES.items():  # people's door: from anywhere, to its port only
        assert policies[name]["spec"]["ingress"] == [{"ports": [{"protocol": "TCP", "port": port}]}], name


def test_the_portal_is_deployed_without_database_but_with_nats() -> None:
    """A page-only service: its image and port, the gateway as its only data source, its session key and OIDC
    client secret from a Secret, no way to PostgreSQL (no database URL, no migrations, not in its network policy, no
    database roles), and NATS for its revoked sessions (DEMIMAS_NATS_URL, which production requires of it, from
    demimas-config; let in by NATS's network policy)."""
    docs = base()
    deployments, policies = of_kind(docs, "Deployment"), of_kind(docs, "NetworkPolicy")
    migrate = (ROOT / "deploy" / "docker" / "migrate.Dockerfile").read_text()
    tags = {i["name"] for i in yaml.safe_load((OVERLAY / "kustomization.yaml").read_text())["images"]}
    config = of_kind(docs, "ConfigMap")["demimas-config"]["data"]
    [cluster] = [d for d in docs if d["kind"] == "Cluster"]
    roles = {r["name"] for r in cluster["spec"]["managed"]["roles"]}
    for name, port in PAGES.items():
        [container] = deployments[name]["spec"]["template"]["spec"]["containers"]
        assert container["image"].startswith(f"ghcr.io/demimas/{name}:"), name
        assert container["ports"] == [{"name": "http", "containerPort": port}], name
        env = {e["name"]: e for e in container["env"]}
        assert "DEMIMAS_DATABASE_URL" not in env
        assert env["DEMIMAS_PORTAL_SESSION_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "demimas-portal"
        assert env["DEMIMAS_PORTAL_OIDC_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "demimas-portal"
        assert env["DEMIMAS_PORTAL_OIDC_REDIRECT_URL"]["value"].endswith("/auth/callback")
        assert config["DEMIMAS_GATEWAY_URL"] == "http://gateway.demimas.svc.cluster.local:4000/graphql"
        assert {"configMapRef": {"name": "demimas-config"}} in container["envFrom"]
        assert config["DEMIMAS_NATS_URL"].startswith("nats://")
        [selector] = policies["postgres-from-services"]["spec"]["ingress"][0]["from"][0]["podSelector"][
            "matchExpressions"
        ]
        assert name not in selector["values"], name
        [selector] = policies["nats-from-services"]["spec"]["ingress"][0]["from"][0]["podSelector"]["matchExpressions"]
        assert name in selector["values"], name
        assert f"services/{name}" not in migrate, name
        assert not {r for r in roles if r.startswith(f"{name}_")}, name
        assert f"ghcr.io/demimas/{name}" in tags, name
        assert f'"--port", "{port}"' in (ROOT / "deploy" / "docker" / f"{name}.Dockerfile").read_text(), name


def test_nats_is_three_fsyncing_nodes_and_the_stream_three_replicas() -> None:
    docs = base()
    nats = of_kind(docs, "StatefulSet")["nats"]
    assert nats["spec"]["replicas"] == 3
    conf = of_kind(docs, "ConfigMap")["nats-config"]["data"]["nats.conf"]
    assert re.search(r"sync_interval:\s*always", conf)
    assert len(re.findall(r"nats://nats-\d\.nats-cluster", conf)) == 3
    assert of_kind(docs, "ConfigMap")["demimas-config"]["data"]["DEMIMAS_STREAM_REPLICAS"] == "3"
    assert of_kind(docs, "PodDisruptionBudget")["nats"]["spec"]["minAvailable"] == 2


def test_postgres_is_a_three_instance_cluster_with_a_role_pair_per_service() -> None:
    [cluster] = [d for d in base() if d["kind"] == "Cluster"]
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    assert cluster["spec"]["instances"] == 3
    roles = {r["name"] for r in cluster["spec"]["managed"]["roles"]}
    assert roles == {f"{s}_{kind}" for s in SERVICES for kind in ("owner", "app")}
    job = of_kind(base(), "Job")["demimas-migrate"]
    assert job["spec"]["template"]["spec"]["containers"][0]["image"].startswith("ghcr.io/demimas/migrate:")


def test_postgres_logs_no_personal_data_as_the_devstack() -> None:
    from demimas_common.devstack.postgres import PRIVACY_SETTINGS

    [cluster] = [d for d in base() if d["kind"] == "Cluster"]
    parameters = {k: str(v) for k, v in cluster["spec"]["postgresql"]["parameters"].items()}
    assert parameters.items() >= PRIVACY_SETTINGS.items()


@pytest.mark.parametrize("name", [*SERVICES, *PAGES, "gateway", "migrate"])
def test_each_image_is_multi_stage_pinned_and_non_root(name: str) -> None:
    text = (ROOT / "deploy" / "docker" / f"{name}.Dockerfile").read_text()
    bases = re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE)
    assert len(bases) == 2  # build stage, runtime stage
    assert all(re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", b) for b in bases), bases
    assert re.search(r"^USER 10001:10001$", text, flags=re.MULTILINE)
    assert "--constraint constraints.txt" in text  # the pinned versions, as in development


@pytest.mark.parametrize("render", [base, production], ids=["base", "production"])
def test_the_gateway_runs_with_rate_limits_and_the_cost_limit(render: Any) -> None:
    """Issue 15: the limits are set explicitly in the manifests, to the documented defaults, and parse."""
    [container] = of_kind(render(), "Deployment")["gateway"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container.get("env", ()) if "value" in e}
    limits = {k: v for k, v in env.items() if k.endswith(("_RATE_LIMIT", "_RATE_LIMITS", "_MAX_COST"))}
    assert set(limits) >= {
        "DEMIMAS_GATEWAY_DEFAULT_RATE_LIMIT",
        "DEMIMAS_GATEWAY_ANONYMOUS_RATE_LIMIT",
        "DEMIMAS_GATEWAY_MAX_COST",
    }
    settings = GatewaySettings.model_validate(
        {k.removeprefix("DEMIMAS_").lower(): yaml.safe_load(v) for k, v in limits.items()}
    )
    defaults = GatewaySettings()
    assert settings.gateway_default_rate_limit == defaults.gateway_default_rate_limit == (50, 100)
    assert settings.gateway_anonymous_rate_limit == defaults.gateway_anonymous_rate_limit == (5, 10)
    assert settings.gateway_max_cost == defaults.gateway_max_cost
