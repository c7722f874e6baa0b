"""Turn an exception that escaped a provider into a classified DeliveryError."""

from __future__ import annotations

from broadcastio._errors import ErrorCode
from broadcastio._models import DeliveryError

__all__ = ["error_from_exception"]


def error_from_exception(exc: BaseException) -> DeliveryError:
    """Classify an unexpected exception from a provider's ``send``.

    A refused connection sent nothing (transient); a timeout or a connection
    lost mid-way may have delivered (ambiguous); any other exception is a
    provider bug, permanent, so the orchestrator falls back instead of
    repeating it.
    """
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, ConnectionRefusedError):
        return DeliveryError.transient(ErrorCode.CONNECTION_FAILED, text)
    if isinstance(exc, TimeoutError):
        return DeliveryError.ambiguous(ErrorCode.TIMEOUT, text)
    if isinstance(exc, ConnectionError):
        return DeliveryError.ambiguous(ErrorCode.CONNECTION_FAILED, text)
    if isinstance(exc, OSError):
        return DeliveryError.transient(ErrorCode.CONNECTION_FAILED, text)
    return DeliveryError.permanent(ErrorCode.PROVIDER_EXCEPTION, f"provider raised {text}")
