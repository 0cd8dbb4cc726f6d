"""The ledger of what the reliability tests injected and saw, summed over the session (docs/reliability.md
quotes its figures). Its own module, light to import, because tests/conftest.py prints it at the end of the
run: there, under pytest-xdist, the controller adds up what each worker's tests recorded."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Ledger:
    """What the reliability tests did and saw, summed over the session."""

    upstream_faults: int = 0  # answers from `_fault`/`respond` steps, plus refused connections
    aws_faults: int = 0  # fault-proxy injections, plus unreachable AWS endpoints
    faults_seen: int = 0  # upstream faults the runs counted (report.faults), wrong-token 401s included
    kills: int = 0
    runs: int = 0
    invokes: int = 0  # of the runs, those through the real function (local_invoke)
    jobs: int = 0
    expected_ids: set[str] = field(default_factory=set)
    deliveries: Counter[str] = field(default_factory=Counter)
    ids_per_transition: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    at_least_once_redeliveries: int = 0  # only from the two windows nothing can close (see reliability.md)
    tests: int = 0
    api_answers: Counter[int] = field(default_factory=Counter)  # status codes of the API property tests
    timings: dict[str, float] = field(default_factory=dict)  # a few measured durations, for the report

    def summary(self) -> dict[str, Any]:
        delivered = set(self.deliveries)
        duplicates = sum(count - 1 for count in self.deliveries.values() if count > 1)
        return {
            "tests": self.tests,
            "faults_injected": self.upstream_faults + self.aws_faults + self.kills,
            "upstream_faults": self.upstream_faults,
            "aws_faults": self.aws_faults,
            "upstream_faults_seen_by_runs": self.faults_seen,
            "kills": self.kills,
            "runs": self.runs,
            "runs_through_the_function": self.invokes,
            "jobs": self.jobs,
            "events_expected": len(self.expected_ids),
            "events_delivered": len(delivered & self.expected_ids),
            "deliveries": sum(self.deliveries.values()),
            "lost": len(self.expected_ids - delivered),
            "unexpected": len(delivered - self.expected_ids),
            "transitions_with_more_than_one_id": sum(len(ids) > 1 for ids in self.ids_per_transition.values()),
            "duplicate_deliveries": duplicates,
            "duplicate_deliveries_outside_at_least_once_windows": duplicates - self.at_least_once_redeliveries,
            "api_requests": sum(self.api_answers.values()),
            "api_answers": {str(status): count for status, count in sorted(self.api_answers.items())},
            "timings_s": {name: round(value, 2) for name, value in sorted(self.timings.items())},
        }

    def to_wire(self) -> str:
        """The ledger as JSON, to carry from a pytest-xdist worker to the controller (`absorb`)."""
        return json.dumps(
            {
                **{name: getattr(self, name) for name in _SUMS},
                "expected_ids": sorted(self.expected_ids),
                "deliveries": dict(self.deliveries),
                "ids_per_transition": [[*key, sorted(ids)] for key, ids in self.ids_per_transition.items()],
                "api_answers": {str(status): n for status, n in self.api_answers.items()},
                "timings": self.timings,
            }
        )

    def absorb(self, wire: str) -> None:
        """Add a worker's ledger (`to_wire`) to this one."""
        other = json.loads(wire)
        for name in _SUMS:
            setattr(self, name, getattr(self, name) + other[name])
        self.expected_ids |= set(other["expected_ids"])
        self.deliveries.update(other["deliveries"])
        for job_key, event_type, ids in other["ids_per_transition"]:
            self.ids_per_transition.setdefault((job_key, event_type), set()).update(ids)
        self.api_answers.update({int(status): n for status, n in other["api_answers"].items()})
        self.timings.update(other["timings"])


_SUMS = [
    "upstream_faults",
    "aws_faults",
    "faults_seen",
    "kills",
    "runs",
    "invokes",
    "jobs",
    "at_least_once_redeliveries",
    "tests",
]
LEDGER = Ledger()
