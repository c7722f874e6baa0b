"""broadcastio-matrix: room messages through the Matrix client-server API.

Install it and the ``matrix`` provider type is registered through the
``broadcastio`` entry point group.
"""

from __future__ import annotations

from broadcastio.plugins import provider_types

from broadcastio_matrix._errors import CREDENTIAL_ERRCODES, error_from_answer
from broadcastio_matrix._provider import CLIENT_API, MatrixProvider, transaction_id

__all__ = [
    "CLIENT_API",
    "CREDENTIAL_ERRCODES",
    "MatrixProvider",
    "broadcastio_provider_types",
    "error_from_answer",
    "transaction_id",
]

broadcastio_provider_types = provider_types(MatrixProvider)
"""Registers MatrixProvider: name, channel and description come from the class."""
