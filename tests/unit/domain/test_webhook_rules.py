"""Delivery rules: what each answer means, when the next attempt is, and how a delivery is signed."""

import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from videohook.config import DEFAULT_WEBHOOK_RETRY_SCHEDULE, ConfigError, Settings, parse_retry_schedule
from videohook.domain.webhooks import (
    MAX_DELAY_S,
    Answer,
    Outcome,
    WebhookSecretInvalid,
    delivery_record,
    judge,
    signed_headers,
    signing_key,
)

SCHEDULE = DEFAULT_WEBHOOK_RETRY_SCHEDULE
SECRET = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # 32 letters and digits, like the stack's generated secret


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_only_2xx_is_delivered(status):
    assert judge(Answer(status), attempt=1, schedule=SCHEDULE).outcome is Outcome.DELIVERED


@pytest.mark.parametrize("status", [100, 301, 302, 304, 307, 308, 400, 401, 404, 409, 429, 500, 502, 503, 504])
def test_anything_else_is_retried(status):
    verdict = judge(Answer(status), attempt=1, schedule=SCHEDULE)
    assert verdict.outcome is Outcome.RETRYING and verdict.delay_s == 5
    assert verdict.error and str(status) in verdict.error


def test_a_redirect_is_a_failure_that_says_it_was_not_followed():
    assert "redirects are not followed" in (judge(Answer(301), attempt=1, schedule=SCHEDULE).error or "")


def test_410_stops_retrying():
    verdict = judge(Answer(410), attempt=1, schedule=SCHEDULE)
    assert verdict.outcome is Outcome.GONE and not verdict.outcome.stays_queued


def test_transport_failures_are_retried_with_their_reason():
    verdict = judge(Answer(error="timeout: no answer within 15 s"), attempt=2, schedule=SCHEDULE)
    assert verdict.outcome is Outcome.RETRYING and verdict.error == "timeout: no answer within 15 s"


def test_the_schedule_gives_the_delay_before_the_next_attempt_then_the_dead_letter_queue():
    delays = [judge(Answer(500), attempt=n, schedule=SCHEDULE) for n in range(1, len(SCHEDULE) + 1)]
    assert [v.delay_s for v in delays[:-1]] == [5, 300, 1800, 7200, 18000, 36000, 36000]
    assert all(v.outcome is Outcome.RETRYING for v in delays[:-1])
    assert delays[-1].outcome is Outcome.DEAD_LETTERED and delays[-1].delay_s == 0
    assert delays[-1].outcome.stays_queued  # SQS moves it at the next receive
    # a receive count past the schedule (a queue allowing more receives) is still the end
    assert judge(Answer(500), attempt=20, schedule=SCHEDULE).outcome is Outcome.DEAD_LETTERED


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_retry_after_of_throttling_answers_is_honoured_never_shortened(status):
    assert judge(Answer(status, retry_after_s=120), attempt=1, schedule=SCHEDULE).delay_s == 120
    assert judge(Answer(status, retry_after_s=1), attempt=2, schedule=SCHEDULE).delay_s == 300
    assert judge(Answer(status, retry_after_s=0.2), attempt=1, schedule=SCHEDULE).delay_s == 5


def test_retry_after_is_ignored_on_other_failures_and_capped_by_sqs():
    assert judge(Answer(500, retry_after_s=120), attempt=1, schedule=SCHEDULE).delay_s == 5
    assert judge(Answer(429, retry_after_s=10**9), attempt=1, schedule=SCHEDULE).delay_s == MAX_DELAY_S < 43200


def test_the_signature_verifies_with_the_standardwebhooks_library():
    body = '{"id":"evt_1","object":"event","data":{"id":"video_1"}}'
    now = time.time()
    headers = signed_headers(signing_key(SECRET), "evt_1", body, now)
    assert headers["webhook-id"] == "evt_1"
    assert headers["webhook-timestamp"] == str(int(now))
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook("whsec_" + SECRET).verify(body, headers)["id"] == "evt_1"
    assert Webhook(SECRET).verify(body, headers)["data"]["id"] == "video_1"
    # a different secret, a changed body or another id do not verify
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body.replace("video_1", "video_2"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body, {**headers, "webhook-id": "evt_2"})


def test_the_same_secret_signs_alike_with_or_without_prefix():
    one = signed_headers(signing_key(SECRET), "evt_1", "{}", 1761234690)
    two = signed_headers(signing_key("whsec_" + SECRET), "evt_1", "{}", 1761234690)
    assert one == two


@pytest.mark.parametrize("secret", ["", "whsec_", "abc", "%%%%-not-base64-%%%%", "c2hvcnQ="])
def test_an_unusable_secret_is_refused_without_repeating_it(secret):
    with pytest.raises(WebhookSecretInvalid) as invalid:
        signing_key(secret)
    assert secret.removeprefix("whsec_") == "" or secret.removeprefix("whsec_") not in str(invalid.value)


def test_a_delivery_record_says_when_what_and_when_next():
    retry = judge(Answer(503), attempt=1, schedule=SCHEDULE)
    record = delivery_record(now=1000.7, event_id="evt_1", attempt=1, verdict=retry, status_code=503)
    assert record == {
        "at": 1000,
        "event_id": "evt_1",
        "attempt": 1,
        "outcome": "retrying",
        "status_code": 503,
        "error": "HTTP 503",
        "next_attempt_at": 1005,
    }
    done = judge(Answer(200), attempt=2, schedule=SCHEDULE)
    assert (
        delivery_record(now=2000, event_id="evt_1", attempt=2, verdict=done, status_code=200)["next_attempt_at"] is None
    )


def test_retry_schedule_configuration():
    assert parse_retry_schedule("") == SCHEDULE
    assert parse_retry_schedule("0, 1,2") == (0, 1, 2)
    for raw in ("5,10", "0,-1", "0,x", "0,43201", ",".join(["0"] * 101)):
        with pytest.raises(ConfigError, match="WEBHOOK_RETRY_SCHEDULE"):
            parse_retry_schedule(raw)
    settings = Settings.from_env(
        {
            "JOBS_TABLE": "t",
            "PROVIDERS": '{"p": {"base_url": "https://x", "api_key_secret": "s"}}',
            "WEBHOOK_RETRY_SCHEDULE": "0,1,2",
            "WEBHOOK_TIMEOUT_SECONDS": "2.5",
            "WEBHOOK_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:1:secret:w",
            "WEBHOOK_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/1/q",
        }
    )
    assert settings.webhook_retry_schedule == (0, 1, 2) and settings.webhook_timeout_s == 2.5
    with pytest.raises(ConfigError, match="WEBHOOK_TIMEOUT_SECONDS"):
        Settings.from_env({"JOBS_TABLE": "t", "PROVIDERS": settings_providers(), "WEBHOOK_TIMEOUT_SECONDS": "90"})


def settings_providers():
    return '{"p": {"base_url": "https://x", "api_key_secret": "s"}}'
