"""Plain-text rendering of a delivery trace for the demo."""

from __future__ import annotations

from broadcastio import DeliveryResult


def render_trace(title: str, result: DeliveryResult) -> str:
    lines = [f"\n== {title}", f"status: {result.status}  provider: {result.provider}  id: {result.provider_message_id}"]
    if result.error is not None:
        lines.append(f"error: {result.error.code} ({result.error.error_class}) {result.error.message}")
    trace = result.trace
    if trace is None:
        return "\n".join(lines)
    lines.append(f"{'#':>2}  {'provider':<14} {'try':>3}  {'waited ms':>9}  {'took ms':>8}  outcome")
    for index, attempt in enumerate(trace.attempts, 1):
        outcome = "delivered" if attempt.ok else f"{attempt.error.code} ({attempt.error.error_class})"  # type: ignore[union-attr]
        lines.append(
            f"{index:>2}  {attempt.provider:<14} {attempt.number:>3}  {attempt.delay_before_ms:>9.1f}  "
            f"{attempt.duration_ms:>8.2f}  {outcome}"
        )
    for skipped in trace.skipped:
        lines.append(f"    skipped {skipped.provider}: {skipped.reason} {skipped.detail}")
    return "\n".join(lines)
