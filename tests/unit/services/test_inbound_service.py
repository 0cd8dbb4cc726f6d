"""Issue 14, the pure logic of a callback: services/inbound.py's answers and writes with in-process stubs for the
store, the kept callbacks and the publisher, and adapters/callback_verifier.py against the test vectors the
providers' documentation and SDKs quote (devtools/inbound_fixtures), the clock injected."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from videohook.adapters.callback_verifier import CallbackVerifier
from videohook.config import ProviderSettings, Settings, parse_providers
from videohook.domain.events import event_id
from videohook.domain.models import Job, Reading, VideoStatus
from videohook.services.inbound import MAX_BODY_BYTES, CallbackRefused, Inbound

ROOT = Path(__file__).resolve().parents[3]
NOW = 1_800_000_000.0
TOKEN = "luma-token-0123456789abcdef"
LUMA_ID = "9c1e6a1f-5e0b-4d8e-9a43-1c2d3e4f5a6b"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((ROOT / "devtools" / "inbound_fixtures" / f"{name}.json").read_text())


# -- stubs -----------------------------------------------------------------------------------------------------
class Store:
    def __init__(self, *jobs: Job) -> None:
        self.jobs = {job.key: job for job in jobs}
        self.saves: list[Job] = []
        self.cleared: list[str] = []
        self.conflicts = 0  # the next saves that lose to a concurrent write
        self.concurrent: Job | None = None  # what that concurrent write left

    def get(self, provider: str, video_id: str) -> Job | None:
        return self.jobs.get((provider, video_id))

    def save(self, job: Job, *, now: float) -> Job | None:
        if self.conflicts:
            self.conflicts -= 1
            if self.concurrent is not None:
                self.jobs[job.key] = self.concurrent
            return None
        if self.jobs[job.key].version != job.version:
            return None
        saved = job.with_changes(version=job.version + 1)
        self.jobs[job.key] = saved
        self.saves.append(saved)
        return saved

    def clear_pending(self, job: Job, *, now: float) -> bool:
        assert job.pending_event is not None
        self.cleared.append(job.pending_event.id)
        self.jobs[job.key] = job.with_changes(pending_event=None, version=job.version + 1)
        return True


class Early:
    def __init__(self) -> None:
        self.kept: dict[tuple[str, str], list[Reading]] = {}
        self.aliases: dict[tuple[str, str], str] = {}
        self.on_keep: Any = None  # called after a keep (a tracking racing the callback)

    def keep(self, provider: str, key: str, reading: Reading, *, now: float) -> None:
        self.kept.setdefault((provider, key), []).append(reading)
        if self.on_keep is not None:
            self.on_keep()

    def take(self, provider: str, key: str) -> list[Reading]:
        return self.kept.pop((provider, key), [])

    def resolve(self, provider: str, key: str) -> str | None:
        return self.aliases.get((provider, key))

    def alias(self, provider: str, key: str, video_id: str, *, now: float) -> None:
        self.aliases[(provider, key)] = video_id


class Publisher:
    def __init__(self, *, fails: bool = False) -> None:
        self.published: list[str] = []
        self.fails = fails

    def publish(self, events: Any) -> dict[str, str]:
        if self.fails:
            raise ConnectionError("SNS is away")
        self.published += [event.event_id for event in events]
        return {}


class Verifier:
    """Accepts the token TOKEN; refuses anything else (the schemes themselves are tested below)."""

    def __init__(self) -> None:
        self.calls = 0

    def verify(self, provider: ProviderSettings, body: bytes, headers: Any, token: str | None, *, now: float) -> None:
        self.calls += 1
        if token != TOKEN:
            raise CallbackRefused("the path token is not the provider's")


class Tokens:
    def __init__(self, **secrets: str) -> None:
        self.secrets = secrets

    def token(self, secret_id: str) -> str:
        return self.secrets[secret_id]


def settings(**inbound: Any) -> Settings:
    spec = {"scheme": "token", "secret": "videohook/luma-token", **inbound}
    providers = parse_providers(
        json.dumps(
            {
                "luma": {"dialect": "luma", "api_key_secret": "k", "base_url": "http://127.0.0.1:9", "inbound": spec},
                "minimax": {
                    "dialect": "minimax",
                    "api_key_secret": "k",
                    "base_url": "http://127.0.0.1:9",
                    "inbound": {"scheme": "token", "secret": "videohook/minimax-token"},
                },
                "runway": {"dialect": "runway", "api_key_secret": "k", "base_url": "http://127.0.0.1:9"},
            }
        )
    )
    return Settings(jobs_table="t", events_topic_arn="arn", providers=providers, poll_interval_s=10)


def inbound(store: Store, early: Early | None = None, publisher: Publisher | None = None, **inbound_settings: Any):
    counts: list[tuple[str, str]] = []
    service = Inbound(
        settings(**inbound_settings),
        store,  # type: ignore[arg-type]
        early or Early(),
        publisher or Publisher(),
        Verifier(),
        clock=lambda: NOW,
        count=lambda provider, outcome: counts.append((provider, outcome)),
    )
    return service, counts


def luma_job(**changes: Any) -> Job:
    return Job(provider="luma", video_id=LUMA_ID, tracked_at=int(NOW) - 60, next_poll_at=NOW + 300).with_changes(
        **changes
    )


def luma_body(state: str, **extra: Any) -> bytes:
    body = {"id": LUMA_ID, "state": state, "assets": {"video": "https://cdn.example/v.mp4"}, **extra}
    if state != "completed":
        body["assets"] = None
    if state == "failed":
        body["failure_reason"] = "the prompt was refused"
    return json.dumps(body).encode()


# -- answers ---------------------------------------------------------------------------------------------------
def test_a_provider_without_callbacks_is_404_and_counts_nothing():
    service, counts = inbound(Store())
    for name in ("runway", "nowhere"):
        answer = service.receive(name, luma_body("completed"), {}, TOKEN)
        assert answer.status == 404 and answer.body["error"]["code"] == "unknown_inbound"
    assert counts == []


def test_a_body_over_the_limit_is_413_before_any_verification():
    store = Store(luma_job())
    service, _ = inbound(store)
    verifier = service._verifier
    answer = service.receive("luma", b"{" + b" " * MAX_BODY_BYTES + b"}", {}, TOKEN)
    assert answer.status == 413 and answer.body["error"]["code"] == "body_too_large"
    assert verifier.calls == 0 and store.saves == []  # type: ignore[attr-defined]
    # signed or not, for any provider: the size is checked before anything else
    assert service.receive("nowhere", b"x" * (MAX_BODY_BYTES + 1), {}, None).status == 413
    assert service.receive("luma", b"x" * MAX_BODY_BYTES, {}, TOKEN).status == 400  # at the limit: read


def test_a_refused_callback_is_401_writes_nothing_and_says_no_secret():
    store = Store(luma_job())
    service, counts = inbound(store)
    answer = service.receive("luma", luma_body("completed"), {}, "not-the-token")
    assert answer.status == 401 and answer.body["error"]["code"] == "bad_signature"
    assert "not-the-token" not in json.dumps(answer.body)
    assert store.saves == [] and store.jobs[luma_job().key] == luma_job()
    assert counts == [("luma", "received"), ("luma", "refused")]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "invalid_json"),
        (b'{"id": "x"', "invalid_json"),
        (b"[1, 2]", "unreadable_callback"),
        (b'{"state": "completed"}', "unreadable_callback"),  # names no job
        (json.dumps({"id": LUMA_ID, "state": "teleported"}).encode(), "unreadable_callback"),
    ],
)
def test_a_verified_body_the_dialect_cannot_read_is_400_and_writes_nothing(body, code):
    store = Store(luma_job())
    service, _ = inbound(store)
    answer = service.receive("luma", body, {}, TOKEN)
    assert (answer.status, answer.body["error"]["code"]) == (400, code)
    assert store.saves == []


def test_minimax_challenge_is_echoed_and_only_a_string_one():
    service, _ = inbound(Store())
    answer = service.receive("minimax", b'{"challenge": "abc-123"}', {}, TOKEN)
    assert (answer.status, answer.body) == (200, {"challenge": "abc-123"})
    assert service.receive("minimax", b'{"challenge": {"x": 1}}', {}, TOKEN).status == 400


# -- writes ----------------------------------------------------------------------------------------------------
def test_a_completed_callback_is_recorded_published_then_cleared():
    store, publisher = Store(luma_job()), Publisher()
    service, counts = inbound(store, publisher=publisher)
    answer = service.receive("luma", luma_body("completed"), {}, TOKEN)
    assert (answer.status, answer.body) == (202, {"object": "inbound.accepted", "provider": "luma"})
    (saved,) = store.saves
    assert saved.status is VideoStatus.COMPLETED and not saved.active
    assert saved.video_url == "https://cdn.example/v.mp4" and saved.seen == {"completed": "push"}
    expected = event_id("luma", LUMA_ID, VideoStatus.COMPLETED)
    assert saved.pending_event is not None and saved.pending_event.id == expected
    assert publisher.published == [expected] and store.cleared == [expected]
    assert counts == [("luma", "received"), ("luma", "verified"), ("luma", "transition")]


def test_a_progress_callback_moves_the_next_poll_to_the_backstop_only():
    store = Store(luma_job(next_poll_at=NOW + 5))
    service, _ = inbound(store, backstop_seconds=600)
    assert service.receive("luma", luma_body("dreaming"), {}, TOKEN).status == 202
    (saved,) = store.saves
    assert saved.status is VideoStatus.IN_PROGRESS and saved.active
    assert saved.next_poll_at == NOW + 600 and saved.seen == {"in_progress": "push"}
    assert saved.pending_event is None


@pytest.mark.parametrize(
    ("first", "then"),
    [
        ("completed", "completed"),  # a duplicate
        ("failed", "completed"),  # completed after failed
        ("completed", "dreaming"),  # progress after completion
        ("completed", "queued"),
        ("dreaming", "queued"),  # backwards while running
        ("dreaming", "dreaming"),
    ],
)
def test_a_duplicate_late_or_out_of_order_callback_writes_and_publishes_nothing(first, then):
    store, publisher = Store(luma_job()), Publisher()
    service, _ = inbound(store, publisher=publisher)
    assert service.receive("luma", luma_body(first), {}, TOKEN).status == 202
    saves, published, job = len(store.saves), list(publisher.published), store.jobs[luma_job().key]
    assert service.receive("luma", luma_body(then), {}, TOKEN).status == 202
    assert len(store.saves) == saves and publisher.published == published
    assert store.jobs[luma_job().key] == job


def test_a_stopped_job_ignores_callbacks():
    store = Store(luma_job(active=False))
    service, _ = inbound(store)
    assert service.receive("luma", luma_body("completed"), {}, TOKEN).status == 202
    assert store.saves == []


def test_a_poll_that_wrote_first_is_decided_on_again():
    # Given a poll that, between the callback's read and its write, saw the job fail
    polled = luma_job(
        status=VideoStatus.FAILED, active=False, version=1, seen={"failed": "poll"}, error={"code": "x", "message": "y"}
    )
    store, publisher = Store(luma_job()), Publisher()
    store.conflicts, store.concurrent = 1, polled
    service, _ = inbound(store, publisher=publisher)
    # When the completed callback's write loses to it
    assert service.receive("luma", luma_body("completed"), {}, TOKEN).status == 202
    # Then the callback, decided again on the poll's state, changes nothing and publishes nothing
    assert store.saves == [] and publisher.published == []
    assert store.jobs[luma_job().key] == polled


def test_an_unpublished_event_stays_pending_for_the_next_poller_run():
    store = Store(luma_job())
    service, _ = inbound(store, publisher=Publisher(fails=True))
    assert service.receive("luma", luma_body("completed"), {}, TOKEN).status == 202
    job = store.jobs[luma_job().key]
    assert job.pending_event is not None and store.cleared == []
    assert job.next_poll_at is not None and job.next_poll_at > NOW  # left alone a lease, then the poller's


def test_a_callback_for_a_job_not_tracked_is_kept():
    store, early = Store(), Early()
    service, _ = inbound(store, early)
    assert service.receive("luma", luma_body("completed"), {}, TOKEN).status == 202
    (reading,) = early.kept[("luma", LUMA_ID)]
    assert reading.status is VideoStatus.COMPLETED and store.saves == []


def test_a_job_tracked_while_its_callback_was_being_kept_gets_it_applied():
    store, early, publisher = Store(), Early(), Publisher()
    early.on_keep = lambda: store.jobs.setdefault(luma_job().key, luma_job())  # tracking lands just then
    service, _ = inbound(store, early, publisher)
    assert service.receive("luma", luma_body("completed"), {}, TOKEN).status == 202
    assert early.kept == {}  # taken back
    assert store.jobs[luma_job().key].status is VideoStatus.COMPLETED
    assert publisher.published == [event_id("luma", LUMA_ID, VideoStatus.COMPLETED)]


def test_minimax_success_makes_the_job_due_now_for_the_file_lookup():
    job = Job(provider="minimax", video_id="115334141465231360", tracked_at=int(NOW) - 60, next_poll_at=NOW + 300)
    store = Store(job)
    service, _ = inbound(store)
    body = fixture("minimax")["examples"][1]["body"]
    assert body["status"] == "success"
    assert service.receive("minimax", json.dumps(body).encode(), {}, TOKEN).status == 202
    saved = store.jobs[job.key]
    assert saved.next_poll_at == NOW and saved.status is VideoStatus.QUEUED


# -- the verifier, against the providers' test vectors ---------------------------------------------------------
def provider(scheme: str, **extra: Any) -> ProviderSettings:
    dialect = {"standard-webhooks": "replicate", "openrouter": "openrouter", "fal": "fal", "token": "luma"}[scheme]
    spec = {"scheme": scheme, "secret": "s", **extra}
    entry = {"dialect": dialect, "api_key_secret": "k", "base_url": "http://127.0.0.1:9", "inbound": spec}
    return parse_providers(json.dumps({"p": entry}))["p"]


def lowered(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items() if not name.startswith("_")}


def test_replicate_standard_webhooks_vector_verifies_within_the_tolerance_only():
    vector = fixture("replicate")["signing"]["example_header_values"]
    verifier = CallbackVerifier(Tokens(s=vector["secret"]))
    body, headers = vector["raw_body"].encode(), lowered(vector)
    stamp = float(vector["webhook-timestamp"])
    verifier.verify(provider("standard-webhooks"), body, headers, None, now=stamp + 299)
    with pytest.raises(CallbackRefused, match="timestamp"):
        verifier.verify(provider("standard-webhooks"), body, headers, None, now=stamp + 301)
    with pytest.raises(CallbackRefused):
        verifier.verify(provider("standard-webhooks"), body + b" ", headers, None, now=stamp)
    with pytest.raises(CallbackRefused):
        other = CallbackVerifier(Tokens(s="whsec_" + "A" * 32))
        other.verify(provider("standard-webhooks"), body, headers, None, now=stamp)


def test_openrouter_hmac_vector_verifies_and_a_changed_byte_does_not():
    vector = fixture("openrouter")["signing"]["example_header_values"]
    verifier = CallbackVerifier(Tokens(s=vector["secret"]))
    body, headers = vector["raw_body"].encode(), lowered(vector)
    stamp = float(vector["X-OpenRouter-Signature"].split(",")[0].removeprefix("t="))
    verifier.verify(provider("openrouter"), body, headers, None, now=stamp)
    for bad_body, bad_headers in [
        (body.replace(b"completed", b"cancelled"), headers),
        (body, {**headers, "x-openrouter-signature": headers["x-openrouter-signature"].replace("t=1", "t=2")}),
        (body, {}),
    ]:
        with pytest.raises(CallbackRefused) as refused:
            verifier.verify(provider("openrouter"), bad_body, bad_headers, None, now=stamp)
        assert vector["secret"] not in str(refused.value)
    with pytest.raises(CallbackRefused, match="timestamp"):
        verifier.verify(provider("openrouter"), body, headers, None, now=stamp - 301)


def test_fal_ed25519_vector_verifies_against_its_jwks_and_keys_are_cached():
    vector = fixture("fal")["signing"]["example_header_values"]
    jwks = vector["_note"].split("Test JWKS: ", 1)[1].split(" (private", 1)[0]
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return jwks.encode()

    verifier = CallbackVerifier(Tokens(), fetch_keys=fetch, clock=lambda: NOW)
    fal = provider("fal", keys_url="https://keys.example/jwks.json")
    body, headers = vector["raw_body"].encode(), lowered(vector)
    stamp = float(vector["X-Fal-Webhook-Timestamp"])
    verifier.verify(fal, body, headers, None, now=stamp)
    verifier.verify(fal, body, headers, None, now=stamp + 10)
    assert fetched == ["https://keys.example/jwks.json"]  # once, then cached
    for bad_body, bad_headers in [
        (body + b" ", headers),
        (body, {**headers, "x-fal-webhook-user-id": "someone-else"}),
        (body, {**headers, "x-fal-webhook-signature": "zz"}),
        (body, {k: v for k, v in headers.items() if k != "x-fal-webhook-signature"}),
    ]:
        with pytest.raises(CallbackRefused):
            verifier.verify(fal, bad_body, bad_headers, None, now=stamp)
    with pytest.raises(CallbackRefused, match="timestamp"):
        verifier.verify(fal, body, headers, None, now=stamp + 301)


def test_fal_keys_that_cannot_be_read_refuse_the_callback():
    vector = fixture("fal")["signing"]["example_header_values"]
    verifier = CallbackVerifier(Tokens(), fetch_keys=lambda url: b"<html>", clock=lambda: NOW)
    with pytest.raises(CallbackRefused, match="keys"):
        verifier.verify(
            provider("fal"),
            vector["raw_body"].encode(),
            lowered(vector),
            None,
            now=float(vector["X-Fal-Webhook-Timestamp"]),
        )


@pytest.mark.parametrize(
    ("token", "ok"), [(TOKEN, True), (TOKEN[:-1] + "0", False), (TOKEN + "x", False), ("", False), (None, False)]
)
def test_a_path_token_is_the_secret_or_refused(token, ok):
    verifier = CallbackVerifier(Tokens(s=TOKEN + "\n"))  # a secret stored with a newline still matches
    if ok:
        verifier.verify(provider("token"), b"{}", {}, token, now=NOW)
    else:
        with pytest.raises(CallbackRefused) as refused:
            verifier.verify(provider("token"), b"{}", {}, token, now=NOW)
        assert TOKEN not in str(refused.value)


def test_a_signed_scheme_refuses_a_path_token():
    verifier = CallbackVerifier(Tokens(s="whsec_" + "A" * 32))
    with pytest.raises(CallbackRefused, match="path token"):
        verifier.verify(provider("standard-webhooks"), b"{}", {}, "anything", now=NOW)
