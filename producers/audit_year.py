"""A simulated audit year: a calendar year of statewide CLETS traffic for an auditor's replay and report.

Preset ``audit-2018``: the year auditors asked about — every registry agency's background traffic
(DHS components included), a raid period (ICE-ERO with CBP assisting: a morning burst of DMV look-ups
for immigration enforcement), a sheriff's CCW checks under purpose code C, a snooping operator — and
the annual misuse disclosures filed for it: most agencies on time, every DHS component reporting
zero investigations (as they did for 2018), one ICE-ERO office filing months late, and agencies that
never file.

``events()`` streams labelled events (the simulator's generator, constant memory); ``filings()`` gives
the disclosures; ``produce_event_time`` sends events to Kafka with the record timestamp set to the
event time, so ``replay --from-kafka --since/--until`` selects by when the queries happened.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from zoneinfo import ZoneInfo

from processors.agencies import AgencyRegistry
from processors.disclosures import Filing, deadline
from producers.simulator import LabelledEvent, generate

PACIFIC: Final = ZoneInfo("America/Los_Angeles")
PRESETS: Final = ("audit-2018",)


@dataclass(frozen=True)
class AuditYear:
    """One audit year's configuration. ``rate_per_second``: the background's long-run average over
    all agencies (0.5/s is about 16 million queries a year); raid size scales with ``raid_lookups``."""

    year: int = 2018
    seed: int = 2018
    rate_per_second: float = 0.5
    raid_oris: tuple[str, ...] = ("CAICE0100", "CACBP0200")
    raid_start: dt.datetime = dt.datetime(2018, 7, 10, 5, 0, tzinfo=PACIFIC)
    raid_minutes: float = 180.0
    raid_lookups: int = 900
    raid_targets: int = 200
    ccw_checks: int = 400
    snooping_lookups: int = 120
    late_filers: dict[str, dt.date] = field(default_factory=lambda: {"CAICE0100": dt.date(2019, 6, 14)})
    never_filers: tuple[str, ...] = ("CACIS0100", "CA0300200")
    jitter_seconds: float = 5.0

    @property
    def start(self) -> dt.datetime:
        return dt.datetime(self.year, 1, 1, tzinfo=PACIFIC)

    @property
    def end(self) -> dt.datetime:
        return dt.datetime(self.year + 1, 1, 1, tzinfo=PACIFIC)

    def scenarios(self) -> list[str]:
        raid_start = self.raid_start.replace(year=self.year)
        return [
            (
                f"raid:oris={'+'.join(self.raid_oris)},start={raid_start.isoformat()},minutes={self.raid_minutes:g},"
                f"lookups={self.raid_lookups},targets={self.raid_targets}"
            ),
            f"ccw:checks={self.ccw_checks}",
            f"snooping:lookups={self.snooping_lookups}",
        ]

    def events(self, registry: AgencyRegistry | None = None) -> Iterator[LabelledEvent]:
        return generate(
            seed=self.seed,
            start=self.start,
            duration=self.end - self.start,
            rate_per_second=self.rate_per_second,
            scenarios=self.scenarios(),
            registry=registry,
            jitter_seconds=self.jitter_seconds,
        )

    def filings(self, registry: AgencyRegistry | None = None) -> list[Filing]:
        """The disclosures filed for the year: on time (January of the next year) unless a late or never
        filer; DHS components report zero investigations, other agencies a few."""
        reg = registry if registry is not None else AgencyRegistry.load()
        rng = random.Random(f"{self.seed}:filings")
        due = deadline(self.year)
        out: list[Filing] = []
        for agency in sorted(reg, key=lambda a: a.ori):
            if agency.ori in self.never_filers:
                continue
            if agency.ori in self.late_filers:
                day = self.late_filers[agency.ori]
                filed = dt.datetime.combine(day, dt.time(10, 30), PACIFIC)
            else:
                filed = due - dt.timedelta(days=rng.randint(2, 30), hours=rng.randint(1, 8))
            if agency.is_dhs:
                investigations, outcomes = 0, "no misuse investigations opened"
            else:
                investigations = rng.choice((0, 0, 1, 1, 2, 3, 5))
                outcomes = (
                    "none"
                    if investigations == 0
                    else f"{investigations} opened; {rng.randint(0, investigations)} sustained"
                )
            out.append(Filing(agency.ori, self.year, filed, investigations, outcomes))
        return out

    def describe(self) -> dict[str, Any]:
        return {
            "preset": f"audit-{self.year}",
            "year": self.year,
            "seed": self.seed,
            "rate_per_second": self.rate_per_second,
            "scenarios": self.scenarios(),
            "late_filers": {k: v.isoformat() for k, v in self.late_filers.items()},
            "never_filers": list(self.never_filers),
        }


def preset(name: str, **overrides: Any) -> AuditYear:
    """``audit-2018`` (or ``audit-YYYY``: the same shape in another year)."""
    if not name.startswith("audit-") or not name[6:].isdigit() or len(name) != 10:
        raise ValueError(f"unknown preset {name!r}; known: {', '.join(PRESETS)} (or audit-YYYY)")
    year = int(name[6:])
    return AuditYear(year=year, **{"seed": year, **overrides})


def produce_event_time(
    items: Iterable[LabelledEvent],
    *,
    bootstrap: str,
    topic: str,
    partitions: int = 1,
    progress: Any = None,
    security: Mapping[str, Any] | None = None,
) -> int:
    """Send events to ``topic`` (key = ORI) with the Kafka record timestamp = the event time, creating the
    topic when missing with ``retention.ms=-1`` (records dated years ago would otherwise be deleted by
    time-based retention at once). Returns the number of events acknowledged."""
    import msgspec
    from kafka import KafkaAdminClient, KafkaProducer
    from kafka.admin import NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    from producers.kafka_out import BrokerUnavailable, ProduceError

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="clets-watch-audit-year",
            request_timeout_ms=15000,
            **dict(security or {}),
        )
    except KafkaError as exc:
        raise BrokerUnavailable(bootstrap) from exc
    try:
        if topic not in set(admin.list_topics()):
            try:
                admin.create_topics(
                    [
                        NewTopic(
                            topic,
                            num_partitions=partitions,
                            replication_factor=1,
                            topic_configs={"retention.ms": "-1"},
                        )
                    ],
                    timeout_ms=15000,
                )
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()
    encode = msgspec.json.Encoder().encode
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        client_id="clets-watch-audit-year",
        acks="all",
        linger_ms=20,
        batch_size=512 * 1024,
        max_block_ms=30_000,
        **dict(security or {}),
    )
    sent = 0
    failures: list[str] = []

    def ok(_md: Any) -> None:
        nonlocal sent
        sent += 1

    def failed(exc: BaseException) -> None:
        if len(failures) < 5:
            failures.append(f"{type(exc).__name__}: {exc}")

    handed = 0
    try:
        for item in items:
            event = item.event
            ts_ms = int(dt.datetime.fromisoformat(event["occurred_at"]).timestamp() * 1000)
            fut = producer.send(
                topic, key=str(event["ori"]).encode(), value=encode(event), timestamp_ms=ts_ms
            )
            fut.add_callback(ok)
            fut.add_errback(failed)
            handed += 1
            if progress is not None and handed % 10_000 == 0:
                progress(handed)
        producer.flush(timeout=120)
    finally:
        producer.close(timeout=10)
    if sent != handed:
        raise ProduceError(
            f"{handed - sent} of {handed} events were not acknowledged by {bootstrap}: " + "; ".join(failures)
        )
    return sent
