"""Campaign workers: what runs a journalled campaign outside this process.

``broadcastio campaign start --workers NAME`` journals the whole campaign
first, then hands it to the :class:`CampaignWorkers` a plugin registered
under ``NAME`` through the ``broadcastio_campaign_workers`` hook (for
example ``celery`` from broadcastio-celery). The workers send the rows
through the outbox like any runner (``Orchestrator.aresume(outbox,
campaign=..., rows=(first, last))``), so every outbox guarantee holds and
``campaign status``/``pause``/``resume``/``cancel`` work on them unchanged.
``local`` is not a plugin: it is the command's own process.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol, runtime_checkable

from broadcastio._errors import PluginError

__all__ = ["LOCAL_WORKERS", "CampaignWorkers", "campaign_workers"]

LOCAL_WORKERS = "local"
"""The name of running the campaign in the command's own process (reserved)."""


@runtime_checkable
class CampaignWorkers(Protocol):
    """Somewhere a journalled campaign's rows are sent: a pool of worker processes.

    ``name`` is what ``--workers`` selects (``"celery"``). A plain class with
    this attribute and method conforms; subclassing is not needed.
    """

    name: str

    def start(
        self,
        outbox_url: str,
        campaign: str,
        *,
        total_rows: int,
        chunk_size: int,
        config_path: str | None,
        options: Mapping[str, str],
    ) -> int:
        """Enqueue the chunks of campaign ``campaign``, already journalled in the outbox at
        ``outbox_url`` (a SQLite path or a ``postgresql://`` DSN): input rows 1..``total_rows``,
        ``chunk_size`` rows each. Return how many chunks were enqueued; do not wait for them.

        :param config_path: the ``broadcastio.toml`` the workers build their orchestrator
            from (None: the workers' own default).
        :param options: ``via`` (comma-separated route), ``concurrency``, ``deadline``
            when given, and every ``--worker-option KEY=VALUE``.
        :raises BroadcastioError: (a subclass) when the chunks cannot be enqueued
            (broker unreachable, bad option); the campaign stays journalled.
        """
        ...


def campaign_workers(plugin_manager: object) -> dict[str, CampaignWorkers]:
    """Every registered :class:`CampaignWorkers` by name; a record that does not conform,
    a duplicate name or the reserved name ``local`` is a :class:`PluginError` naming the plugin."""
    found: dict[str, tuple[CampaignWorkers, str]] = {}
    hook = plugin_manager.hook.broadcastio_campaign_workers  # type: ignore[attr-defined]
    for impl in hook.get_hookimpls():
        owner = plugin_manager.get_name(impl.plugin) or repr(impl.plugin)  # type: ignore[attr-defined]
        records: Iterable[object] = impl.function() or ()
        for record in records:
            if not isinstance(record, CampaignWorkers) or not isinstance(getattr(record, "name", None), str):
                raise PluginError(f"plugin {owner!r} registered {record!r}, not a CampaignWorkers (name and start())")
            name = record.name
            if name == LOCAL_WORKERS or not name:
                raise PluginError(f"plugin {owner!r} registered campaign workers named {name!r}, a reserved name")
            if name in found:
                raise PluginError(f"campaign workers {name!r} are registered by both {found[name][1]!r} and {owner!r}")
            found[name] = (record, owner)
    return {name: record for name, (record, _) in found.items()}
