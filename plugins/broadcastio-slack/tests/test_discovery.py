"""The plugin is found through its entry point and builds both provider types."""

from __future__ import annotations

from broadcastio import make_plugin_manager
from broadcastio_slack import SlackProvider, SlackWebhookProvider

TOKEN = "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUvWx"


def test_entry_point_registers_both_types() -> None:
    """BROADCASTIO_PLUGINS=slack registers ``slack`` and ``slack-webhook`` on the ``slack`` channel."""
    manager = make_plugin_manager(env={"BROADCASTIO_PLUGINS": "slack"})
    types = manager.provider_types()
    assert types["slack"].channel == "slack"
    assert types["slack-webhook"].channel == "slack"
    bot = manager.create_provider("slack", name="ops-bot", token=TOKEN)
    assert isinstance(bot, SlackProvider)
    assert bot.name == "ops-bot"
    hook = manager.create_provider("slack-webhook", name="ops-hook", url="https://hooks.slack.com/services/T1/B1/x")
    assert isinstance(hook, SlackWebhookProvider)
    assert hook.channel == "slack"
