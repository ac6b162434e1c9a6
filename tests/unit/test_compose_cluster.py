"""docker-compose.yml's `cluster` profile, checked by reading it (Docker cannot run here): ZooKeeper, two ClickHouse
shards, PostgreSQL, two Canary nodes and an nginx proxy; every Canary variable a setting that starts Canary; the
ClickHouse and nginx files of deploy/cluster/ naming the same cluster, hosts, ports and credentials as the
services."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from idp.settings import OPTIONS, Settings

ROOT = Path(__file__).resolve().parents[2]
CLUSTER_SERVICES = {"zookeeper", "clickhouse-1", "clickhouse-2", "canary-migrate", "canary-1", "canary-2", "proxy"}
NODES = ("canary-1", "canary-2")
SHARDS = ("clickhouse-1", "clickhouse-2")
CLUSTER_SETTING = "CANARY_ANALYTICS_CLUSTER"
"""The setting that switches the ClickHouse schema to the cluster (ON CLUSTER, Replicated and Distributed)."""


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = compose["services"]
    return found


def _substitute(value: object) -> str:
    """``${VAR:-default}`` as compose substitutes it with VAR unset."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(value))


def _env(service: dict[str, Any]) -> dict[str, str]:
    return {name: _substitute(value) for name, value in service.get("environment", {}).items()}


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> source (a named volume, or a path relative to the compose file)."""
    found = {}
    for entry in service.get("volumes", []):
        source, target = entry.split(":")[:2]
        found[target] = source
    return found


def _xml(service: dict[str, Any], target: str) -> ET.Element:
    source = _mounts(service)[target]
    assert source.startswith("./"), source
    return ET.parse(ROOT / source).getroot()


def _cluster_name(services: dict[str, Any]) -> str:
    return _env(services["canary-1"])[CLUSTER_SETTING]


def test_the_profile_holds_its_services_and_the_default_ones_still_start_without_it(services: dict[str, Any]) -> None:
    profiled = {name for name, service in services.items() if "cluster" in service.get("profiles", [])}
    assert profiled == CLUSTER_SERVICES
    for name in ("canary", "postgres", "clickhouse"):  # `docker compose up` as before
        assert "profiles" not in services[name], name
    assert services["zookeeper"]["image"].startswith("zookeeper:")
    for shard in SHARDS:
        assert services[shard]["image"] == services["clickhouse"]["image"]
    assert services["proxy"]["image"].startswith("nginx:")
    assert {services[name].get("build") for name in (*NODES, "canary-migrate")} == {services["canary"]["build"]}


def test_every_canary_variable_is_a_setting_and_the_values_start_canary(services: dict[str, Any]) -> None:
    known = {option.env for option in OPTIONS}
    for name in (*NODES, "canary-migrate"):
        environment = _env(services[name])
        assert set(environment) <= known, name
        assert environment[CLUSTER_SETTING]
        settings = Settings.from_env({**environment, "CANARY_HOST": "0.0.0.0"})
        assert settings.workers > 1 and settings.analytics_url and not settings.embedded_database
        assert settings.analytics_cluster == environment[CLUSTER_SETTING]
        assert len(settings.key_encryption_key) >= 32
        # The issuer is the proxy's address; the nodes listen on its port, so nothing warns of a mismatch.
        assert not [w for w in settings.warnings() if "listens on" in w], settings.warnings()


def test_the_nodes_share_everything_but_their_spool_and_their_clickhouse_server(services: dict[str, Any],
                                                                               compose: dict[str, Any]) -> None:
    first, second = (_env(services[name]) for name in NODES)
    differing = {k for k in first.keys() | second.keys() if first.get(k) != second.get(k)}
    assert differing == {"CANARY_ANALYTICS_URL"}
    data_volumes = []
    for name in (*NODES, "canary-migrate"):
        mounts = _mounts(services[name])
        volume = mounts[_env(services[name])["CANARY_DATA_DIR"]]
        assert volume in compose["volumes"], volume
        data_volumes.append(volume)
    assert len(set(data_volumes)) == 3, "each node has its own data directory, and so its own spool"
    assert services["canary"]["volumes"][0].split(":")[0] not in data_volumes

    postgres = services["postgres"]["environment"]
    for name in (*NODES, "canary-migrate"):
        environment = _env(services[name])
        accounts = urlsplit(environment["CANARY_DATABASE_URL"])
        assert (accounts.hostname, accounts.port, accounts.path) == ("postgres", 5432, f"/{postgres['POSTGRES_DB']}")
        assert (accounts.username, accounts.password) == (postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"])
        analytics = urlsplit(environment["CANARY_ANALYTICS_URL"])
        assert analytics.scheme == "clickhouse+native" and analytics.hostname in SHARDS and analytics.port == 9000
        shard = services[analytics.hostname]["environment"]
        assert (analytics.username, analytics.password, analytics.path) == (
            shard["CLICKHOUSE_USER"], shard["CLICKHOUSE_PASSWORD"], f"/{shard['CLICKHOUSE_DB']}")
    assert {urlsplit(_env(services[name])["CANARY_ANALYTICS_URL"]).hostname for name in NODES} == set(SHARDS)


def test_dependencies_wait_for_health_and_for_the_migration(services: dict[str, Any]) -> None:
    for name in CLUSTER_SERVICES:
        for target, rule in services[name].get("depends_on", {}).items():
            assert target in services, (name, target)
            condition = rule["condition"]
            if condition == "service_healthy":
                check = services[target].get("healthcheck", {})
                assert check.get("test") and not check.get("disable"), (name, target)
            else:
                assert (condition, target) == ("service_completed_successfully", "canary-migrate"), (name, target)
    assert set(services["canary-migrate"]["depends_on"]) == {"postgres", *SHARDS}
    assert services["canary-migrate"]["command"] == ["canary", "migrate"]
    for node in NODES:
        assert set(services[node]["depends_on"]) == {"postgres", "canary-migrate"}
        assert services[node]["command"] == ["canary", "serve"] and "ports" not in services[node]
    for shard in SHARDS:
        assert set(services[shard]["depends_on"]) == {"zookeeper"}
    assert set(services["proxy"]["depends_on"]) == set(NODES)


def test_node_health_checks_ask_readiness_where_the_node_listens(services: dict[str, Any]) -> None:
    for node in NODES:
        check = " ".join(services[node]["healthcheck"]["test"])
        port = _env(services[node])["CANARY_PORT"]
        assert f"http://127.0.0.1:{port}/readyz" in check


def test_the_clickhouse_files_name_the_cluster_its_shards_and_zookeeper(services: dict[str, Any]) -> None:
    cluster = _cluster_name(services)
    shards_by_host: dict[str, str] = {}
    for index, name in enumerate(SHARDS, start=1):
        service = services[name]
        remote = _xml(service, "/etc/clickhouse-server/config.d/remote_servers.xml")
        definitions = remote.find("remote_servers")
        assert definitions is not None
        [definition] = list(definitions)
        assert definition.tag == cluster
        shards = definition.findall("shard")
        assert len(shards) == 2 and all(len(shard.findall("replica")) == 1 for shard in shards)
        for number, shard in enumerate(shards, start=1):
            assert shard.findtext("internal_replication") == "true"
            replica = shard.find("replica")
            assert replica is not None
            host = replica.findtext("host")
            assert host in SHARDS and replica.findtext("port") == "9000"
            credentials = services[str(host)]["environment"]
            assert replica.findtext("user") == credentials["CLICKHOUSE_USER"]
            assert replica.findtext("password") == credentials["CLICKHOUSE_PASSWORD"]
            assert shards_by_host.setdefault(str(host), str(number)) == str(number)

        macros = _xml(service, "/etc/clickhouse-server/config.d/macros.xml").find("macros")
        assert macros is not None
        assert (macros.findtext("cluster"), macros.findtext("replica")) == (cluster, name)
        assert macros.findtext("shard") == shards_by_host[name] == str(index)

        zookeeper = _xml(service, "/etc/clickhouse-server/config.d/zookeeper.xml").find("zookeeper")
        assert zookeeper is not None
        nodes = [(node.findtext("host"), node.findtext("port")) for node in zookeeper.findall("node")]
        assert nodes == [("zookeeper", "2181")]
    assert set(shards_by_host) == set(SHARDS)


def test_the_proxy_balances_the_nodes_on_the_issuer_port(services: dict[str, Any]) -> None:
    proxy = services["proxy"]
    source = _mounts(proxy)["/etc/nginx/nginx.conf"]
    config = (ROOT / source).read_text()
    code = "\n".join(line.split("#", 1)[0] for line in config.splitlines())
    assert code.count("{") == code.count("}")
    upstreams = dict(re.findall(r"upstream\s+(\S+)\s*\{([^}]*)\}", code))
    [(upstream, body)] = upstreams.items()
    servers = re.findall(r"^\s*server\s+([^\s:;]+):(\d+)([^;]*);", body, re.M)
    node_port = _env(services["canary-1"])["CANARY_PORT"]
    assert [(host, port) for host, port, _ in servers] == [(node, node_port) for node in NODES]
    assert all("max_fails=" in options and "fail_timeout=" in options for _, _, options in servers)
    assert re.search(rf"proxy_pass\s+http://{re.escape(upstream)};", code)
    assert "proxy_next_upstream " in code
    # The nodes trust the header from anywhere (the proxy's address is not fixed): the proxy sets it, so a client
    # cannot choose the address that the per-address sign-in limits count.
    assert _env(services["canary-1"])["CANARY_FORWARDED_ALLOW_IPS"] == "*"
    assert re.findall(r"proxy_set_header\s+X-Forwarded-For\s+(\S+);", code) == ["$remote_addr"]
    assert re.search(r"location\s*=\s*/metrics\s*\{\s*return\s+404;", code), "metrics stay per node"

    [listen] = re.findall(r"^\s*listen\s+(\d+);", code, re.M)
    [published] = proxy["ports"]
    host_address, host_port, container_port = published.split(":")
    assert container_port == listen and host_address == "127.0.0.1"
    issuer = urlsplit(_env(services["canary-1"])["CANARY_ISSUER"])
    assert (issuer.hostname, str(issuer.port)) == ("localhost", host_port)
    assert "/healthz" in " ".join(proxy["healthcheck"]["test"])


def test_every_mounted_file_exists_and_every_named_volume_is_declared(services: dict[str, Any],
                                                                     compose: dict[str, Any]) -> None:
    for name in CLUSTER_SERVICES:
        for source in _mounts(services[name]).values():
            if source.startswith("./"):
                assert (ROOT / source).is_file(), source
            else:
                assert source in compose["volumes"], source
