"""Operating a campaign: pause, resume, cancel, and a report with rate and ETA.

These act on rows and on the campaign's flags in the journal, never on a
process, so they work the same for one ``broadcast`` and for forty workers:

- **pause** sets ``campaigns.paused_at``. Runs stop claiming the campaign's
  rows (``claim_due`` skips them, ``waiting`` does not wait for them);
  rows a run claimed but had not marked ``sending`` lose their owner, so the
  run's ``mark_sending`` (``... AND owner = ?``) fails and it skips them.
  Sends in flight finish and keep their outcome. Every row stays as it was.
- **resume** clears ``paused_at``; any runner (``outbox resume``, a worker,
  the broadcast that is still waiting) claims the rows again.
- **cancel** sets ``cancelled_at`` and turns every unsent row ``cancelled``
  in the same transaction (``_store.cancel_leftovers``), including rows a
  run claimed and had not marked ``sending``. ``sending`` rows finish and
  keep their outcome; ``unknown`` rows stay ``unknown``; a send that ends
  after the cancel with a transient failure is cancelled when its run
  releases its rows. A row is either sent (or in flight) or cancelled, never
  both: claims and cancels are serialised by the database.

Every statement uses ``?`` placeholders and SQL that SQLite and PostgreSQL
both accept (``_db``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from msgspec import Struct

from broadcastio._errors import UsageError
from broadcastio.outbox._records import STATES, CampaignStatus
from broadcastio.outbox._rows import owner_is_dead
from broadcastio.outbox._store import INTERRUPTED_CODE, cancel_leftovers

if TYPE_CHECKING:
    from broadcastio.outbox._box import Outbox

__all__ = ["RATE_WINDOW", "CampaignChange", "CampaignReport", "ProviderCounts", "ReasonCount"]

RATE_WINDOW = 60.0
"""Seconds of recent outcomes the rate is measured over."""
Standing = Literal["running", "paused", "cancelled", "finished"]
_ATTEMPTED = ("sent", "failed", "unknown")


class CampaignChange(Struct, frozen=True, kw_only=True):
    """What ``pause_campaign``, ``resume_campaign`` or ``cancel_campaign`` did.

    ``changed`` is False when there was nothing to do (already paused, not
    paused, already cancelled, finished); ``standing`` is the campaign's
    state afterwards; ``detail`` says what happened or why not, in one
    sentence. ``rows``: rows cancelled (cancel) or claimed rows given back
    (pause); ``in_flight``: rows being sent, which finish.
    """

    name: str
    action: Literal["pause", "resume", "cancel"]
    changed: bool
    standing: Standing
    detail: str
    rows: int = 0
    in_flight: int = 0


class ProviderCounts(Struct, frozen=True, kw_only=True):
    """The rows of one campaign a provider last handled, by state."""

    provider: str
    pending: int = 0
    sending: int = 0
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    cancelled: int = 0

    @property
    def total(self) -> int:
        return self.pending + self.sending + self.sent + self.failed + self.unknown + self.cancelled


class ReasonCount(Struct, frozen=True, kw_only=True):
    """How many rows in ``state`` carry one error (class and code)."""

    state: str
    error_class: str
    code: str
    count: int


class CampaignReport(Struct, frozen=True, kw_only=True):
    """A campaign's standing: counts, speed, time left, providers, reasons, flags.

    ``rate`` is rows attempted to an end (sent, failed, unknown) per second
    over the last :data:`RATE_WINDOW` seconds (None before the input is
    journalled); ``eta_seconds`` is rows left to send / rate (0 when none is
    left, None when unknown: no recent outcome, paused or cancelled).
    ``providers`` counts rows by the provider that last handled them (rows
    never attempted have none); ``reasons`` the errors of rows not sent.
    """

    name: str
    status: CampaignStatus
    measured_at: dt.datetime
    paused_at: dt.datetime | None = None
    cancelled_at: dt.datetime | None = None
    rate: float | None = None
    eta_seconds: float | None = None
    providers: tuple[ProviderCounts, ...] = ()
    reasons: tuple[ReasonCount, ...] = ()

    @property
    def paused(self) -> bool:
        return self.paused_at is not None

    @property
    def cancelled(self) -> bool:
        return self.cancelled_at is not None

    @property
    def journalled(self) -> bool:
        return self.status.journalled

    @property
    def to_send(self) -> int:
        """Rows still to be sent: pending and sending (``unknown`` rows are not counted)."""
        return self.status.pending + self.status.sending

    @property
    def finished(self) -> bool:
        """Journalled and nothing left to send."""
        return self.status.journalled and self.to_send == 0

    def by_provider(self) -> dict[str, ProviderCounts]:
        return {item.provider: item for item in self.providers}


def _when(epoch: float | None) -> dt.datetime | None:
    return None if epoch is None else dt.datetime.fromtimestamp(epoch, dt.UTC)


def _at(epoch: float | None) -> str:
    found = _when(epoch)
    return "?" if found is None else found.strftime("%Y-%m-%d %H:%M:%S UTC")


def _campaign_row(conn: Any, name: str) -> Sequence[Any]:
    """(id, created_at, journalled_at, paused_at, cancelled_at) of ``name``; a UsageError naming the known ones."""
    if not isinstance(name, str) or not name:
        raise UsageError("a campaign name must be a non-empty string")
    found = conn.execute(
        "SELECT id, created_at, journalled_at, paused_at, cancelled_at FROM campaigns WHERE name = ?", (name,)
    ).fetchone()
    if found is None:
        known = [row[0] for row in conn.execute("SELECT name FROM campaigns ORDER BY id")]
        raise UsageError(f"no campaign named {name!r} in this outbox; campaigns: {', '.join(known) or 'none'}")
    return tuple(found)


def _counts(conn: Any, campaign: int) -> dict[str, int]:
    counts: dict[str, int] = dict.fromkeys(STATES, 0)
    for state, count in conn.execute(
        "SELECT state, count(*) FROM outbox WHERE campaign = ? GROUP BY state", (campaign,)
    ).fetchall():
        counts[state] = int(count)
    return counts


def _interrupt_dead(conn: Any, campaign: int, now: float) -> int:
    """``sending`` rows of runs that are gone (lease expired, or a dead process of this host) become
    ``unknown``: their request may have left. A resume would do this when it claims them, but nothing
    claims the rows of a cancelled campaign."""
    dead = [
        (row_id,)
        for row_id, owner, until in conn.execute(
            "SELECT id, owner, next_attempt_at FROM outbox WHERE campaign = ? AND state = 'sending'", (campaign,)
        ).fetchall()
        if owner is None or (until is not None and until <= now) or owner_is_dead(owner)
    ]
    for (row_id,) in dead:
        conn.execute(
            "UPDATE outbox SET state = 'unknown', owner = NULL, next_attempt_at = NULL, error_code = ?, "
            "error_class = 'ambiguous', error_message = ?, updated_at = ? WHERE id = ? AND state = 'sending'",
            (INTERRUPTED_CODE, "the run sending this message stopped; it may have been delivered", now, row_id),
        )
    return len(dead)


def _change(
    conn: Any, campaign: int, name: str, action: str, changed: bool, detail: str, rows: int = 0
) -> CampaignChange:
    """The outcome of ``action``, with the campaign's standing as it is now."""
    _, _, journalled, paused, cancelled = _campaign_row(conn, name)
    counts = _counts(conn, campaign)
    standing: Standing = "running"
    if cancelled is not None:
        standing = "cancelled"
    elif paused is not None:
        standing = "paused"
    elif journalled is not None and counts["pending"] + counts["sending"] == 0:
        standing = "finished"
    return CampaignChange(
        name=name,
        action=action,  # type: ignore[arg-type]
        changed=changed,
        standing=standing,
        detail=detail,
        rows=rows,
        in_flight=counts["sending"],
    )


def _pause(conn: Any, name: str, now: float) -> CampaignChange:
    campaign, _, journalled, paused, cancelled = _campaign_row(conn, name)
    counts = _counts(conn, campaign)
    left = counts["pending"] + counts["sending"]
    if cancelled is not None:
        detail = f"campaign {name} was cancelled at {_at(cancelled)}: there is nothing to pause"
        return _change(conn, campaign, name, "pause", False, detail)
    if paused is not None:
        return _change(conn, campaign, name, "pause", False, f"campaign {name} is already paused (since {_at(paused)})")
    if journalled is not None and left == 0:
        detail = f"campaign {name} is finished: nothing is left to send, so nothing to pause"
        return _change(conn, campaign, name, "pause", False, detail)
    conn.execute("UPDATE campaigns SET paused_at = ? WHERE id = ?", (now, campaign))
    released = conn.execute(  # claimed, not yet sending: the run's mark_sending now fails and it skips them
        "UPDATE outbox SET owner = NULL, next_attempt_at = NULL "
        "WHERE campaign = ? AND state IN ('pending', 'unknown') AND owner IS NOT NULL",
        (campaign,),
    ).rowcount
    detail = (
        f"campaign {name} paused: {left} message(s) left; {counts['sending']} in flight finish, "
        "the rest wait until the campaign is resumed"
    )
    return _change(conn, campaign, name, "pause", True, detail, int(released))


def _resume(conn: Any, name: str, now: float) -> CampaignChange:
    campaign, _, _, paused, cancelled = _campaign_row(conn, name)
    counts = _counts(conn, campaign)
    left = counts["pending"] + counts["sending"]
    if cancelled is not None:
        detail = f"campaign {name} was cancelled at {_at(cancelled)} and cannot be resumed"
        return _change(conn, campaign, name, "resume", False, detail)
    if paused is None:
        detail = f"campaign {name} is not paused ({left} message(s) left to send)"
        return _change(conn, campaign, name, "resume", False, detail)
    conn.execute("UPDATE campaigns SET paused_at = NULL WHERE id = ?", (campaign,))
    return _change(conn, campaign, name, "resume", True, f"campaign {name} resumed: {left} message(s) left to send")


def _cancel(conn: Any, name: str, now: float) -> CampaignChange:
    campaign, _, journalled, _, cancelled = _campaign_row(conn, name)
    counts = _counts(conn, campaign)
    if cancelled is not None:  # idempotent: settle what runs left behind since, change nothing else
        rows = cancel_leftovers(conn, campaign, now)
        _interrupt_dead(conn, campaign, now)
        detail = f"campaign {name} was already cancelled at {_at(cancelled)}"
        return _change(conn, campaign, name, "cancel", False, detail, rows)
    if journalled is not None and counts["pending"] + counts["sending"] + counts["unknown"] == 0:
        return _change(conn, campaign, name, "cancel", False, f"campaign {name} is finished: nothing to cancel")
    conn.execute("UPDATE campaigns SET cancelled_at = ?, paused_at = NULL WHERE id = ?", (now, campaign))
    rows = cancel_leftovers(conn, campaign, now)
    conn.execute(  # an unknown row claimed for a resend through idempotent providers: not resent now
        "UPDATE outbox SET owner = NULL, next_attempt_at = NULL "
        "WHERE campaign = ? AND state = 'unknown' AND owner IS NOT NULL",
        (campaign,),
    )
    _interrupt_dead(conn, campaign, now)
    after = _counts(conn, campaign)
    detail = (
        f"campaign {name} cancelled: {rows} message(s) will not be sent; {after['sending']} in flight finish "
        f"and keep their outcome; {after['unknown']} unknown stay unknown"
    )
    return _change(conn, campaign, name, "cancel", True, detail, rows)


def pause(outbox: Outbox, name: str) -> CampaignChange:
    return outbox.writer.call(_pause, name, outbox.now())


def resume(outbox: Outbox, name: str) -> CampaignChange:
    return outbox.writer.call(_resume, name, outbox.now())


def cancel(outbox: Outbox, name: str) -> CampaignChange:
    return outbox.writer.call(_cancel, name, outbox.now())


def report(outbox: Outbox, name: str) -> CampaignReport:
    """Read the campaign's standing (a committed snapshot per statement; no write)."""
    now = outbox.now()
    with outbox._reader() as conn:
        campaign, created, journalled, paused, cancelled = _campaign_row(conn, name)
        counts = _counts(conn, campaign)
        per_provider: dict[str, dict[str, int]] = {}
        for provider, state, count in conn.execute(
            "SELECT provider, state, count(*) FROM outbox WHERE campaign = ? AND provider IS NOT NULL "
            "GROUP BY provider, state",
            (campaign,),
        ).fetchall():
            per_provider.setdefault(str(provider), {})[str(state)] = int(count)
        reasons = tuple(
            ReasonCount(state=str(state), error_class=str(error_class or ""), code=str(code), count=int(count))
            for state, error_class, code, count in conn.execute(
                "SELECT state, error_class, error_code, count(*) FROM outbox WHERE campaign = ? "
                "AND state != 'sent' AND error_code IS NOT NULL GROUP BY state, error_class, error_code "
                "ORDER BY count(*) DESC, state, error_code",
                (campaign,),
            ).fetchall()
        )
        recent, earliest = conn.execute(
            "SELECT count(*), min(updated_at) FROM outbox WHERE campaign = ? AND state IN (?, ?, ?) AND updated_at > ?",
            (campaign, *_ATTEMPTED, now - RATE_WINDOW),
        ).fetchone()
    status = CampaignStatus(
        name=name,
        created_at=_when(created),  # type: ignore[arg-type]
        journalled=journalled is not None,
        **counts,
        total=sum(counts.values()),
    )
    rate: float | None = None
    if journalled is not None:
        rate = 0.0 if not recent else int(recent) / max(1.0, now - float(earliest))
    to_send = counts["pending"] + counts["sending"]
    eta: float | None = None
    if journalled is not None and to_send == 0:
        eta = 0.0
    elif rate and paused is None and cancelled is None:
        eta = to_send / rate
    return CampaignReport(
        name=name,
        status=status,
        measured_at=_when(now),  # type: ignore[arg-type]
        paused_at=_when(paused),
        cancelled_at=_when(cancelled),
        rate=rate,
        eta_seconds=eta,
        providers=tuple(ProviderCounts(provider=key, **value) for key, value in sorted(per_provider.items())),
        reasons=reasons,
    )
