"""broadcastio-redis is found through its entry point and builds from a [coordination] section."""

from __future__ import annotations

from pathlib import Path

import redis.asyncio as aioredis
from broadcastio import Message, build_orchestrator
from broadcastio.plugins import make_plugin_manager
from broadcastio.testing.services import RedisServer
from broadcastio_redis import RedisCoordinator


def test_the_redis_coordinator_type_is_registered() -> None:
    """The installed plugin registers coordinator type ``redis``, built by RedisCoordinator."""
    manager = make_plugin_manager(env={"BROADCASTIO_PLUGINS": "redis"})
    assert not manager.failures
    assert manager.coordinator_types()["redis"].factory is RedisCoordinator


async def test_a_config_file_gives_every_orchestrator_the_shared_limits(redis: RedisServer, tmp_path: Path) -> None:
    """[coordination] type = "redis" with the URL from the environment: sends go through Redis."""
    path = tmp_path / "broadcastio.toml"
    path.write_text(
        '[coordination]\ntype = "redis"\nsettings = { url = "${REDIS_URL}", namespace = "from-config" }\n'
        '[[providers]]\nname = "m"\ntype = "memory"\nrate_limit = { per_second = 1000 }\n',
        encoding="utf-8",
    )
    orchestrator = build_orchestrator(
        path, plugin_manager=make_plugin_manager(env={"BROADCASTIO_PLUGINS": "redis"}), env={"REDIS_URL": redis.url}
    )
    coordinator = orchestrator.coordinator
    assert isinstance(coordinator, RedisCoordinator)
    assert coordinator.namespace == "from-config"
    assert (await orchestrator.asend(Message(recipient="x", text="hi"))).ok
    await orchestrator.aclose()
    client = aioredis.Redis.from_url(redis.url)
    assert await client.exists("from-config:{m}:rate") == 1  # the token came from the shared bucket
    await client.aclose()
