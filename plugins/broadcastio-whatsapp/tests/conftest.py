"""Fixtures: local node-whatsapp and Graph API peers on 127.0.0.1."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from broadcastio.testing.servers import serve_app

sys.path.insert(0, str(Path(__file__).resolve().parent))

from whatsapp_fakes import FakeGraph, FakeNode


@pytest.fixture
def fake_node() -> Iterator[tuple[FakeNode, str]]:
    node = FakeNode()
    with serve_app(node.app()) as base_url:
        yield node, base_url


@pytest.fixture
def fake_graph() -> Iterator[tuple[FakeGraph, str]]:
    graph = FakeGraph()
    with serve_app(graph.app()) as base_url:
        yield graph, base_url
