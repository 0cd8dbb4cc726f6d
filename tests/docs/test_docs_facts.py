"""Facts the docs state that the code decides, checked against the code: the job object and the event (made by
the code that makes them, then compared with the examples), the variables each function is given (from
template.yaml), the webhook schedule, and the `RunFailed` messages quoted."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

import pytest
import yaml
from docs_markdown import ROOT, read_page
from videohook.config import DEFAULT_WEBHOOK_RETRY_SCHEDULE, ProviderSettings, Settings
from videohook.domain.events import event_body, final_event
from videohook.domain.models import Job
from videohook.domain.polling import Answered, PollPolicy, decide
from videohook.domain.webhooks import Outcome, Verdict, delivery_record
from videohook.services.tracking import Tracking

DOCS = ROOT / "docs"
BASE_URL = "https://models.hingnet.com.cn"
TRACKED_AT = 1761234570
HINGNET = {"id": "video_abc123", "object": "video", "model": "veo-3.1-fast-generate-preview", "created_at": 1761234567}
# The job's life as HingNet answers it (its documented answers: no completed_at), poll by poll
POLLS = [
    (TRACKED_AT + 20, {**HINGNET, "status": "queued", "progress": 0}),
    (TRACKED_AT + 40, {**HINGNET, "status": "in_progress", "progress": 22.5}),
    (
        TRACKED_AT + 120,
        {
            **HINGNET,
            "status": "completed",
            "progress": 100,
            "video_url": "https://models.hingnet.com.cn/files/video_abc123.mp4",
            "seconds": 6,
            "size": "1280x720",
        },
    ),
]
DELIVERED_AT = TRACKED_AT + 121


class _NewJobs:
    def create(self, job: Job) -> tuple[Job, bool]:
        return job, True


def example_job() -> Job:
    """The docs' example job, made by the code: tracked through the API's use case, polled three times (the
    poll decision), then its webhook delivered once (the delivery log's record)."""
    settings = Settings(
        jobs_table="JobsTable",
        events_topic_arn="",
        providers={"hingnet": ProviderSettings("hingnet", BASE_URL, "videohook/hingnet")},
    )
    tracking = Tracking(settings, _NewJobs(), clock=lambda: TRACKED_AT)
    request = {
        "provider": "hingnet",
        "video_id": "video_abc123",
        "metadata": {"order": "42"},
        "duration": 6,
        "callback_url": "https://hooks.example.com/videohook?token=s3cr3t",
    }
    job, _ = tracking.track(request, tracking.caller(""))
    policy = PollPolicy(base_s=10, max_age_s=21600, rand=lambda: 0.5)
    for now, answer in POLLS:
        job = decide(job, Answered(answer), now=now, base_url=BASE_URL, policy=policy).job
    event = final_event(job)
    delivered = delivery_record(
        now=DELIVERED_AT, event_id=event.id, attempt=1, verdict=Verdict(Outcome.DELIVERED), status_code=204
    )
    return job.with_changes(deliveries=(delivered,), pending_event=None)


def json_block(page: str, marker: str) -> Any:
    """The JSON of the fenced block right after the line `<!-- example: {marker} -->` in docs/{page}."""
    lines = (DOCS / page).read_text(encoding="utf-8").splitlines()
    start = lines.index(f"<!-- example: {marker} -->")
    block = next(b for b in read_page(DOCS / page).blocks if b.line == start + 2)
    return json.loads(block.code)


def test_the_job_example_is_what_the_api_answers():
    documented = json_block("api.md", "job")
    made = example_job().to_public()
    assert documented == made, "docs/api.md's job example, as the code makes it:\n" + json.dumps(made, indent=2)


def test_the_event_example_is_what_the_poller_publishes():
    job = example_job()
    made = event_body(job, final_event(job))
    documented = json_block("events.md", "event")
    assert documented == made, "docs/events.md's event example, as the code makes it:\n" + json.dumps(made, indent=2)


def test_the_job_object_fields_are_all_described():
    # Every field of the job object (and of its tracking) is named in docs/api.md's field list
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    public = example_job().to_public()
    names = [*public, *(f"tracking.{name}" for name in public["tracking"])]
    missing = [f"`{name}`" for name in names if f"`{name}`" not in text]
    assert not missing, f"docs/api.md does not describe {missing}"


def template_functions() -> dict[str, set[str]]:
    """Each function of template.yaml and the variables it is given (Globals merged in, as SAM does)."""
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=_AnyTagLoader)
    common = set(template["Globals"]["Function"].get("Environment", {}).get("Variables", {}))
    return {
        name: common | set(resource["Properties"].get("Environment", {}).get("Variables", {}))
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


class _AnyTagLoader(yaml.SafeLoader):
    pass


_AnyTagLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def test_configuration_names_every_variable_of_every_function():
    # docs/configuration.md's table "which function reads which": one row per function, its variables in it
    rows = {}
    for line in (DOCS / "configuration.md").read_text(encoding="utf-8").splitlines():
        row = re.match(r"^\| `(?P<name>\w+Function)`[^|]*\|(?P<cells>.*)\|\s*$", line)
        if row:
            rows[row["name"]] = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", row["cells"]))
    declared = template_functions()
    assert set(rows) == set(declared), "one row per function of template.yaml"
    for name, variables in declared.items():
        assert rows[name] == variables, f"{name}: the template gives {sorted(variables)}"


def test_the_webhook_schedule_is_counted_as_the_code_counts_it():
    # The schedule's first entry is the first attempt: len(schedule) attempts, one fewer retries
    attempts, retries = len(DEFAULT_WEBHOOK_RETRY_SCHEDULE), len(DEFAULT_WEBHOOK_RETRY_SCHEDULE) - 1
    hours = sum(DEFAULT_WEBHOOK_RETRY_SCHEDULE) / 3600
    for page in ("webhooks.md", "operations.md"):
        text = (DOCS / page).read_text(encoding="utf-8")
        assert f"{attempts} attempts" in text, page
        assert f"~{hours:.1f} h" in text or f"{hours:.1f} hours" in text, page
    assert f"1 + {retries} retries" in (DOCS / "webhooks.md").read_text(encoding="utf-8")


def run_failed_messages() -> list[re.Pattern[str]]:
    """The messages `RunFailed(...)` is raised with in the poller, as patterns ({...} parts: anything)."""
    tree = ast.parse((ROOT / "layers/common/videohook/services/poller/report.py").read_text())
    patterns = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "RunFailed":
            parts = node.args[0].values if isinstance(node.args[0], ast.JoinedStr) else [node.args[0]]
            text = "".join(re.escape(part.value) if isinstance(part, ast.Constant) else ".+?" for part in parts)
            patterns.append(re.compile(text))
    return patterns


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda page: page.name)
def test_every_quoted_run_failed_message_is_one_the_poller_raises(page):
    patterns = run_failed_messages()
    assert patterns
    quoted = re.findall(r"`RunFailed: ([^`]+)`", page.read_text(encoding="utf-8"))
    stale = [message for message in quoted if not any(p.fullmatch(message) for p in patterns)]
    assert not stale, f"{page.name} quotes messages the poller no longer raises: {stale}"
