"""The Orchestrator: the one object users build, with an async core and a sync facade."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from broadcastio._breaker import BreakerPolicy
from broadcastio._broadcast import RunControl, stream_results
from broadcastio._clock import Clock, SystemClock
from broadcastio._coordination import Coordinator
from broadcastio._delivery import Deliverer
from broadcastio._dispatch import HookDispatcher
from broadcastio._errors import ConfigurationError, ErrorCode, InvalidMessageError, UsageError
from broadcastio._escalation import Escalation
from broadcastio._health import HealthPolicy
from broadcastio._models import DeliveryError, DeliveryResult, Message, ProviderHealth
from broadcastio._ratelimit import RateLimit, TokenBucket
from broadcastio._retry import RetryPolicy
from broadcastio._routing import ProviderSlot
from broadcastio._scrub import mask_address, scrub
from broadcastio._sync import LoopThread, ensure_no_running_loop
from broadcastio.events import AttemptEvent, ResultEvent
from broadcastio.hookspecs import hookimpl
from broadcastio.plugins import PluginManager, make_plugin_manager

if TYPE_CHECKING:
    from broadcastio.outbox import Outbox

__all__ = ["Orchestrator"]

DEFAULT_CONCURRENCY = 64


class _CallbackHooks:
    """Wraps the seed's plain callables into hook implementations: one path, not two."""

    def __init__(
        self,
        on_attempt: Callable[[AttemptEvent], object] | None,
        on_success: Callable[[ResultEvent], object] | None,
        on_failure: Callable[[ResultEvent], object] | None,
    ) -> None:
        self._on_attempt = on_attempt
        self._on_success = on_success
        self._on_failure = on_failure
        if on_attempt is None:
            self.broadcastio_attempt = None  # type: ignore[assignment]
        if on_success is None and on_failure is None:
            self.broadcastio_result = None  # type: ignore[assignment]

    @hookimpl
    def broadcastio_attempt(self, event: AttemptEvent) -> None:
        assert self._on_attempt is not None
        self._on_attempt(event)

    @hookimpl
    def broadcastio_result(self, event: ResultEvent) -> None:
        callback = self._on_success if event.result.ok else self._on_failure
        if callback is not None:
            callback(event)


class Orchestrator:
    """Sends messages through providers with retries, fallback, health and hooks.

    Async code uses :meth:`asend` and :meth:`abroadcast`; scripts use
    :meth:`send` and :meth:`broadcast`, which run the same code on a private
    event loop. Use one style per orchestrator: providers keep connections
    bound to the loop they first ran on.

    :param providers: provider objects in fallback order.
    :param retry: default retry policy (a provider's own policy wins); off by default.
    :param breaker: circuit breaker settings, one breaker per provider.
    :param health: active health check settings.
    :param rate_limits: per-provider rate limits, by provider name.
    :param max_in_flight: per-provider caps on concurrent attempts, by provider
        name, shared by every send and broadcast of this orchestrator (a
        provider's own ``max_in_flight`` attribute is the default).
    :param fallback_on_ambiguous: move on to the next provider after an
        ambiguous failure (the message may then arrive twice); off by default.
    :param hooks: objects with ``@hookimpl`` methods to register.
    :param on_attempt: called with every :class:`AttemptEvent`.
    :param on_success: called with the :class:`ResultEvent` of each delivered message.
    :param on_failure: called with the :class:`ResultEvent` of each undelivered message.
    :param plugin_manager: the plugin manager to use; by default one that
        loads installed plugins from entry points.
    :param clock: where time and sleeping come from (tests pass a fake one).
    :param rng: random source for backoff jitter.
    :param coordinator: shares the providers' rate limits, ``max_in_flight``
        caps and breaker state with every process using the same coordinator
        (see ``docs/shared-limits.md``); None keeps them in this process.
        Closed by :meth:`aclose`.
    """

    def __init__(
        self,
        providers: Sequence[Any],
        *,
        retry: RetryPolicy | None = None,
        breaker: BreakerPolicy | None = None,
        health: HealthPolicy | None = None,
        rate_limits: Mapping[str, RateLimit] | None = None,
        max_in_flight: Mapping[str, int] | None = None,
        fallback_on_ambiguous: bool = False,
        hooks: Iterable[object] = (),
        on_attempt: Callable[[AttemptEvent], object] | None = None,
        on_success: Callable[[ResultEvent], object] | None = None,
        on_failure: Callable[[ResultEvent], object] | None = None,
        plugin_manager: PluginManager | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        coordinator: Coordinator | None = None,
    ) -> None:
        if coordinator is not None and not isinstance(coordinator, Coordinator):
            raise ConfigurationError("Orchestrator(coordinator=...) must be a broadcastio.Coordinator")
        if isinstance(providers, (str, bytes)) or not isinstance(providers, Sequence):
            raise ConfigurationError("Orchestrator(providers=...) must be a list of provider objects")
        if not providers:
            raise ConfigurationError("Orchestrator needs at least one provider")
        for label, value in (("retry", retry), ("breaker", breaker), ("health", health)):
            expected = {"retry": RetryPolicy, "breaker": BreakerPolicy, "health": HealthPolicy}[label]
            if value is not None and not isinstance(value, expected):
                raise ConfigurationError(f"Orchestrator({label}=...) must be a {expected.__name__}")
        self._clock: Clock = clock or SystemClock()
        self.retry = retry or RetryPolicy()
        self.breaker = breaker or BreakerPolicy()
        self.health_policy = health or HealthPolicy()
        limits = dict(rate_limits or {})
        caps = dict(max_in_flight or {})
        slots: list[ProviderSlot] = []
        for provider in providers:
            slot = ProviderSlot(
                provider,
                default_retry=self.retry,
                breaker=self.breaker,
                health=self.health_policy,
                rate_limit=limits.pop(getattr(provider, "name", ""), None),
                clock=self._clock,
                max_in_flight=caps.pop(getattr(provider, "name", ""), None),
            )
            if any(existing.name == slot.name for existing in slots):
                raise ConfigurationError(f"two providers are named {slot.name!r}; provider names must be unique")
            slots.append(slot)
        if limits:
            raise ConfigurationError(f"rate_limits names unknown providers: {', '.join(sorted(limits))}")
        if caps:
            raise ConfigurationError(f"max_in_flight names unknown providers: {', '.join(sorted(caps))}")
        self._slots: tuple[ProviderSlot, ...] = tuple(slots)
        self._by_name = {slot.name: slot for slot in slots}

        self.plugin_manager = plugin_manager if plugin_manager is not None else make_plugin_manager()
        for hook_object in hooks:
            self.plugin_manager.register(hook_object)
        if on_attempt or on_success or on_failure:
            self.plugin_manager.register(_CallbackHooks(on_attempt, on_success, on_failure))
        self._deliverer = Deliverer(
            health=self.health_policy,
            fallback_on_ambiguous=fallback_on_ambiguous,
            dispatcher=HookDispatcher(self.plugin_manager),
            clock=self._clock,
            rng=rng or random.Random(),
            coordinator=coordinator,
        )
        self.coordinator = coordinator
        self._loop_thread = LoopThread()
        self._closed = False

    # --- introspection -------------------------------------------------------

    @property
    def providers(self) -> tuple[Any, ...]:
        """The provider objects, in fallback order."""
        return tuple(slot.provider for slot in self._slots)

    def breaker_state(self, provider: str) -> str:
        """The circuit breaker state of provider ``provider``."""
        return self._slot(provider).breaker.state

    async def ahealth(self) -> dict[str, ProviderHealth]:
        """Fresh health of every provider, by name (bypasses the cache)."""
        report = {}
        for slot in self._slots:
            slot.health.invalidate()
            report[slot.name], _, _ = await slot.health.get()
        return report

    def health(self) -> dict[str, ProviderHealth]:
        """Sync facade of :meth:`ahealth`."""
        ensure_no_running_loop("health", "ahealth")
        return self._loop_thread.run(self.ahealth())

    def preflight(self, message: Message, *, via: Sequence[str] | None = None) -> tuple[DeliveryError, ...]:
        """What each provider would refuse about ``message`` before sending it.

        Runs the optional ``preflight(message, address)`` check of every
        provider on the route that has an address for the message (the same
        checks ``send`` makes first, such as the email provider's address
        and header checks); nothing is sent and nothing is connected to. Used
        by ``broadcast --dry-run`` to report bad rows. Each error names its
        provider; an empty tuple means no provider objects.
        """
        if not isinstance(message, Message):
            raise InvalidMessageError(f"preflight() takes a Message, got {type(message).__name__}")
        refusals: list[DeliveryError] = []
        for slot in self._route(via):
            check = getattr(slot.provider, "preflight", None)
            address = message.address_for(slot.channel)
            if not callable(check) or address is None:
                continue
            try:
                error = check(message, address)
            except InvalidMessageError as exc:
                error = DeliveryError.permanent(ErrorCode.INVALID_RECIPIENT, str(exc))
            if isinstance(error, DeliveryError):
                reason = scrub(error.message.replace(address, mask_address(address)) if address else error.message)
                refusals.append(msgspec.structs.replace(error, provider=slot.name, message=reason))
        return tuple(refusals)

    # --- sending -------------------------------------------------------------

    async def asend(self, message: Message, *, trace: bool = False, via: Sequence[str] | None = None) -> DeliveryResult:
        """Deliver one message; delivery failures come back in the result.

        :param trace: attach a :class:`DeliveryTrace` to the result.
        :param via: provider names to use, in this order, instead of all of them.
        """
        self._check_open()
        if not isinstance(message, Message):
            raise InvalidMessageError(f"send() takes a Message, got {type(message).__name__}")
        return await self._deliverer.deliver(message, self._route(via), trace=trace)

    def send(self, message: Message, *, trace: bool = False, via: Sequence[str] | None = None) -> DeliveryResult:
        """Sync facade of :meth:`asend`, for scripts without an event loop."""
        ensure_no_running_loop("send", "asend")
        return self._loop_thread.run(self.asend(message, trace=trace, via=via))

    async def abroadcast(
        self,
        messages: Iterable[Message] | AsyncIterable[Message],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        rate_limits: Mapping[str, RateLimit] | None = None,
        trace: bool = False,
        via: Sequence[str] | None = None,
        outbox: Outbox | None = None,
        campaign: str | None = None,
        deadline: float | None = None,
        control: RunControl | None = None,
        escalate: Escalation | None = None,
    ) -> AsyncGenerator[DeliveryResult, None]:
        """Deliver many messages, yielding each result as it finishes.

        Memory stays flat in the number of messages: at most ``concurrency``
        are in flight and results are not accumulated. ``rate_limits`` adds
        per-provider limits for this broadcast on top of the orchestrator's.
        ``control`` (a :class:`~broadcastio.outbox.RunControl`) stops the
        broadcast gracefully from outside.

        With an ``outbox``, every message is journalled with its idempotency
        key into campaign ``campaign`` (default: a new name) before the first
        send, and each outcome is recorded. A message whose key the outbox
        already holds is not sent again: its stored result is yielded instead.
        Transient failures are retried when due, within the run, for up to
        ``deadline`` seconds (default 900); what is left stays ``pending``
        for :meth:`aresume` (see ``docs/outbox.md``). ``escalate`` (an
        :class:`~broadcastio.Escalation`, outbox only) sends a message through
        the next provider of the route when no receipt of its level arrived in
        time (see ``docs/receipts.md``).
        """
        self._check_open()
        slots = self._route(via)
        buckets = None
        if rate_limits:
            unknown = set(rate_limits) - set(self._by_name)
            if unknown:
                raise ConfigurationError(f"rate_limits names unknown providers: {', '.join(sorted(unknown))}")
            buckets = {name: TokenBucket(limit, self._clock) for name, limit in rate_limits.items()}
        deliver = self._deliverer.deliver

        async def one(message: Message) -> DeliveryResult:
            return await deliver(message, slots, trace=trace, buckets=buckets)

        async def through(message: Message, route: Sequence[ProviderSlot]) -> DeliveryResult:
            return await deliver(message, tuple(route), trace=trace, buckets=buckets)

        if escalate is not None and outbox is None:
            raise UsageError("escalate= needs an outbox= (its timers live in the journal)")
        if outbox is not None:
            from broadcastio.outbox._runner import journalled_broadcast

            results = journalled_broadcast(
                outbox,
                messages,
                through,
                slots,
                self._slots,
                concurrency=concurrency,
                campaign=campaign,
                deadline=deadline,
                control=control,
                escalate=escalate,
            )
        else:
            if campaign is not None or deadline is not None:
                raise UsageError("campaign= and deadline= need an outbox=")
            results = stream_results(messages, one, concurrency=concurrency, control=control)
        try:
            async for result in results:
                yield result
        finally:
            await results.aclose()  # stops the workers when the caller leaves early

    async def aresume(
        self,
        outbox: Outbox,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        trace: bool = False,
        via: Sequence[str] | None = None,
        campaign: str | None = None,
        deadline: float | None = None,
        control: RunControl | None = None,
        rows: tuple[int, int] | None = None,
    ) -> AsyncGenerator[DeliveryResult, None]:
        """Finish what stopped runs left in ``outbox`` (or in one ``campaign`` of it), yielding each result.

        ``rows=(first, last)`` (with ``campaign``) limits the run to the rows
        whose input row numbers lie in that range: one chunk of a campaign,
        as a Celery chunk task sends it.

        ``pending`` rows are sent, deferred ones when they fall due within
        ``deadline`` seconds (default 900); a row left ``sending`` by a dead
        run becomes ``unknown``; ``unknown`` rows are sent again only when
        every provider that could be called for them declares idempotent
        sends, otherwise their stored result is yielded and they stay
        ``unknown``. Rows another live run holds are left alone.
        """
        self._check_open()
        from broadcastio.outbox._runner import journalled_resume

        slots = self._route(via)
        deliver = self._deliverer.deliver

        async def through(message: Message, route: Sequence[ProviderSlot]) -> DeliveryResult:
            return await deliver(message, tuple(route), trace=trace)

        resumed = journalled_resume(
            outbox,
            through,
            slots,
            self._slots,
            concurrency=concurrency,
            campaign=campaign,
            deadline=deadline,
            control=control,
            rows=rows,
        )
        try:
            async for result in resumed:
                yield result
        finally:
            await resumed.aclose()

    async def awatch(
        self,
        outbox: Outbox,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        trace: bool = False,
        via: Sequence[str] | None = None,
        campaign: str | None = None,
        control: RunControl | None = None,
        once: bool = False,
        poll: float = 1.0,
    ) -> AsyncGenerator[DeliveryResult, None]:
        """Keep ``outbox`` moving until ``control`` stops it: fire the escalation
        timers that fall due, send the rows a failed receipt or an escalation put
        back to ``pending`` (through the rest of their route), and deferred rows
        when due. Yields the result of each send. ``once``: one pass, then return
        (for cron and tests). See ``docs/receipts.md``.
        """
        self._check_open()
        from broadcastio.outbox._watch import watch

        slots = self._route(via)
        deliver = self._deliverer.deliver

        async def through(message: Message, route: Sequence[ProviderSlot]) -> DeliveryResult:
            return await deliver(message, tuple(route), trace=trace)

        watched = watch(
            outbox,
            through,
            slots,
            self._slots,
            concurrency=concurrency,
            campaign=campaign,
            control=control,
            once=once,
            poll=poll,
        )
        try:
            async for result in watched:
                yield result
        finally:
            await watched.aclose()

    def resume(
        self,
        outbox: Outbox,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        trace: bool = False,
        via: Sequence[str] | None = None,
        campaign: str | None = None,
        deadline: float | None = None,
        control: RunControl | None = None,
        rows: tuple[int, int] | None = None,
    ) -> Iterator[DeliveryResult]:
        """Sync facade of :meth:`aresume`: a plain iterator of results."""
        ensure_no_running_loop("resume", "aresume")
        yield from self._loop_thread.iterate(
            self.aresume(
                outbox,
                concurrency=concurrency,
                trace=trace,
                via=via,
                campaign=campaign,
                deadline=deadline,
                control=control,
                rows=rows,
            ),
            concurrency,
        )

    def broadcast(
        self,
        messages: Iterable[Message] | AsyncIterable[Message],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        rate_limits: Mapping[str, RateLimit] | None = None,
        trace: bool = False,
        via: Sequence[str] | None = None,
        outbox: Outbox | None = None,
        campaign: str | None = None,
        deadline: float | None = None,
        control: RunControl | None = None,
        escalate: Escalation | None = None,
    ) -> Iterator[DeliveryResult]:
        """Sync facade of :meth:`abroadcast`: a plain iterator of results."""
        ensure_no_running_loop("broadcast", "abroadcast")
        stream: AsyncGenerator[DeliveryResult, None] = self.abroadcast(
            messages,
            concurrency=concurrency,
            rate_limits=rate_limits,
            trace=trace,
            via=via,
            outbox=outbox,
            campaign=campaign,
            deadline=deadline,
            control=control,
            escalate=escalate,
        )
        yield from self._loop_thread.iterate(stream, concurrency)

    # --- lifecycle -------------------------------------------------------------

    async def aclose(self) -> None:
        """Close every provider once; the orchestrator cannot send afterwards."""
        if self._closed:
            return
        self._closed = True
        for slot in self._slots:
            await slot.aclose()
        if self.coordinator is not None:
            await self.coordinator.aclose()

    def close(self) -> None:
        """Sync facade of :meth:`aclose`; also stops the private loop thread."""
        ensure_no_running_loop("close", "aclose")
        if self._loop_thread.started:
            self._loop_thread.run(self.aclose())
            self._loop_thread.stop()
        else:
            asyncio.run(self.aclose())

    async def __aenter__(self) -> Orchestrator:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __enter__(self) -> Orchestrator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- helpers ------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise UsageError("this Orchestrator is closed; build a new one")

    def _slot(self, name: str) -> ProviderSlot:
        try:
            return self._by_name[name]
        except KeyError:
            raise ConfigurationError(f"no provider named {name!r}; known: {', '.join(self._by_name)}") from None

    def _route(self, via: Sequence[str] | None) -> tuple[ProviderSlot, ...]:
        if via is None:
            return self._slots
        if isinstance(via, str):
            raise ConfigurationError("via= takes a list of provider names, not a string")
        if not via:
            raise ConfigurationError("via= must name at least one provider")
        repeated = sorted({name for name in via if list(via).count(name) > 1})
        if repeated:  # a second pass would repeat the same errors with a fresh attempt budget
            raise ConfigurationError(f"via= names {', '.join(map(repr, repeated))} more than once")
        return tuple(self._slot(name) for name in via)
