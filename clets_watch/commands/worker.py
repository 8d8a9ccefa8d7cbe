"""``clets-watch worker``: the live pipeline (Faust) with metrics on 127.0.0.1:9464."""

from __future__ import annotations

import argparse
import logging
import sys

from clets_watch.commands.options import Subcommands, add_bootstrap, add_command, add_db, add_log_level
from clets_watch.settings import MissingPseudonymKey, Settings, masked_url


def register(sub: Subcommands) -> None:
    p = add_command(
        sub,
        "worker",
        run=run,
        help="run the live pipeline: consume clets.queries, classify, window, alert, write sinks",
        description=(
            "Consume query events from Kafka, classify each under the policy, count per agency over "
            "event-time windows, evaluate alert rules, and write verdicts, aggregates and alerts to the "
            "database, the alerts topic and Prometheus metrics. Bad input goes to the dead-letter topic; "
            "when more than CLETS_WATCH_DEAD_LETTER_MAX_RATIO (default 0.8) of the last "
            "CLETS_WATCH_DEAD_LETTER_WINDOW (2000) messages are bad, the worker stops with exit code 3. "
            "State is checkpointed to the database with the batches it writes, so a restart resumes "
            "exactly where the last checkpoint left off."
        ),
    )
    add_bootstrap(p)
    add_db(p)
    p.add_argument(
        "--metrics-port", type=int, help="port of the /metrics endpoint on 127.0.0.1 (default 9464; 0 = off)"
    )
    p.add_argument("--group", help="consumer group id (default: clets-watch)")
    p.add_argument(
        "--rules",
        metavar="FILE",
        help="rules YAML merged over the bundled rules.yaml (default: CLETS_WATCH_RULES_FILE); "
        "the same flag as replay's, so both raise the same alerts",
    )
    add_log_level(p)


def settings_from_args(args: argparse.Namespace) -> Settings:
    overrides = {}
    if args.bootstrap:
        overrides["kafka_bootstrap"] = args.bootstrap
    if args.db:
        overrides["db_url"] = args.db
    if args.metrics_port is not None:
        overrides["metrics_port"] = args.metrics_port
    if args.group:
        overrides["consumer_group"] = args.group
    if getattr(args, "rules", None):
        overrides["rules_file"] = args.rules
    return Settings(**overrides)


DISCLOSURE_CHECK_SECONDS = 3600


def start_disclosure_checks(registry: object, db_url: str) -> None:
    """Export the misuse-disclosure tracker's findings (missing, late, contradiction) as gauges for
    on-call, refreshed hourly in a background thread (the check reads the database, not the stream)."""
    import logging
    import threading

    from sinks.disclosure_metrics import DisclosureMetrics

    gauges = DisclosureMetrics(registry)  # type: ignore[arg-type]
    log = logging.getLogger("clets_watch.worker")
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                gauges.refresh(db_url)
            except Exception as exc:  # noqa: BLE001 - a failed check must not stop the worker; say it
                log.warning("misuse-disclosure check failed: %s: %s", type(exc).__name__, exc)
            stop.wait(DISCLOSURE_CHECK_SECONDS)

    threading.Thread(target=loop, name="clets-watch-disclosures", daemon=True).start()


def run(args: argparse.Namespace) -> int:
    from clets_watch.cli import UserError
    from clets_watch.kafka_admin import BrokerUnavailable, ensure_topics

    settings = settings_from_args(args)
    try:
        from processors.app import WorkerRuntime, create_app
        from sinks.metrics import Metrics, serve

        runtime = WorkerRuntime.build(settings, metrics=Metrics())
    except MissingPseudonymKey as exc:
        raise UserError(str(exc)) from None
    except ValueError as exc:  # a registry, policy or rules file refused (RegistryError, PolicyError, ...)
        raise UserError(f"configuration refused: {exc}") from None
    print(f"clets-watch worker: {runtime.key_note}", file=sys.stderr)
    try:
        ensure_topics(
            settings.kafka_bootstrap,
            [settings.topic_queries, settings.topic_dead_letter, settings.topic_alerts],
            partitions=settings.topic_partitions,
        )
    except BrokerUnavailable as exc:
        raise UserError(str(exc)) from None
    if settings.metrics_port:
        serve(runtime.metrics, host=settings.metrics_host, port=settings.metrics_port)
        start_disclosure_checks(runtime.metrics.registry, settings.database_url)
        print(
            f"clets-watch worker: metrics on http://{settings.metrics_host}:{settings.metrics_port}/metrics",
            file=sys.stderr,
        )
    print(
        f"clets-watch worker: consuming {settings.topic_queries} from {settings.kafka_bootstrap}, "
        f"writing {masked_url(settings.database_url)}",
        file=sys.stderr,
    )
    import faust

    app = create_app(settings, runtime_factory=lambda: runtime)
    logging.getLogger("faust").setLevel(logging.WARNING)
    from processors.gc_tuning import freeze_gc, tune_gc

    tune_gc()
    freeze_gc()  # policy, registry, rules and Faust's modules: built once, never garbage
    worker = faust.Worker(
        app, loglevel=getattr(logging, args.log_level.upper()), quiet=True, redirect_stdouts=False
    )
    try:
        worker.execute_from_commandline()
    except SystemExit:
        pass
    if runtime.fatal:
        print(f"clets-watch worker: stopped: {runtime.fatal}", file=sys.stderr)
        return 3
    return 0
