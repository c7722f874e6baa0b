"""The plugin is found through its entry point and registers both types."""

from __future__ import annotations

from broadcastio import make_plugin_manager
from broadcastio_aws import SesProvider, SnsProvider


def test_ses_and_sns_types_are_discovered() -> None:
    """BROADCASTIO_PLUGINS=aws registers ``ses`` (email) and ``sns`` (sms) and builds both."""
    manager = make_plugin_manager(env={"BROADCASTIO_PLUGINS": "aws"})
    types = manager.provider_types()
    assert types["ses"].channel == "email"
    assert types["sns"].channel == "sms"
    keys = {"access_key_id": "AKIDEXAMPLE", "secret_access_key": "secret", "region": "us-east-1"}
    ses = manager.create_provider("ses", name="mail", from_address="a@example.com", **keys)
    sns = manager.create_provider("sns", name="text", **keys)
    assert isinstance(ses, SesProvider)
    assert isinstance(sns, SnsProvider)
    assert ses.endpoint_url == "https://email.us-east-1.amazonaws.com"
    assert sns.endpoint_url == "https://sns.us-east-1.amazonaws.com"
