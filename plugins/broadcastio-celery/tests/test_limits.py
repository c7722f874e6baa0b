"""Shared limits: the one function that gives a worker's orchestrator its coordinator."""

from __future__ import annotations

import pytest
from broadcastio import ConfigurationError, make_plugin_manager
from broadcastio.testing import isolated_plugin_manager
from broadcastio_celery._limits import coordinator_arguments


def test_no_limits_url_means_per_process_limits() -> None:
    assert coordinator_arguments(None, "spring", make_plugin_manager()) == {}


def test_a_limits_url_gives_the_redis_coordinator_of_the_campaign() -> None:
    found = coordinator_arguments("redis://127.0.0.1:6379/0", "spring", make_plugin_manager())
    coordinator = found["coordinator"]
    assert type(coordinator).__name__ == "RedisCoordinator"
    assert "spring" in repr(coordinator)


def test_without_broadcastio_redis_a_limits_url_is_a_configuration_error_naming_it() -> None:
    with pytest.raises(ConfigurationError, match="broadcastio-redis"):
        coordinator_arguments("redis://127.0.0.1:6379/0", "spring", isolated_plugin_manager())
