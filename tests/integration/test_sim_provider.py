"""The simulated provider over real HTTP: it must mimic the seeds faithfully, or poller tests prove nothing."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from devtools.sim_provider import CONTENT_SIZE, DRIP_INTERVAL_S, SimProvider, standard_timeline


def interruptible() -> None:
    """In the child, before exec: Ctrl-C (SIGINT) back to its default, so the program sees KeyboardInterrupt even
    when this test runs where SIGINT is ignored (a shell's background job ignores it, and children inherit that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


TOKENS = {"hingnet": "tok-h", "skyengine": "tok-s"}
AUTH_H = {"Authorization": "Bearer tok-h"}
AUTH_S = {"Authorization": "Bearer tok-s"}
REPO = Path(__file__).resolve().parents[2]


def wait_until(condition: Callable[[], bool], limit_s: float = 30.0) -> bool:
    """Poll `condition` until it holds (True) or `limit_s` passes (False): asserts the condition, not a speed."""
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def sim() -> Iterator[SimProvider]:
    with SimProvider(TOKENS) as provider:
        yield provider


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as c:  # generous: a loaded machine may be slow to answer on loopback
        yield c


def poll(client: httpx.Client, sim: SimProvider, provider: str, video_id: str, **kwargs) -> httpx.Response:
    kwargs.setdefault("headers", AUTH_H if provider == "hingnet" else AUTH_S)
    return client.get(f"{sim.base_url(provider)}/v1/videos/{video_id}", **kwargs)


def test_binds_to_loopback_only_and_stops() -> None:
    with pytest.raises(ValueError, match="loopback"):
        SimProvider(TOKENS, host="0.0.0.0")
    sim = SimProvider(TOKENS).start()
    url = sim.url
    assert url.startswith("http://127.0.0.1:")
    assert int(url.rsplit(":", 1)[1]) > 0
    assert sim.base_url("hingnet") == f"{url}/hingnet"
    sim.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/hingnet/v1/videos/x", headers=AUTH_H, timeout=2)


def test_hingnet_job_advances_by_polls(sim: SimProvider, client: httpx.Client) -> None:
    sim.add_job("hingnet", "video_abc123", "hingnet", standard_timeline("hingnet", steps=2))
    answers = [poll(client, sim, "hingnet", "video_abc123") for _ in range(5)]
    assert all(a.status_code == 200 and a.headers["content-type"] == "application/json" for a in answers)
    bodies = [a.json() for a in answers]
    assert [b["status"] for b in bodies] == ["queued", "in_progress", "in_progress", "completed", "completed"]
    assert bodies[0]["progress"] == 0 and bodies[0]["object"] == "video" and bodies[0]["id"] == "video_abc123"
    rising = [b["progress"] for b in bodies[1:3]]
    assert all(isinstance(p, float) and p != int(p) for p in rising) and rising[0] < rising[1] < 100
    done = bodies[3]
    assert done["model"] == "veo-3.1-fast-generate-preview" and done["progress"] == 100
    assert done["video_url"] == f"{sim.url}/hingnet/files/video_abc123.mp4"
    assert type(done["seconds"]) is int and done["seconds"] == 6 and done["size"] == "1280x720"
    assert "result" not in done and "expires_at" not in done
    assert sim.poll_count("hingnet", "video_abc123") == 5
    # The direct link is served (pre-signed: no token needed).
    download = client.get(done["video_url"])
    assert download.status_code == 200 and download.headers["content-type"] == "video/mp4"
    assert len(download.content) == CONTENT_SIZE and download.content[4:8] == b"ftyp"


def test_nested_url_and_omit_directives(sim: SimProvider, client: httpx.Client) -> None:
    sim.add_job("hingnet", "v1", "hingnet", [{"status": "completed", "_url": "nested", "_omit": ["progress", "size"]}])
    body = poll(client, sim, "hingnet", "v1").json()
    assert "video_url" not in body
    assert body["result"] == {"video_url": f"{sim.url}/hingnet/files/v1.mp4"}
    assert "progress" not in body and "size" not in body
    assert not any(key.startswith("_") for key in body)


def test_duration_query_sets_hingnet_seconds(sim: SimProvider, client: httpx.Client) -> None:
    sim.add_job("hingnet", "v1", "hingnet", [{"status": "queued"}, {"status": "completed"}])
    assert "seconds" not in poll(client, sim, "hingnet", "v1", params={"duration": "10"}).json()
    assert poll(client, sim, "hingnet", "v1", params={"duration": "10"}).json()["seconds"] == 10
    assert poll(client, sim, "hingnet", "v1", params={"duration": "6"}).json()["seconds"] == 6
    assert poll(client, sim, "hingnet", "v1").json()["seconds"] == 6
    assert [r.query for r in sim.requests("hingnet", "v1")][-2:] == [{"duration": "6"}, {}]


def test_skyengine_job_shape(sim: SimProvider, client: httpx.Client) -> None:
    sim.add_job("skyengine", "video_123", "skyengine", standard_timeline("skyengine", steps=1))
    first, middle, done, again = (poll(client, sim, "skyengine", "video_123").json() for _ in range(4))
    assert first["status"] == "pending" and first["model"] == "sora-2" and first["seconds"] == "8"
    assert first["size"] == "720x1280" and isinstance(first["created_at"], int)
    assert middle["status"] == "in_progress" and type(middle["progress"]) is int and 0 < middle["progress"] < 100
    assert done["status"] == "completed" and done["progress"] == 100 and done["seconds"] == "8"
    assert "video_url" not in done and "result" not in done
    assert isinstance(done["completed_at"], int) and done["expires_at"] == done["completed_at"] + 3600
    assert again["completed_at"] == done["completed_at"]
    content = client.get(f"{sim.base_url('skyengine')}/v1/videos/video_123/content", headers=AUTH_S)
    assert content.status_code == 200 and content.headers["content-type"] == "video/mp4"
    assert len(content.content) == CONTENT_SIZE
    assert client.get(f"{sim.base_url('skyengine')}/v1/videos/video_123/content").status_code == 401


def test_content_is_404_until_completed(sim: SimProvider, client: httpx.Client) -> None:
    sim.add_job("skyengine", "v2", "skyengine", [{"status": "in_progress", "progress": 40}, {"status": "completed"}])
    url = f"{sim.base_url('skyengine')}/v1/videos/v2/content"
    assert client.get(url, headers=AUTH_S).status_code == 404
    assert poll(client, sim, "skyengine", "v2").json()["status"] == "in_progress"
    assert client.get(url, headers=AUTH_S).status_code == 404  # content GETs do not advance the timeline
    assert poll(client, sim, "skyengine", "v2").json()["status"] == "completed"
    assert client.get(url, headers=AUTH_S).status_code == 200


@pytest.mark.parametrize("style", ["hingnet", "skyengine"])
def test_failed_outcome_carries_error(sim: SimProvider, client: httpx.Client, style: str) -> None:
    timeline = standard_timeline(style, "failed", steps=1, error={"code": "content_policy", "message": "blocked"})
    assert len(timeline) == 3 and timeline[-1]["status"] == "failed"
    sim.add_job(style, "v", style, timeline)
    last = [poll(client, sim, style, "v").json() for _ in range(3)][-1]
    assert last["status"] == "failed" and last["error"] == {"code": "content_policy", "message": "blocked"}
    sim.add_job(style, "w", style, [{"status": "failed"}])
    default_error = poll(client, sim, style, "w").json()["error"]
    assert default_error["code"] and default_error["message"]
    assert ("type" in default_error) == (style == "skyengine")


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer tok-wrong"}, {"Authorization": "tok-h"}, {"Authorization": "Bearer tok-s"}],
)
def test_bad_token_is_401_without_echo(sim: SimProvider, client: httpx.Client, headers: dict[str, str]) -> None:
    sim.add_job("hingnet", "v1", "hingnet", standard_timeline("hingnet"))
    answer = poll(client, sim, "hingnet", "v1", headers=headers)
    assert answer.status_code == 401
    assert answer.json() == {
        "error": {"message": "Invalid API key", "type": "invalid_request_error", "code": "invalid_api_key"}
    }
    assert "tok-" not in answer.text
    # Refused polls are recorded but do not move the job along.
    assert sim.poll_count("hingnet", "v1") == 1
    assert poll(client, sim, "hingnet", "v1").json()["status"] == "queued"


def test_unknown_video_or_provider_is_404(sim: SimProvider, client: httpx.Client) -> None:
    answer = poll(client, sim, "hingnet", "video_nope")
    assert answer.status_code == 404 and answer.headers["content-type"] == "application/json"
    assert answer.json() == {
        "error": {"message": "Video video_nope not found", "type": "invalid_request_error", "code": "video_not_found"}
    }
    other = client.get(f"{sim.url}/nobody/v1/videos/video_nope", headers=AUTH_H)
    assert other.status_code == 404 and other.json()["error"]["code"] == "video_not_found"
    poll(client, sim, "hingnet", "video_nope")
    assert sim.poll_count("hingnet", "video_nope") == 2
    assert client.get(f"{sim.url}/hingnet/v2/whatever", headers=AUTH_H).status_code == 404


def test_seconds_clock(client: httpx.Client) -> None:
    timeline = [
        {"at": 0.25, "status": "queued"},
        {"at": 1.0, "status": "completed"},
        {"at": 0.6, "status": "in_progress", "progress": 50.5},
    ]  # out of order on purpose
    now = [1000.0]  # the sim's clock, moved by hand: the timeline follows it, however slow the machine
    with SimProvider(TOKENS, clock=lambda: now[0]) as sim:
        sim.add_job("hingnet", "v1", "hingnet", timeline, clock="seconds")
        early = [poll(client, sim, "hingnet", "v1").json() for _ in range(3)]
        assert [b["status"] for b in early] == ["queued"] * 3  # polls do not advance; before 0.25 s: the first step
        assert "at" not in early[0]
        now[0] += 0.5
        assert poll(client, sim, "hingnet", "v1").json()["status"] == "queued"
        now[0] += 0.3
        middle = poll(client, sim, "hingnet", "v1").json()
        assert (middle["status"], middle["progress"]) == ("in_progress", 50.5)
        now[0] += 0.2  # exactly 1.0 s since add_job: a step is in force from its `at` on
        assert poll(client, sim, "hingnet", "v1").json()["status"] == "completed"
        now[0] += 60
        assert poll(client, sim, "hingnet", "v1").json()["status"] == "completed"  # the last step stays
        with pytest.raises(ValueError, match="at"):
            sim.add_job("hingnet", "v2", "hingnet", [{"status": "queued"}], clock="seconds")


@pytest.mark.parametrize(
    ("status", "body", "headers"),
    [
        (503, "<html><body>Service Unavailable</body></html>", {"Retry-After": "7", "Content-Type": "text/html"}),
        (
            429,
            '{"error": {"message": "slow down"}}',
            {"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT", "content-type": "application/json"},
        ),
    ],
)
def test_respond_step_returns_raw_answer(
    sim: SimProvider, client: httpx.Client, status: int, body: str, headers: dict[str, str]
) -> None:
    timeline = [
        {"status": "queued"},
        {"respond": {"status": status, "body": body, "headers": headers}},
        {"status": "completed"},
    ]
    sim.add_job("hingnet", "v1", "hingnet", timeline)
    assert poll(client, sim, "hingnet", "v1").json()["status"] == "queued"
    raw = poll(client, sim, "hingnet", "v1")
    assert raw.status_code == status and raw.text == body
    assert raw.headers["retry-after"] == headers.get("Retry-After", headers.get("retry-after"))
    assert raw.headers["content-type"] == headers.get("Content-Type", headers.get("content-type"))
    assert poll(client, sim, "hingnet", "v1").json()["status"] == "completed"


def test_delay_directive_makes_upstream_slow(sim: SimProvider, client: httpx.Client) -> None:
    # The answer cannot come before 5 s (the sim sleeps first): a 0.3 s timeout fires first even on a slow machine
    sim.add_job("hingnet", "v1", "hingnet", [{"status": "queued", "_delay": 5.0}])
    with pytest.raises(httpx.ReadTimeout):
        poll(client, sim, "hingnet", "v1", timeout=0.3)
    assert sim.poll_count("hingnet", "v1") == 1


def test_requests_are_recorded(sim: SimProvider, client: httpx.Client) -> None:
    sim.add_job("hingnet", "v1", "hingnet", standard_timeline("hingnet"))
    before = time.time()
    poll(client, sim, "hingnet", "v1", params={"duration": "6"})
    poll(client, sim, "skyengine", "v9")
    after = time.time()
    (req,) = sim.requests("hingnet", "v1")
    assert (req.method, req.path, req.provider, req.video_id) == ("GET", "/hingnet/v1/videos/v1", "hingnet", "v1")
    assert req.query == {"duration": "6"}
    assert req.headers["authorization"] == "Bearer tok-h" and "host" in req.headers
    assert before <= req.at <= after
    assert [r.video_id for r in sim.requests("skyengine")] == ["v9"]
    assert len(sim.requests()) == 2 and sim.requests(video_id="v9")[0].provider == "skyengine"
    sim.reset()
    assert sim.requests() == [] and poll(client, sim, "hingnet", "v1").status_code == 404


def test_admin_api_roundtrip(sim: SimProvider, client: httpx.Client) -> None:
    job = {
        "provider": "skyengine",
        "video_id": "vid-x",
        "style": "skyengine",
        "clock": "polls",
        "timeline": [{"status": "pending"}, {"status": "completed"}],
    }
    created = client.post(f"{sim.url}/_sim/jobs", json=job)
    assert created.status_code == 201
    assert [poll(client, sim, "skyengine", "vid-x").json()["status"] for _ in range(2)] == ["pending", "completed"]
    bad = client.post(f"{sim.url}/_sim/jobs", json={**job, "video_id": "vid-y", "style": "nope"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_job"
    assert poll(client, sim, "skyengine", "vid-y").status_code == 404
    listed = client.get(f"{sim.url}/_sim/requests", params={"provider": "skyengine", "video_id": "vid-x"}).json()
    assert len(listed) == 2 and listed[0]["headers"]["authorization"] == "Bearer tok-s"
    assert listed[0]["path"] == "/skyengine/v1/videos/vid-x" and listed[0]["query"] == {}
    assert len(client.get(f"{sim.url}/_sim/requests").json()) == 3  # admin calls are not recorded
    assert client.post(f"{sim.url}/_sim/reset").status_code == 200
    assert client.get(f"{sim.url}/_sim/requests").json() == []
    assert poll(client, sim, "skyengine", "vid-x").status_code == 404


def test_standard_timeline_validation() -> None:
    with pytest.raises(ValueError):
        standard_timeline("hingnet", outcome="cancelled")
    with pytest.raises(ValueError):
        standard_timeline("openai")
    assert [s["status"] for s in standard_timeline("skyengine", steps=0)] == ["pending", "completed"]
    assert standard_timeline("hingnet", seconds=8)[-1] == {"status": "completed", "seconds": 8}


def test_cli_serves_until_interrupted(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "devtools.sim_provider", "--port", "0", "--token", "hingnet=tok-h"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,  # noqa: PLW1509 (a single signal call, before exec)
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("sim provider listening on http://127.0.0.1:")
        url = line.split()[-1]
        answer = httpx.get(f"{url}/hingnet/v1/videos/nope", headers=AUTH_H, timeout=5)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "video_not_found"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize(
    ("fault", "status", "check"),
    [
        ("html", 200, lambda r: r.headers["content-type"].startswith("text/html") and "<html>" in r.text),
        ("truncated", 200, lambda r: r.text.startswith('{"id": "v1"') and not r.text.endswith("}")),
        ("array", 200, lambda r: isinstance(r.json(), list) and r.json()[0]["id"] == "v1"),
        ("no_status", 200, lambda r: "status" not in r.json() and r.json()["id"] == "v1"),
        ("502", 502, lambda r: "<h1>502</h1>" in r.text and "retry-after" not in r.headers),
    ],
)
def test_fault_step_bodies(sim: SimProvider, client: httpx.Client, fault: str, status: int, check) -> None:
    sim.add_job("hingnet", "v1", "hingnet", [{"_fault": fault}, {"status": "completed"}])
    answer = poll(client, sim, "hingnet", "v1")
    assert answer.status_code == status and check(answer)
    assert poll(client, sim, "hingnet", "v1").json()["status"] == "completed"
    assert sim.faults_served() >= 1


def test_fault_429_carries_retry_after(sim: SimProvider, client: httpx.Client) -> None:
    sim.add_job("hingnet", "v1", "hingnet", [{"_fault": 429, "_retry_after": "Wed, 21 Oct 2026 07:28:00 GMT"}])
    answer = poll(client, sim, "hingnet", "v1")
    assert answer.status_code == 429 and answer.headers["retry-after"] == "Wed, 21 Oct 2026 07:28:00 GMT"


@pytest.mark.parametrize(
    ("fault", "error"), [("reset", httpx.ReadError), ("close", httpx.RemoteProtocolError), ("hang", httpx.ReadTimeout)]
)
def test_transport_faults(sim: SimProvider, client: httpx.Client, fault: str, error: type[Exception]) -> None:
    sim.add_job("hingnet", "v1", "hingnet", [{"_fault": fault}])
    # A hang only ends by the client's own timeout (short on purpose); a reset or a close comes from the sim,
    # well within a timeout long enough that only the sim can end the exchange, however slow the machine.
    with pytest.raises(error):
        poll(client, sim, "hingnet", "v1", timeout=0.5 if fault == "hang" else 30)
    if fault == "hang":  # the client gave up while the sim was still holding the request open
        assert wait_until(lambda: sim.poll_count("hingnet", "v1") == 1)  # its handler may start late under load
        assert sim.open_requests() == ["/hingnet/v1/videos/v1"]
    else:  # the sim ended the exchange itself (a bounded wait: its handler returns right after the cut)
        assert wait_until(lambda: sim.open_requests() == []), sim.open_requests()


def test_junk_fault_streams_ten_megabytes(sim: SimProvider, client: httpx.Client) -> None:
    sim.add_job("hingnet", "v1", "hingnet", [{"_fault": "junk"}])
    with client.stream("GET", f"{sim.base_url('hingnet')}/v1/videos/v1", headers=AUTH_H) as answer:
        assert answer.status_code == 200 and answer.headers["content-length"] == str(10 * 1024 * 1024)
        first = next(answer.iter_bytes())
        assert first and not first.startswith(b"{")


def test_drip_fault_beats_a_read_timeout(sim: SimProvider, client: httpx.Client) -> None:
    # Each byte comes well within the read timeout, but the sim paces them DRIP_INTERVAL_S apart (at least), so
    # the bytes read here take longer than one timeout by construction: slower than the timeout, never cut by it.
    read_timeout_s, wanted = 3.0, 7
    assert wanted * DRIP_INTERVAL_S > read_timeout_s
    sim.add_job("hingnet", "v1", "hingnet", [{"_fault": "drip"}])
    url = f"{sim.base_url('hingnet')}/v1/videos/v1"
    with client.stream("GET", url, headers=AUTH_H, timeout=read_timeout_s) as answer:
        received = b""
        for byte in answer.iter_bytes():
            received += byte
            if len(received) >= wanted:
                break
        assert sim.open_requests() == ["/hingnet/v1/videos/v1"]  # still dripping: the body is far from complete
    assert received == b'{"id": '


def test_unknown_fault_is_refused(sim: SimProvider) -> None:
    with pytest.raises(ValueError, match="unknown _fault"):
        sim.add_job("hingnet", "v1", "hingnet", [{"_fault": "gremlins"}])
