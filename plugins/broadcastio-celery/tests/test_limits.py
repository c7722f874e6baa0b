"""Shared limits (contract 4): the one function that gives a worker's orchestrator its coordinator."""

from __future__ import annotations

import importlib.metadata
import inspect

import pytest
from broadcastio import ConfigurationError, build_orchestrator
from broadcastio_celery._limits import coordinator_arguments


def test_no_limits_url_means_per_process_limits() -> None:
    assert coordinator_arguments(None, "spring") == {}


def test_a_limits_url_gives_a_redis_coordinator_or_says_what_is_missing() -> None:
    url = "redis://127.0.0.1:6379/0"
    if "coordinator" not in inspect.signature(build_orchestrator).parameters:  # before the coordinator is merged
        with pytest.raises(ConfigurationError, match="cannot share limits"):
            coordinator_arguments(url, "spring")
        return
    installed = any(point.name == "redis" for point in importlib.metadata.entry_points(group="broadcastio"))
    if not installed:  # core has coordinators, broadcastio-redis is not installed here
        with pytest.raises(ConfigurationError, match="broadcastio-redis is not installed"):
            coordinator_arguments(url, "spring")
        return
    assert type(coordinator_arguments(url, "spring")["coordinator"]).__name__ == "RedisCoordinator"
