"""PostgreSQL forms of the writer's grouped state changes: one statement per group, not one per row.

The writer hands ``mark_final``/``mark_sending`` calls over in groups (see
``_store``'s ``.many`` functions). On SQLite an ``executemany`` costs little;
on PostgreSQL every statement is a round trip of work for the server, so a
group becomes one ``UPDATE ... FROM unnest(arrays)``, its parameters in
binary. The SET expressions are those of ``_store``'s single-row SQL; on
the right-hand side ``o.`` is the row before the update, as there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from broadcastio.outbox._db import Db

__all__ = ["write_accepts", "write_finals", "write_sending"]

_FINALS = (
    "UPDATE outbox AS o SET state = v.state, owner = NULL, next_attempt_at = v.next_at, "
    "receipt_level = CASE WHEN o.provider IS NOT NULL AND o.provider IS DISTINCT FROM v.provider "
    "THEN NULL ELSE o.receipt_level END, "
    "receipt_status = CASE WHEN o.provider IS NOT NULL AND o.provider IS DISTINCT FROM v.provider "
    "THEN NULL ELSE o.receipt_status END, "
    "receipt_at = CASE WHEN o.provider IS NOT NULL AND o.provider IS DISTINCT FROM v.provider "
    "THEN NULL ELSE o.receipt_at END, "
    "escalate_at = CASE WHEN v.state = 'sent' AND o.escalate_after IS NOT NULL THEN v.now + o.escalate_after "
    "ELSE NULL END, "
    "provider = v.provider, provider_message_id = v.mid, error_code = v.code, error_class = v.cls, "
    "error_message = v.msg, updated_at = v.now "
    "FROM unnest(%s::int8[], %s::text[], %s::float8[], %s::text[], %s::text[], %s::text[], %s::text[], "
    "%s::text[], %s::float8[]) AS v(id, state, next_at, provider, mid, code, cls, msg, now) "
    "WHERE o.id = v.id AND o.state != 'sent'"
)
_SENDING = (
    "UPDATE outbox AS o SET state = 'sending', attempts = o.attempts + 1, next_attempt_at = v.until, "
    "route = v.route, updated_at = v.now "
    "FROM unnest(%s::int8[], %s::text[], %s::float8[], %s::float8[], %s::text[]) AS v(id, owner, now, until, route) "
    "WHERE o.id = v.id AND o.owner = v.owner RETURNING o.id"
)


def write_finals(conn: Db, params: Sequence[tuple[Any, ...]]) -> None:
    """``_store._FINAL_SQL`` for many rows (``_final_params`` tuples)."""
    if not params:
        return
    columns = ([row[i] for row in params] for i in (13, 0, 1, 2, 8, 9, 10, 11, 6))
    conn.raw.execute(_FINALS, tuple(columns))


def write_sending(conn: Db, calls: Sequence[tuple[Any, ...]]) -> list[bool]:
    """``_store._SENDING_SQL`` for many ``(row id, owner, now, lease until, route)``; which rows were still ours."""
    columns = tuple([call[i] for call in calls] for i in range(5))
    marked = {row[0] for row in conn.raw.execute(_SENDING, columns)}
    return [call[0] in marked for call in calls]


_ACCEPTS = (
    "INSERT INTO accepts (provider_message_id, provider, outbox_id, accepted_at) "
    "SELECT * FROM unnest(%s::text[], %s::text[], %s::int8[], %s::float8[]) "
    "ON CONFLICT (provider_message_id, provider) DO NOTHING"
)


def write_accepts(conn: Db, accepted: Sequence[tuple[Any, ...]]) -> None:
    """``_store._ACCEPT_SQL`` for many ``(message id, provider, row id, time)``."""
    conn.raw.execute(_ACCEPTS, tuple([row[i] for row in accepted] for i in range(4)))
