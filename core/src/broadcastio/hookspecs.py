"""Hook specifications: what a broadcastio plugin may implement.

Every hook is prefixed ``broadcastio_``. Observation hooks receive one frozen
event record, run synchronously on the event loop, must be cheap (do I/O in
a background thread or queue of your own), and cannot change the flow: an
exception in one is logged and swallowed, and the other hooks still run.

The event records live in :mod:`broadcastio.events` and are importable from
here too. Implement hooks with :data:`hookimpl`::

    from broadcastio import hookimpl

    class Audit:
        @hookimpl
        def broadcastio_result(self, event):
            ...
"""

from __future__ import annotations

from collections.abc import Iterable

import pluggy

from broadcastio._coordination import CoordinatorType
from broadcastio._provider import ProviderType
from broadcastio._workers import CampaignWorkers
from broadcastio.events import (
    AttemptEvent,
    BreakerChangeEvent,
    FallbackEvent,
    HealthChangeEvent,
    ReceiptEvent,
    ResultEvent,
    SendAbortedEvent,
    SendStartedEvent,
    SkipEvent,
)
from broadcastio.receipts._endpoint import ReceiptEndpoint

__all__ = [
    "PROJECT_NAME",
    "AttemptEvent",
    "BreakerChangeEvent",
    "FallbackEvent",
    "HealthChangeEvent",
    "ResultEvent",
    "SendAbortedEvent",
    "SendStartedEvent",
    "SkipEvent",
    "hookimpl",
    "hookspec",
]

PROJECT_NAME = "broadcastio"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# --- Registration ---------------------------------------------------------


@hookspec
def broadcastio_provider_types() -> Iterable[ProviderType]:
    """Register provider types this plugin offers.

    :returns: :class:`~broadcastio.ProviderType` records; a type name already
        registered by another plugin is refused with a
        :class:`~broadcastio.PluginError`.
    """
    raise NotImplementedError


@hookspec
def broadcastio_coordinator_types() -> Iterable[CoordinatorType]:
    """Register coordinators this plugin offers (shared limits, ``[coordination]`` in ``broadcastio.toml``).

    :returns: :class:`~broadcastio.plugins.CoordinatorType` records; a type
        name already registered by another plugin is refused with a
        :class:`~broadcastio.PluginError`.
    """
    raise NotImplementedError


@hookspec
def broadcastio_receipt_endpoints() -> Iterable[ReceiptEndpoint]:
    """Register the delivery receipt endpoints of this plugin's provider types.

    :returns: :class:`~broadcastio.receipts.ReceiptEndpoint` records; the
        receipts app serves each at ``/<provider name><path>`` for every
        configured provider of its type, with a handler built from that
        provider's settings. The handler verifies the signature first.
    """
    raise NotImplementedError


@hookspec
def broadcastio_campaign_workers() -> Iterable[CampaignWorkers]:
    """Register where journalled campaigns can run outside this process.

    :returns: :class:`~broadcastio.CampaignWorkers` objects; ``broadcastio
        campaign start --workers NAME`` calls the ``start`` of the one named
        ``NAME``. A name registered twice, or ``local`` (the command's own
        process), is refused with a :class:`~broadcastio.PluginError`.
    """
    raise NotImplementedError


# --- Delivery lifecycle -----------------------------------------------------


@hookspec
def broadcastio_send_started(event: SendStartedEvent) -> None:
    """Called when the orchestrator starts delivering a message.

    :param event: the message, the providers in routing order, the start time.
    """


@hookspec
def broadcastio_attempt(event: AttemptEvent) -> None:
    """Called after every provider attempt, successful or not.

    :param event: the attempt, with its provider, number, duration and error.
    """


@hookspec
def broadcastio_provider_skipped(event: SkipEvent) -> None:
    """Called when a provider is passed over without a call.

    :param event: the provider and why (no address, unhealthy, circuit open).
    """


@hookspec
def broadcastio_fallback(event: FallbackEvent) -> None:
    """Called when delivery moves on from a failed provider to the next.

    :param event: the provider that failed, its last error, the next provider.
    """


@hookspec
def broadcastio_result(event: ResultEvent) -> None:
    """Called once per message with its final result.

    :param event: the message, the result and how long delivery took.
    """


@hookspec
def broadcastio_send_aborted(event: SendAbortedEvent) -> None:
    """Called instead of :func:`broadcastio_result` when delivering a message
    raised (configuration error, strict health, cancellation), so observers can
    close what :func:`broadcastio_send_started` opened.

    :param event: the message, the exception's type and text, and the time spent.
    """


# --- Health -------------------------------------------------------------------


@hookspec
def broadcastio_health_changed(event: HealthChangeEvent) -> None:
    """Called when a provider's active health check changes its answer.

    :param event: the provider, the new health and whether it was healthy before.
    """


@hookspec
def broadcastio_breaker_changed(event: BreakerChangeEvent) -> None:
    """Called when a provider's circuit breaker changes state.

    :param event: the provider, the new and previous state, and when.
    """


# --- Receipts -------------------------------------------------------------------


@hookspec
def broadcastio_receipt(event: ReceiptEvent) -> None:
    """Called for each verified delivery receipt, after the sink recorded it.

    :param event: the receipt and what the sink did with it
        (``recorded``, ``duplicate``, ``orphaned`` or ``stale``).
    """
