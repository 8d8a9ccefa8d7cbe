"""Prometheus metrics of the pipeline: one ``Metrics`` object over an injected registry.

Labels stay low-cardinality and free of PII: agency ORI, federal component, message key, verdict,
purpose, rule, severity, dead-letter reason. Never an operator, a subject, a case number or free text.
Every label set is bounded: an ORI missing from the agency registry is counted as ``unknown``, a message
key the policy does not know as ``other`` (``bound_labels``), so no input can create series at will.
Verdict, purpose, reason, rule and severity label values are pre-initialised so their series exist at
zero before the first event (a rate() over a series that appears late misses its first increments).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, Protocol, get_args
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from schemas.events import DEAD_LETTER_REASONS
from schemas.outputs import Alert, DeadLetter, ProcessedEvent, PurposeName, Severity, VerdictName

NO_COMPONENT: Final = "none"
UNKNOWN_ORI: Final = "unknown"  # the ori label of an ORI missing from the agency registry
OTHER: Final = "other"  # the label of a message key (or dead-letter reason) outside the known set
VERDICTS: Final = tuple(get_args(VerdictName))
PURPOSES: Final = tuple(get_args(PurposeName))
SEVERITIES: Final = tuple(get_args(Severity))
ALERT_STATUSES: Final = ("fired", "suppressed")
RECOMMENDATION_STATES: Final = ("normal", "watch", "suspend")
SINK_RETRY_KINDS: Final = ("transient", "error")
PROCESSING_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

# Label names no metric may carry: identities and free text.
FORBIDDEN_LABELS: Final = frozenset(
    {
        "operator",
        "operator_id",
        "subject",
        "subject_key",
        "case",
        "case_number",
        "reason_text",
        "terminal_id",
        "event_id",
        "summary",
        "note",
        "detail",
    }
)


def component_label(component: str | None) -> str:
    return component or NO_COMPONENT


class _BatchLike(Protocol):
    @property
    def processed(self) -> Sequence[ProcessedEvent]: ...
    @property
    def alerts(self) -> Sequence[Alert]: ...
    @property
    def dead_letters(self) -> Sequence[DeadLetter]: ...


class Metrics:
    """Every metric clets-watch exports. Pass a fresh ``CollectorRegistry`` in tests."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        rules: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._clock = clock
        self._oris: set[str] = set()
        self._message_key_label: Callable[[str], str] = _domain_message_key_label
        self.bound_labels()
        self._watermark: float | None = None
        r = self.registry
        self.queries = Counter(
            "clets_watch_queries",
            "Classified CLETS queries by agency, message key and verdict.",
            ["ori", "component", "message_type", "verdict"],
            registry=r,
        )
        self.purposes = Counter(
            "clets_watch_purpose",
            "Classified CLETS queries by agency and purpose.",
            ["ori", "component", "purpose"],
            registry=r,
        )
        self.alerts = Counter(
            "clets_watch_alerts",
            "Alerts raised by rule, severity and status (fired or suppressed).",
            ["rule", "severity", "status"],
            registry=r,
        )
        self.dead_letters = Counter(
            "clets_watch_dead_letter",
            "Messages routed to the dead-letter topic, by reason.",
            ["reason"],
            registry=r,
        )
        self.late_events = Counter(
            "clets_watch_late_events",
            "Events later than the allowed lateness (counted, dead-lettered).",
            registry=r,
        )
        self.events_processed = Counter(
            "clets_watch_events_processed",
            "Query events decoded, classified and handed to the sinks.",
            registry=r,
        )
        self.watermark_timestamp = Gauge(
            "clets_watch_watermark_timestamp_seconds",
            "Event-time watermark (Unix seconds).",
            registry=r,
        )
        self.watermark_lag = Gauge(
            "clets_watch_watermark_lag_seconds",
            "Wall clock minus the event-time watermark, in seconds.",
            registry=r,
        )
        self.watermark_lag.set_function(self._lag)
        self.sink_backlog = Gauge(
            "clets_watch_sink_backlog",
            "Results waiting to be written to the database.",
            registry=r,
        )
        self.sink_retries = Counter(
            "clets_watch_sink_retries",
            "Batch writes retried, by kind: transient (connection, timeout) or error (anything else).",
            ["kind"],
            registry=r,
        )
        for kind in SINK_RETRY_KINDS:
            self.sink_retries.labels(kind=kind)
        self.consumer_lag = Gauge(
            "clets_watch_consumer_lag",
            "Kafka consumer lag in messages, by partition.",
            ["partition"],
            registry=r,
        )
        self.processing_seconds = Histogram(
            "clets_watch_processing_seconds",
            "Time to process one batch, in seconds.",
            buckets=PROCESSING_BUCKETS,
            registry=r,
        )
        self.agency_recommendation = Gauge(
            "clets_watch_agency_recommendation",
            "Current recommendation per agency: 1 for the state in force, 0 for the others.",
            ["ori", "component", "state"],
            registry=r,
        )
        for reason in DEAD_LETTER_REASONS:
            self.dead_letters.labels(reason=reason)
        self.declare_rules(rules)

    # -- setup ---------------------------------------------------------------------------------

    def bound_labels(
        self, oris: Iterable[Any] | None = None, message_key_label: Callable[[str], str] | None = None
    ) -> None:
        """The label values allowed: ``oris`` (ORIs, or agencies with an ``ori``; default: the bundled
        registry) and ``message_key_label`` (a message key -> its label, ``other`` when unknown; default:
        the message keys of domain.md). Agencies declared with ``declare_agency`` are allowed too."""
        if oris is None:
            from processors.agencies import AgencyRegistry

            oris = AgencyRegistry.load()
        self._oris = {o if isinstance(o, str) else o.ori for o in oris}
        if message_key_label is not None:
            self._message_key_label = message_key_label

    def ori_label(self, ori: str) -> str:
        return ori if ori in self._oris else UNKNOWN_ORI

    def message_key_label(self, message_type: str) -> str:
        return self._message_key_label(message_type)

    def declare_rules(self, rules: Iterable[str]) -> None:
        """Create the alert series of each rule at zero, for every severity and status."""
        for rule in rules:
            for severity in SEVERITIES:
                for status in ALERT_STATUSES:
                    self.alerts.labels(rule=rule, severity=severity, status=status)

    def declare_agency(
        self, ori: str, component: str | None = None, message_types: Iterable[str] = ()
    ) -> None:
        """Create an agency's purpose series (and, for the given message keys, its query series per
        verdict) at zero, e.g. for every ORI in the registry."""
        self._oris.add(ori)
        comp = component_label(component)
        for purpose in PURPOSES:
            self.purposes.labels(ori=ori, component=comp, purpose=purpose)
        for message_type in message_types:
            for verdict in VERDICTS:
                self.queries.labels(ori=ori, component=comp, message_type=message_type, verdict=verdict)

    # -- per batch -----------------------------------------------------------------------------

    def observe(
        self,
        *,
        processed: Iterable[ProcessedEvent] = (),
        alerts: Iterable[Alert] = (),
        dead_letters: Iterable[DeadLetter] = (),
        watermark: dt.datetime | float | None = None,
        processing_seconds: float | None = None,
    ) -> None:
        """Record everything one batch produced: the worker calls this once per batch.

        Late events are counted from the dead letters with reason ``late``."""
        self.observe_processed(processed)
        self.observe_alerts(alerts)
        self.observe_dead_letters(dead_letters)
        if watermark is not None:
            self.set_watermark(watermark)
        if processing_seconds is not None:
            self.processing_seconds.observe(processing_seconds)

    def observe_batch(
        self,
        batch: _BatchLike,
        *,
        seconds: float | None = None,
        watermark: dt.datetime | float | None = None,
    ) -> None:
        """``observe`` for an object with ``processed``, ``alerts`` and ``dead_letters`` lists
        (``sinks.writer.SinkBatch``, ``processors.batch.BatchOutput``); ``seconds`` is the batch's
        processing time."""
        self.observe(
            processed=batch.processed,
            alerts=batch.alerts,
            dead_letters=batch.dead_letters,
            watermark=watermark,
            processing_seconds=seconds,
        )

    def observe_processed(self, events: Iterable[ProcessedEvent]) -> int:
        # Count in a dict first: one inc() per label set, not per event, on the hot path.
        queries: dict[tuple[str, str, str, str], int] = {}
        purposes: dict[tuple[str, str, str], int] = {}
        n = 0
        for e in events:
            comp = component_label(e.component)
            ori = e.ori if e.ori in self._oris else UNKNOWN_ORI
            qk = (ori, comp, self._message_key_label(e.message_type), e.verdict)
            queries[qk] = queries.get(qk, 0) + 1
            pk = (ori, comp, e.purpose)
            purposes[pk] = purposes.get(pk, 0) + 1
            n += 1
        for (ori, comp, message_type, verdict), count in queries.items():
            self.queries.labels(ori=ori, component=comp, message_type=message_type, verdict=verdict).inc(
                count
            )
        for (ori, comp, purpose), count in purposes.items():
            self.purposes.labels(ori=ori, component=comp, purpose=purpose).inc(count)
        if n:
            self.events_processed.inc(n)
        return n

    def observe_alerts(self, alerts: Iterable[Alert]) -> None:
        for alert in alerts:
            self.alerts.labels(rule=alert.rule, severity=alert.severity, status=alert.status).inc()

    def observe_dead_letters(self, dead_letters: Iterable[DeadLetter]) -> None:
        for dead in dead_letters:
            self.dead_letters.labels(
                reason=dead.reason if dead.reason in DEAD_LETTER_REASONS else OTHER
            ).inc()
            if dead.reason == "late":
                self.late_events.inc()

    def set_watermark(self, watermark: dt.datetime | float) -> None:
        """Set the event-time watermark (aware datetime or Unix seconds); it only moves forward."""
        if isinstance(watermark, dt.datetime):
            if watermark.tzinfo is None:
                raise ValueError(f"naive watermark {watermark!r}: pass a timezone-aware datetime")
            ts = watermark.timestamp()
        else:
            ts = float(watermark)
        if self._watermark is None or ts > self._watermark:
            self._watermark = ts
            self.watermark_timestamp.set(ts)

    def _lag(self) -> float:
        if self._watermark is None:
            return 0.0
        return max(0.0, self._clock() - self._watermark)

    def set_consumer_lag(self, lags: Mapping[int, int]) -> None:
        for partition, lag in lags.items():
            self.consumer_lag.labels(partition=str(partition)).set(lag)

    def observe_sink_retry(self, kind: str) -> None:
        self.sink_retries.labels(kind=kind if kind in SINK_RETRY_KINDS else "error").inc()

    def set_sink_backlog(self, n: int) -> None:
        self.sink_backlog.set(n)

    def set_recommendation(self, ori: str, component: str | None, state: str) -> None:
        if state not in RECOMMENDATION_STATES:
            raise ValueError(f"unknown recommendation {state!r}: one of {', '.join(RECOMMENDATION_STATES)}")
        comp = component_label(component)
        ori = self.ori_label(ori)
        for s in RECOMMENDATION_STATES:
            self.agency_recommendation.labels(ori=ori, component=comp, state=s).set(1 if s == state else 0)


def _domain_message_key_label(message_type: str) -> str:
    from processors.unknown_keys import DOMAIN_MESSAGE_KEYS, OTHER_LABEL

    key = message_type.strip().upper()
    return key if key in DOMAIN_MESSAGE_KEYS else OTHER_LABEL


def serve(metrics: Metrics, host: str = "127.0.0.1", port: int = 9464) -> tuple[WSGIServer, threading.Thread]:
    """Serve ``/metrics`` over HTTP in a background thread (loopback by default).

    Returns the server and its thread; ``server.shutdown()`` stops it."""
    try:
        return start_http_server(port, addr=host, registry=metrics.registry)
    except OSError as exc:
        raise OSError(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}") from exc
