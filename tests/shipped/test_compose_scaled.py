"""docker-compose.yml's `scaled` profile (docs/scaling.md): a pinned official Redis and two mockidp replicas over it
behind one alias, each with a health check, nothing of it started by a plain `docker compose up`."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from mockidp.redis_store import parse_url

from .conftest import REPO


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    return dict(yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"])


def test_redis_is_the_official_image_pinned_with_a_health_check(services: dict[str, Any]) -> None:
    redis = services["redis"]
    assert re.fullmatch(r"redis:\d+\.\d+\.\d+(-alpine)?(@sha256:[0-9a-f]{64})?", redis["image"]), redis["image"]
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"] and redis["profiles"] == ["scaled"]


def test_two_replicas_share_redis_one_alias_and_one_ca(services: dict[str, Any]) -> None:
    replica, single = services["mockidp-scaled"], services["mockidp"]
    assert replica["deploy"]["replicas"] == 2 and replica["profiles"] == ["scaled"] and "profiles" not in single
    url, prefix = parse_url(replica["environment"]["MOCKIDP_STORE"])
    assert url.startswith("redis://redis:6379/") and prefix == "mockidp"
    assert replica["depends_on"]["redis"]["condition"] == "service_healthy"
    assert replica["networks"]["default"]["aliases"] == ["mockidp-scaled"]
    assert replica["environment"]["MOCKIDP_TLS_NAMES"] == "mockidp-scaled" and replica["environment"]["MOCKIDP_ALLOWED_HOSTS"] == "mockidp-scaled"
    assert replica["healthcheck"]["test"] == single["healthcheck"]["test"]
    # One state dir and CA for both (the CA is made under a file lock); not the single service's volumes.
    assert replica["volumes"] == ["mockidp-scaled-state:/var/lib/mockidp", "mockidp-scaled-ca:/var/lib/mockidp/ca"]
    assert not any(str(p) for p in replica.get("ports", []))  # two replicas cannot publish one host port
