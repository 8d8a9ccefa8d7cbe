"""Purpose classification under a versioned policy (issue #3).

    policy = load_policy()                 # bundled policy_v1.yaml, or a path
    clf = Classifier(policy, AgencyRegistry.load())
    verdict = clf.classify(event)          # schemas.Verdict, data_source filled
    verdict, traces = clf.explain(event)   # each rule considered, fired or not, and why

The classifier is pure: no Kafka, no database, no network.
"""

from processors.policy.classifier import Classifier
from processors.policy.decision import Decision, RuleTrace
from processors.policy.loader import load_policy, parse_policy
from processors.policy.model import Indicator, Policy, PolicyError, Rule

__all__ = [
    "Classifier",
    "Decision",
    "Indicator",
    "Policy",
    "PolicyError",
    "Rule",
    "RuleTrace",
    "load_policy",
    "parse_policy",
]
