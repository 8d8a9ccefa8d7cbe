"""One way to build the pipeline: the worker, ``replay``, the benchmarks and the tests all call
``build_pipeline(settings, overrides)``, so live and replay run the same registry, policy, rules, windows,
retention and pseudonym key, and give the same alerts for the same events (design.md, "Semantics").

Not part of the pure core: it reads the settings and the configuration files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from clets_watch.settings import Settings, pseudonym_key
from processors.agencies import AgencyRegistry
from processors.pipeline import Pipeline, PipelineConfig
from processors.policy import Classifier, Policy, load_policy
from processors.pseudonymize import Pseudonymizer
from processors.unknown_keys import KnownKeys, guard_unknown_keys
from schemas import QueryEvent, Verdict


@dataclass(frozen=True, slots=True)
class PipelineOverrides:
    """What a command's flags change over the settings (``None``: take the setting)."""

    agencies_file: Path | None = None
    policy_file: Path | None = None
    rules_file: Path | None = None
    window_seconds: int | None = None
    allowed_lateness_seconds: int | None = None
    amendment_retention_seconds: int | None = None
    pseudonym_key: bytes | None = None


@dataclass(frozen=True, slots=True)
class BuiltPipeline:
    """Everything a pipeline is made of; ``new()`` and ``restore()`` make pipelines (one per partition)."""

    registry: AgencyRegistry
    policy: Policy
    classifier: Classifier
    known_keys: KnownKeys
    pseudonymizer: Pseudonymizer
    key: bytes
    key_note: str
    config: PipelineConfig
    # the verdict the pipeline gives: the policy's, raised to review for an unknown key or code
    classify: Callable[[QueryEvent], Verdict]

    def new(self) -> Pipeline:
        return Pipeline(self.classify, self.registry, self.pseudonymizer, self.config)

    def restore(self, state: bytes) -> Pipeline:
        pipeline = self.new()
        pipeline.load_snapshot(state)
        return pipeline


def build_pipeline(settings: Settings, overrides: PipelineOverrides | None = None) -> BuiltPipeline:
    """Build from settings and overrides. Raises the loaders' errors (``RegistryError``, ``PolicyError``,
    ``RuleConfigError``, ``MissingPseudonymKey``, ``ValueError`` for a bad window) for the caller to report."""
    o = overrides or PipelineOverrides()
    if o.pseudonym_key is not None:
        key, note = o.pseudonym_key, "key given by the caller"
    else:
        key, note = pseudonym_key(settings)
    registry = AgencyRegistry.load(o.agencies_file or settings.agencies_file)
    policy = load_policy(o.policy_file or settings.policy_file)
    config = PipelineConfig(
        window_seconds=o.window_seconds or settings.window_seconds,
        allowed_lateness_seconds=(
            o.allowed_lateness_seconds
            if o.allowed_lateness_seconds is not None
            else settings.allowed_lateness_seconds
        ),
        amendment_retention_seconds=(
            o.amendment_retention_seconds
            if o.amendment_retention_seconds is not None
            else settings.amendment_retention_seconds
        ),
        max_future_skew_seconds=settings.max_future_skew_seconds,
        rules_file=o.rules_file or settings.rules_file,
    )
    classifier = Classifier(policy, registry)
    known = KnownKeys(policy.sources_by_key)
    built = BuiltPipeline(
        registry=registry,
        policy=policy,
        classifier=classifier,
        known_keys=known,
        classify=guard_unknown_keys(classifier.classify, known),
        pseudonymizer=Pseudonymizer(key),
        key=key,
        key_note=note,
        config=config,
    )
    built.new()  # load the rules once now: a bad rules file fails here, not at the first event
    return built
