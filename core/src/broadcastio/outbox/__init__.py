"""A durable journal for broadcasts: a crash loses nothing, a rerun sends nothing twice.

Pass an :class:`Outbox` to :meth:`Orchestrator.abroadcast
<broadcastio.Orchestrator.abroadcast>` (or ``broadcast``) and the whole
input is written to a SQLite file (or a PostgreSQL database), as one *campaign*, before the first
send; every outcome is written after its attempt. :meth:`Orchestrator.aresume
<broadcastio.Orchestrator.aresume>` finishes what a stopped run left
behind, without the input. Row states::

    pending ──► sending ──► sent      (delivered)
       ▲           │   ├──► failed    (permanently failed)
       │           │   ├──► unknown   (may have been delivered)
       └───────────┘   └─ transient failure / not tried: pending until next_attempt_at
                   └──(run died)──► unknown
    pending ──(campaign cancelled)──► cancelled

A paused campaign's rows are not claimed until it is resumed
(``Outbox.pause_campaign``, ``resume_campaign``, ``cancel_campaign``,
``campaign_report``: ``_campaigns``).

An ``unknown`` row is sent again only when every provider that could have
been called for it declares idempotent sends. See ``docs/outbox.md``.

The package: ``_box`` (the Outbox object and its reads), ``_store`` (the
SQL), ``_writer`` (the writer thread, group commit), ``_runner`` (the
journal around the one delivery path of ``broadcastio._broadcast``),
``_db`` (one connection surface for SQLite and PostgreSQL, so the SQL is
written once), ``_postgres``/``_pgbatch``/``_pgbulk`` (PostgreSQL's schema,
ingest, the writer's batches through outages, grouped marks).
"""

from __future__ import annotations

from broadcastio._broadcast import RunControl
from broadcastio.outbox._box import Outbox
from broadcastio.outbox._campaigns import CampaignChange, CampaignReport, ProviderCounts, ReasonCount
from broadcastio.outbox._records import CampaignStatus, HistoryEntry, OutboxRow, OutboxState, OutboxStatus
from broadcastio.outbox._runner import DEFAULT_DEADLINE

__all__ = [
    "DEFAULT_DEADLINE",
    "CampaignChange",
    "CampaignReport",
    "CampaignStatus",
    "HistoryEntry",
    "Outbox",
    "OutboxRow",
    "OutboxState",
    "OutboxStatus",
    "ProviderCounts",
    "ReasonCount",
    "RunControl",
]
