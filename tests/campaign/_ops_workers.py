"""Campaign workers for the campaign-operations tests: each chunk in its own worker process.

``python _ops_workers.py cli ARGS...`` runs the real ``broadcastio`` command
with these workers installed (as ``--workers processes``), the way an
installed plugin would be. Each chunk is a detached child process
(``python _ops_workers.py chunk OUTBOX CAMPAIGN FIRST LAST CONFIG CONCURRENCY``)
that runs ``Orchestrator.resume(outbox, campaign=..., rows=(first, last))``:
a signal to the command does not reach them. Each writes its pid to
``<outbox>.workers/<pid>`` so the test can wait for every one of them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from broadcastio import build_orchestrator, hookimpl
from broadcastio.cli import CliState, cli
from broadcastio.outbox import Outbox
from broadcastio.plugins import PluginManager, make_plugin_manager


class ProcessWorkers:
    name = "processes"

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
        chunks = [(first, min(first + chunk_size - 1, total_rows)) for first in range(1, total_rows + 1, chunk_size)]
        for first, last in chunks:
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "chunk",
                    outbox_url,
                    campaign,
                    str(first),
                    str(last),
                    config_path or "broadcastio.toml",
                    options["concurrency"],
                ],
                start_new_session=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        return len(chunks)


class Plugin:
    @hookimpl
    def broadcastio_campaign_workers(self) -> list[ProcessWorkers]:
        return [ProcessWorkers()]


def plugins() -> PluginManager:
    manager = make_plugin_manager()
    manager.register(Plugin(), name="ops-test-workers")
    return manager


def chunk(outbox_url: str, campaign: str, first: str, last: str, config: str, concurrency: str) -> None:
    marks = Path(f"{outbox_url}.workers")
    marks.mkdir(exist_ok=True)
    (marks / str(os.getpid())).touch()
    with build_orchestrator(config) as orchestrator, Outbox(outbox_url) as box:
        list(orchestrator.resume(box, campaign=campaign, rows=(int(first), int(last)), concurrency=int(concurrency)))
    (marks / f"{os.getpid()}.done").touch()


if __name__ == "__main__":
    if sys.argv[1] == "chunk":
        chunk(*sys.argv[2:8])
    else:
        cli.main(args=sys.argv[2:], prog_name="broadcastio", obj=CliState(plugin_manager_factory=plugins))
