"""Who may see a job, as plain rules: the principal a caller's ARN stands for, operators, and what events show
of a callback URL. Over real HTTP against moto: tests/integration/test_job_scope.py."""

import json

import pytest
from videohook.config import ConfigError, Settings
from videohook.domain.events import event_message, pending_event_for
from videohook.domain.models import Job, VideoStatus, public_callback_url
from videohook.services.tracking import Caller, canonical_principal

ROLE = "arn:aws:iam::123456789012:role/videohook-app"


@pytest.mark.parametrize(
    ("arn", "principal"),
    [
        ("arn:aws:sts::123456789012:assumed-role/videohook-app/i-0abc", ROLE),
        ("arn:aws:sts::123456789012:assumed-role/videohook-app/botocore-session-1761234567", ROLE),
        ("arn:aws:iam::123456789012:role/team/apps/videohook-app", ROLE),
        (ROLE, ROLE),
        ("arn:aws:iam::123456789012:user/ops/alice", "arn:aws:iam::123456789012:user/alice"),
        ("arn:aws-cn:sts::123456789012:assumed-role/R/s", "arn:aws-cn:iam::123456789012:role/R"),
        ("arn:aws:iam::123456789012:root", "arn:aws:iam::123456789012:root"),
        ("arn:aws:sts::123456789012:federated-user/bob", "arn:aws:sts::123456789012:federated-user/bob"),
        ("", "local"),
    ],
)
def test_a_callers_arn_stands_for_its_role_or_user(arn, principal):
    assert canonical_principal(arn) == principal


def test_another_account_or_role_is_another_principal():
    mine = canonical_principal("arn:aws:sts::123456789012:assumed-role/videohook-app/a")
    assert canonical_principal("arn:aws:sts::210987654321:assumed-role/videohook-app/a") != mine
    assert canonical_principal("arn:aws:sts::123456789012:assumed-role/videohook-app2/a") != mine


def test_operators_see_every_job_others_only_their_own():
    operators = ("arn:aws:iam::123456789012:role/ops/videohook-operator",)
    operator = Caller.of("arn:aws:sts::123456789012:assumed-role/videohook-operator/cli", operators)
    app = Caller.of("arn:aws:sts::123456789012:assumed-role/videohook-app/task-1", operators)
    other = Caller.of("arn:aws:iam::123456789012:user/mallory", operators)
    assert operator.operator and not app.operator and not other.operator
    job = Job("hingnet", "v", owner=app.principal)
    legacy = Job("hingnet", "old")  # stored before jobs had owners
    assert app.may_see(job) and operator.may_see(job) and not other.may_see(job)
    assert Caller.of("arn:aws:sts::123456789012:assumed-role/videohook-app/task-2", operators).may_see(job)
    assert operator.may_see(legacy) and not app.may_see(legacy) and not Caller("local").may_see(legacy)


def test_operator_principals_are_read_from_the_environment():
    env = {"JOBS_TABLE": "t", "PROVIDERS": json.dumps({"p": {"base_url": "https://p.test", "api_key_secret": "s"}})}
    assert Settings.from_env(env).operator_principals == ()
    both = " arn:aws:iam::123456789012:role/ops , ,arn:aws:iam::123456789012:user/alice,"
    assert Settings.from_env({**env, "OPERATOR_PRINCIPALS": both}).operator_principals == (
        "arn:aws:iam::123456789012:role/ops",
        "arn:aws:iam::123456789012:user/alice",
    )
    for wrong in ("ops", "arn:aws:iam::123:role/ops", "arn:aws:iam::123456789012:role/*"):
        with pytest.raises(ConfigError, match="OPERATOR_PRINCIPALS"):
            Settings.from_env({**env, "OPERATOR_PRINCIPALS": wrong})


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.example.com/in?token=s3cr3t", "https://hooks.example.com/in"),
        ("https://user:pa55@hooks.example.com:8443/in?a=1#frag", "https://hooks.example.com:8443/in"),
        ("https://[2001:db8::1]:8443/x?k=v", "https://[2001:db8::1]:8443/x"),
        ("https://hooks.example.com", "https://hooks.example.com"),
        (None, None),
    ],
)
def test_events_show_the_callback_url_without_query_or_user_info(url, shown):
    assert public_callback_url(url) == shown


def test_the_api_shows_the_owner_the_full_callback_url_events_do_not_and_neither_shows_the_owner():
    url = "https://alice:pw@hooks.example.com/in?token=s3cr3t"
    job = Job("hingnet", "v", status=VideoStatus.COMPLETED, callback_url=url, active=False, owner=ROLE)
    assert job.to_public()["callback_url"] == url
    body, attributes = event_message(job, pending_event_for(job, 1))
    assert json.loads(body)["data"]["callback_url"] == "https://hooks.example.com/in"
    for text in (body, json.dumps(attributes), json.dumps(job.to_public())):
        assert "s3cr3t" not in text.replace(url, "") and ROLE not in text
