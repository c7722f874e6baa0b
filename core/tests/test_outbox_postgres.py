"""What only the PostgreSQL outbox does: its schema, the transactional add, outages, errors.

The shared outbox suite (states, leases, crash resume, concurrent senders,
poison rows, campaigns, receipts) runs on PostgreSQL through conftest's
``outbox_url``; these tests cover the rest, against the session's real server.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from broadcastio import ConfigurationError, Message, Metadata, Orchestrator, OutboxError
from broadcastio.outbox import Outbox, OutboxStatus, RunControl
from broadcastio.outbox._db import to_pyformat
from broadcastio.outbox._postgres import describe
from broadcastio.testing import FakeProvider, isolated_plugin_manager
from broadcastio.testing.services import PostgresServer, free_port


def message(i: int) -> Message:
    return Message(recipient=f"user-{i}", text="hello", metadata=Metadata(idempotency_key=f"key-{i}"))


@pytest.fixture
def box(pg_url: str) -> Iterator[Outbox]:
    with Outbox(pg_url) as outbox:
        yield outbox


def orchestrator(provider: FakeProvider) -> Orchestrator:
    return Orchestrator([provider], plugin_manager=isolated_plugin_manager())


class TestSchema:
    def test_two_openings_at_once_create_the_schema_once(self, pg_url: str) -> None:
        """Processes starting together race for nothing: the advisory lock serialises creation."""
        barrier = threading.Barrier(4)
        errors: list[BaseException] = []

        def open_one() -> None:
            barrier.wait()
            try:
                Outbox(pg_url).close()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=open_one) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        with psycopg.connect(pg_url) as conn:
            assert conn.execute("SELECT key, value FROM outbox_meta").fetchall() == [("schema_version", "4")]
            columns = {row[0] for row in conn.execute("SELECT column_name FROM information_schema.columns")}
        assert {"paused_at", "cancelled_at", "row_number", "escalate_at", "skip"} <= columns

    def test_a_newer_schema_is_refused(self, pg_url: str) -> None:
        Outbox(pg_url).close()
        with psycopg.connect(pg_url) as conn:
            conn.execute("UPDATE outbox_meta SET value = '99' WHERE key = 'schema_version'")
        with pytest.raises(ConfigurationError, match="schema version 99"):
            Outbox(pg_url)

    def test_rows_have_identity_ids_and_bytea_messages(self, box: Outbox) -> None:
        box.add([message(1), message(2)], campaign="c")
        with psycopg.connect(box.url) as conn:
            rows = conn.execute("SELECT id, row_number, message FROM outbox ORDER BY id").fetchall()
        assert [(row[0], row[1]) for row in rows] == [(1, 1), (2, 2)]
        assert isinstance(rows[0][2], bytes)


class TestErrors:
    def test_an_unreachable_server_is_a_configuration_error_without_the_password(self) -> None:
        dsn = f"postgresql://someone:s3cret-pw@127.0.0.1:{free_port()}/nothing"
        with pytest.raises(ConfigurationError) as caught:
            Outbox(dsn)
        assert "s3cret-pw" not in str(caught.value)
        assert "postgresql://someone@127.0.0.1" in str(caught.value)

    def test_describe_drops_password_and_query(self) -> None:
        assert describe("postgresql://u:pw@db.example:5433/app?sslmode=require&password=x") == (
            "postgresql://u@db.example:5433/app"
        )

    def test_a_sqlite_outbox_refuses_a_connection(self, tmp_path: Path, pg_url: str) -> None:
        with (
            Outbox(f"{tmp_path}/o.db") as sqlite_box,
            psycopg.connect(pg_url) as conn,
            pytest.raises(ConfigurationError, match="PostgreSQL outbox"),
        ):
            sqlite_box.add([message(1)], connection=conn)

    def test_a_broken_caller_transaction_is_an_outbox_error(self, box: Outbox) -> None:
        with psycopg.connect(box.url) as conn:
            with pytest.raises(psycopg.errors.UndefinedTable):
                conn.execute("SELECT * FROM nowhere")
            with pytest.raises(OutboxError, match="not usable"):
                box.add([message(1)], connection=conn)
        assert box.status().total == 0

    def test_a_connection_that_is_not_psycopg_is_refused(self, box: Outbox) -> None:
        with pytest.raises(ConfigurationError, match="psycopg Connection"):
            box.add([message(1)], connection=object())

    def test_placeholders_are_converted_once_and_percent_is_escaped(self) -> None:
        assert to_pyformat("SELECT '5%' WHERE a = ? AND b = ?") == "SELECT '5%%' WHERE a = %s AND b = %s"


class TestTransactionalOutbox:
    def _app_schema(self, conn: psycopg.Connection) -> None:  # type: ignore[type-arg]
        conn.execute("CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY)")
        conn.commit()

    async def test_rolled_back_sends_nothing_committed_is_sent_once(self, box: Outbox) -> None:
        provider = FakeProvider()
        with psycopg.connect(box.url) as conn:
            self._app_schema(conn)
            conn.execute("INSERT INTO orders (id) VALUES ('o1')")
            assert box.add([message(1)], connection=conn, campaign="orders") == 1
            conn.rollback()
            assert box.status().total == 0  # nothing journalled, not even before the rollback (not committed)
            conn.execute("INSERT INTO orders (id) VALUES ('o2')")
            box.add([message(2)], connection=conn, campaign="orders")
            assert box.status().total == 0  # uncommitted rows are invisible to the relay
            conn.commit()
        assert box.status() == OutboxStatus(pending=1, total=1)
        sent = [r async for r in orchestrator(provider).awatch(box, once=True)]
        assert [r.idempotency_key for r in sent] == ["key-2"]
        assert [r async for r in orchestrator(provider).awatch(box, once=True)] == []
        assert provider.calls == 1
        assert box.status() == OutboxStatus(sent=1, total=1)

    async def test_a_commit_wakes_a_listening_relay(self, box: Outbox) -> None:
        """With LISTEN, a relay polling every 30 s still sends a committed row within a second."""
        provider = FakeProvider()
        control_box = box
        control = RunControl()

        async def relay() -> list[str]:
            keys = []
            with control_box.listening():
                async for result in orchestrator(provider).awatch(control_box, control=control, poll=30.0):
                    keys.append(result.idempotency_key or "")
                    control.stop()
            return keys

        running = asyncio.ensure_future(relay())
        await asyncio.sleep(0.5)  # the relay's first pass found nothing and sleeps
        with psycopg.connect(box.url) as conn:
            box.add([message(7)], connection=conn)
            conn.commit()
        keys = await asyncio.wait_for(running, 10)
        assert keys == ["key-7"]


class TestOutages:
    @pytest.mark.parametrize("mode", ["fast", "immediate"])
    async def test_a_restart_mid_campaign_loses_and_duplicates_nothing(
        self, pg_server: PostgresServer, box: Outbox, mode: str
    ) -> None:
        """A clean restart, and a crash (``immediate``: recovery from the WAL): the writer
        reconnects and runs its batch again; every message is sent exactly once."""
        provider = FakeProvider(keep=0, latency=0.002)
        total = 3000
        stream = orchestrator(provider).abroadcast(
            (message(i) for i in range(total)), outbox=box, campaign="big", concurrency=8
        )
        restarted = threading.Event()

        def restart_when_sending() -> None:
            while provider.calls < 300:
                threading.Event().wait(0.01)
            pg_server.restart(mode, down_for=1.0)
            restarted.set()

        outage = threading.Thread(target=restart_when_sending)
        outage.start()
        results = [result async for result in stream]
        outage.join(timeout=60)
        assert restarted.is_set()
        assert box.writer.reconnects >= 1
        keys = [key for key, _ in provider.call_log]
        assert len(keys) == len(set(keys)) == total
        assert len(results) == total
        assert box.campaign("big").sent == total

    def test_a_long_outage_fails_writes_with_outbox_error_naming_no_password(self, pg_server: PostgresServer) -> None:
        url = pg_server.database().replace("postgresql://postgres@", "postgresql://postgres:hunter2-pw@")
        box = Outbox(url, reconnect_for=0.5)
        try:
            box.add([message(1)])
            pg_server.stop()
            try:
                with pytest.raises(OutboxError) as caught:
                    box.add([message(2)])
            finally:
                pg_server.start()
            assert "hunter2-pw" not in str(caught.value)
            assert "hunter2-pw" not in repr(box)
            assert "unreachable" in str(caught.value)
            assert box.add([message(3)]) == 1  # the server is back: the writer reconnects
        finally:
            box.close()

    def test_reads_during_an_outage_fail_with_outbox_error(
        self, pg_server: PostgresServer, box: Outbox, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from broadcastio.outbox import _postgres

        monkeypatch.setattr(_postgres, "READ_TIMEOUT_S", 1.0)
        box.add([message(1)])
        pg_server.stop()
        try:
            with pytest.raises(OutboxError, match="cannot read"):
                box.status()
        finally:
            pg_server.start()
        monkeypatch.setattr(_postgres, "READ_TIMEOUT_S", 30.0)
        assert box.status().total == 1  # the pool connects again (after its own backoff)


class TestCommandLine:
    CONFIG = '[outbox]\nurl = "${{OUTBOX_URL}}"\n\n[[providers]]\nname = "first"\ntype = "memory"\n'

    def invoke(self, *args: str, env: dict[str, str] | None = None) -> Any:
        from broadcastio.cli import CliState, cli
        from click.testing import CliRunner

        state = CliState(plugin_manager_factory=isolated_plugin_manager, env=env or {})
        return CliRunner().invoke(cli, list(args), obj=state)

    def test_every_outbox_command_takes_a_dsn(self, box: Outbox, tmp_path: Path) -> None:
        box.add([message(1), message(2)], campaign="c")
        config = tmp_path / "broadcastio.toml"
        config.write_text(self.CONFIG.format())
        status = self.invoke("outbox", "status", box.url, "--json")
        assert status.exit_code == 0, status.output
        assert json.loads(status.output)["pending"] == 2
        listed = self.invoke("outbox", "list", box.url, "--json")
        assert [json.loads(line)["row"] for line in listed.output.splitlines()] == [1, 2]
        env = {"OUTBOX_URL": box.url}
        relayed = self.invoke("outbox", "relay", "-c", str(config), "--once", env=env)  # the [outbox] url
        assert relayed.exit_code == 0, relayed.output
        assert sorted(line for line in relayed.output.splitlines() if line.startswith("sent ")) == [
            "sent key-1 via first: delivered",
            "sent key-2 via first: delivered",
        ]
        resumed = self.invoke("outbox", "resume", box.url, "-c", str(config), env=env)
        assert resumed.exit_code == 0, resumed.output
        assert box.status() == OutboxStatus(sent=2, total=2)

    def test_relay_without_a_dsn_or_outbox_table_is_a_usage_error(self, tmp_path: Path) -> None:
        config = tmp_path / "broadcastio.toml"
        config.write_text('[[providers]]\nname = "first"\ntype = "memory"\n')
        result = self.invoke("outbox", "relay", "-c", str(config), "--once")
        assert result.exit_code == 2
        assert "[outbox] url" in result.output
