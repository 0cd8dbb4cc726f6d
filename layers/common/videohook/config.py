"""The one place that reads configuration: the environment variables template.yaml declares.

Read in sections (JOBS, POLLING, WEBHOOKS...: the variables one runtime builder needs), so that each function
reads, and is given, only the variables of what it runs."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from videohook.domain.dialects import Dialect, DialectError, builtin, parse_dialect
from videohook.domain.dialects.spec import check_headers

PROVIDER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
# Webhook retries (Standard Webhooks / Svix): immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
DEFAULT_WEBHOOK_RETRY_SCHEDULE = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
MAX_WEBHOOK_DELAY_S = 43200  # SQS: a message stays invisible at most 12 h per receive
# An IAM principal ARN (user, role, assumed-role session, root...) or `local`, the caller where there is no
# authorizer (local runs); see videohook.services.tracking.canonical_principal.
PRINCIPAL = re.compile(r"^(local|arn:[a-z-]+:(iam|sts)::[0-9]{12}:[A-Za-z0-9_+=,.@/-]+)$")


class ConfigError(ValueError):
    """The function's configuration is wrong; the message says which variable and why."""


_INBOUND_SCHEMES = frozenset({"standard-webhooks", "openrouter", "fal", "token"})


@dataclass(frozen=True)
class InboundSettings:
    """A provider that calls back (PRODUCT.md, "Push from providers"): how its callbacks are verified, and
    how often its jobs are still polled, as the backstop of a callback that never comes."""

    scheme: str  # one of _INBOUND_SCHEMES
    secret: str  # Secrets Manager id: the whsec_ secret, the HMAC secret, the path token (not used by fal)
    tolerance_s: float = 300.0  # a signed timestamp further than this from now is a replay
    backstop_s: float = 300.0  # at least this long between two polls of a job of this provider
    keys_url: str | None = None  # fal: where its public keys are (a JWKS; default fal's own)


@dataclass(frozen=True)
class ProviderSettings:
    name: str
    base_url: str  # stops before the dialect's first path segment (/v1 for openai)
    api_key_secret: str  # Secrets Manager id or ARN; its SecretString is the token (docs/providers.md)
    max_concurrency: int = 16
    timeout_seconds: float = 10.0
    dialect: Dialect = field(default_factory=lambda: builtin("openai"))
    headers: Mapping[str, str] = field(default_factory=dict)  # the dialect's fixed headers, with overrides
    inbound: InboundSettings | None = None  # the provider's callbacks are accepted (and its polls slowed)


@dataclass(frozen=True)
class Settings:
    jobs_table: str
    events_topic_arn: str
    providers: Mapping[str, ProviderSettings]
    # PROVIDERS entries that are not usable, and why (the other providers go on: see _providers_isolated)
    provider_errors: Mapping[str, str] = field(default_factory=dict)
    poll_interval_s: float = 10.0
    max_job_age_s: float = 21600.0
    due_shards: int = 16
    job_retention_days: int = 30
    allow_loopback_callbacks: bool = False
    sweep_s: float = 53.0  # a run keeps sweeping for jobs falling due this long (0: one sweep per run)
    # Archive (parameter ArchiveVideos): completed events go to the archive queue first (videohook.services.archive)
    archive_queue_url: str = ""
    archive_bucket: str = ""
    archive_url_ttl_s: int = 3600
    # webhooks (WebhookFunction; the API's redeliver route sends to the same queue)
    webhook_secret_arn: str = ""
    webhook_queue_url: str = ""
    webhook_retry_schedule: tuple[int, ...] = DEFAULT_WEBHOOK_RETRY_SCHEDULE
    webhook_timeout_s: float = 15.0
    # ApiFunction: principals that see and act on every job, not only on the jobs they tracked
    operator_principals: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, env: Mapping[str, str], *sections: Section) -> Settings:
        """The variables of `sections` read and validated; every other field keeps its default. No section
        named: every variable (tools and tests; a function loads only its own sections, see load_settings)."""
        wanted = {name for section in sections for name in section} if sections else VARIABLES.keys()
        fields: dict[str, Any] = {"jobs_table": "", "events_topic_arn": "", "providers": {}}
        for name, read in VARIABLES.items():  # in this table's order, so errors come in a stable order
            if name in wanted:
                fields.update(read(env))
        return cls(**fields)


# -- How each variable is read: the Settings fields it sets ---------------------------------------------------
VARIABLES: dict[str, Callable[[Mapping[str, str]], dict[str, Any]]] = {
    "JOBS_TABLE": lambda env: {"jobs_table": _required(env, "JOBS_TABLE")},
    "EVENTS_TOPIC_ARN": lambda env: {"events_topic_arn": env.get("EVENTS_TOPIC_ARN", "")},
    "PROVIDERS": lambda env: _providers_isolated(_required(env, "PROVIDERS")),
    "POLL_INTERVAL_SECONDS": lambda env: {"poll_interval_s": _number(env, "POLL_INTERVAL_SECONDS", 10.0, minimum=0)},
    "MAX_JOB_AGE_SECONDS": lambda env: {"max_job_age_s": _number(env, "MAX_JOB_AGE_SECONDS", 21600.0, minimum=1)},
    "DUE_SHARDS": lambda env: {"due_shards": int(_number(env, "DUE_SHARDS", 16, minimum=1, maximum=256, integer=True))},
    "JOB_RETENTION_DAYS": lambda env: {
        "job_retention_days": int(_number(env, "JOB_RETENTION_DAYS", 30, minimum=1, integer=True))
    },
    "ALLOW_LOOPBACK_CALLBACKS": lambda env: {
        "allow_loopback_callbacks": env.get("ALLOW_LOOPBACK_CALLBACKS", "false").strip().lower() == "true"
    },
    "SWEEP_SECONDS": lambda env: {"sweep_s": _number(env, "SWEEP_SECONDS", 53.0, minimum=0, maximum=840)},
    "ARCHIVE_QUEUE_URL": lambda env: {"archive_queue_url": env.get("ARCHIVE_QUEUE_URL", "").strip()},
    "ARCHIVE_BUCKET": lambda env: {"archive_bucket": env.get("ARCHIVE_BUCKET", "").strip()},
    "ARCHIVE_URL_EXPIRES_SECONDS": lambda env: {
        "archive_url_ttl_s": int(
            _number(env, "ARCHIVE_URL_EXPIRES_SECONDS", 3600, minimum=60, maximum=604800, integer=True)
        )
    },
    "WEBHOOK_SECRET_ARN": lambda env: {"webhook_secret_arn": env.get("WEBHOOK_SECRET_ARN", "").strip()},
    "WEBHOOK_QUEUE_URL": lambda env: {"webhook_queue_url": env.get("WEBHOOK_QUEUE_URL", "").strip()},
    "WEBHOOK_RETRY_SCHEDULE": lambda env: {
        "webhook_retry_schedule": parse_retry_schedule(env.get("WEBHOOK_RETRY_SCHEDULE", ""))
    },
    "WEBHOOK_TIMEOUT_SECONDS": lambda env: {
        "webhook_timeout_s": _number(env, "WEBHOOK_TIMEOUT_SECONDS", 15.0, minimum=0.1, maximum=60)
    },
    "OPERATOR_PRINCIPALS": lambda env: {"operator_principals": parse_principals(env.get("OPERATOR_PRINCIPALS", ""))},
}

# -- Sections: the variables one runtime builder reads (for what it builds) -----------------------------------
# A function loads the sections of the builders its handler calls, and template.yaml declares exactly their
# variables on it (tests/template/test_template.py derives them from the code; tests/unit/test_config.py checks
# each section holds every field its builder and use case read).
Section = tuple[str, ...]
JOBS: Section = ("JOBS_TABLE", "DUE_SHARDS", "JOB_RETENTION_DAYS")  # the jobs table (job_store): every function
EVENTS: Section = ("EVENTS_TOPIC_ARN", "ARCHIVE_QUEUE_URL")  # where the poller's events go (event_publisher)
POLLING: Section = (  # a poller run (poller): PollerFunction, PollerWorkerFunction
    "EVENTS_TOPIC_ARN",
    "PROVIDERS",
    "POLL_INTERVAL_SECONDS",
    "MAX_JOB_AGE_SECONDS",
    "SWEEP_SECONDS",
)
TRACKING: Section = (  # the API's job routes (tracking; a callback kept before tracking is applied as a push)
    "PROVIDERS",
    "POLL_INTERVAL_SECONDS",
    "MAX_JOB_AGE_SECONDS",
    "ALLOW_LOOPBACK_CALLBACKS",
    "OPERATOR_PRINCIPALS",
)
INBOUND: Section = (  # providers' callbacks (inbound): InboundFunction; events as the poller's (EVENTS)
    "PROVIDERS",
    "POLL_INTERVAL_SECONDS",
    "MAX_JOB_AGE_SECONDS",
    "ALLOW_LOOPBACK_CALLBACKS",
)
REDELIVERY: Section = ("PROVIDERS",)  # the API's redeliver route (redelivery)
WEBHOOK_QUEUE: Section = ("WEBHOOK_QUEUE_URL",)  # the webhook queue: the API's redeliver route, WebhookFunction
WEBHOOKS: Section = (  # webhook delivery (webhook_delivery): WebhookFunction
    "WEBHOOK_SECRET_ARN",
    "WEBHOOK_RETRY_SCHEDULE",
    "WEBHOOK_TIMEOUT_SECONDS",
    "ALLOW_LOOPBACK_CALLBACKS",
)
ARCHIVE: Section = (  # copying completed videos (archiver): ArchiveFunction
    "EVENTS_TOPIC_ARN",
    "PROVIDERS",
    "ARCHIVE_BUCKET",
    "ARCHIVE_URL_EXPIRES_SECONDS",
    "ALLOW_LOOPBACK_CALLBACKS",
)


@dataclass(frozen=True)
class FanOut:
    """The scheduled run's fan-out (PollerFunction only): POLLER_WORKERS worker invocations, each working
    its share of the due index's shards. Declared on PollerFunction alone, since the worker function's
    name is one of them (the worker reading its own name would be a circular reference)."""

    workers: int = 1
    worker_function: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> FanOut:
        workers = int(_number(env, "POLLER_WORKERS", 1, minimum=1, maximum=256, integer=True))
        function = env.get("POLLER_WORKER_FUNCTION", "").strip()
        if workers > 1 and not function:
            raise ConfigError("POLLER_WORKER_FUNCTION is not set, but POLLER_WORKERS asks for workers")
        return cls(workers=workers, worker_function=function)


@cache
def load_settings(*sections: Section) -> Settings:
    """The settings of `sections` in this process, read and validated once per cold start (every variable
    when none is named: tools and benchmarks; runtime's builders name theirs)."""
    return Settings.from_env(os.environ, *sections)


@cache
def load_fan_out() -> FanOut:
    return FanOut.from_env(os.environ)


def parse_providers(raw: str) -> dict[str, ProviderSettings]:
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"PROVIDERS is not valid JSON: {exc.msg} at position {exc.pos}") from None
    if not isinstance(data, dict) or not data:
        raise ConfigError("PROVIDERS must be a non-empty JSON object: provider name -> settings")
    return {name: _provider(name, spec) for name, spec in data.items()}


def _providers_isolated(raw: str) -> dict[str, Any]:
    """The usable PROVIDERS entries, and for each unusable one why: one provider's mistake (a base_url
    without a scheme, a timeout out of range) must not stop the others (their jobs are polled; its own stay
    due, and every run names it and fails at its end). Unreadable JSON, or no usable entry at all, is an
    error of the whole variable."""
    try:
        return {"providers": parse_providers(raw), "provider_errors": {}}
    except ConfigError as whole:
        data = json.loads(raw) if _is_json_object(raw) else None
        if not isinstance(data, dict):
            raise
        usable: dict[str, ProviderSettings] = {}
        errors: dict[str, str] = {}
        for name, spec in data.items():
            try:
                usable[name] = _provider(name, spec)
            except ConfigError as exc:
                errors[str(name)[:64]] = str(exc)
        if not usable:
            raise whole from None
        return {"providers": usable, "provider_errors": errors}


def _is_json_object(raw: str) -> bool:
    try:
        return isinstance(json.loads(raw), dict)
    except ValueError:
        return False


def parse_retry_schedule(raw: str) -> tuple[int, ...]:
    """WEBHOOK_RETRY_SCHEDULE: seconds before each attempt, comma-separated; the first is 0 (immediately).
    Its length is the number of attempts, which must equal the queue's maxReceiveCount."""
    if not raw.strip():
        return DEFAULT_WEBHOOK_RETRY_SCHEDULE
    try:
        delays = tuple(int(part) for part in raw.split(","))
    except ValueError:
        raise ConfigError(f"WEBHOOK_RETRY_SCHEDULE must be comma-separated whole seconds, got {raw!r}") from None
    if delays[0] != 0 or any(not 0 <= delay <= MAX_WEBHOOK_DELAY_S for delay in delays) or len(delays) > 100:
        raise ConfigError(
            "WEBHOOK_RETRY_SCHEDULE must start with 0 (the first attempt is immediate) and hold at most 100 "
            f"delays of 0 to {MAX_WEBHOOK_DELAY_S} seconds, got {raw!r}"
        )
    return delays


def parse_principals(raw: str) -> tuple[str, ...]:
    """OPERATOR_PRINCIPALS: IAM principal ARNs, comma-separated (blanks around them and empty entries ignored)."""
    principals = tuple(part.strip() for part in raw.split(",") if part.strip())
    for principal in principals:
        if not PRINCIPAL.match(principal):
            raise ConfigError(
                "OPERATOR_PRINCIPALS must be comma-separated IAM principal ARNs "
                f"(arn:aws:iam::<account>:role/<name>, ...:user/<name>...) or `local`, got {principal[:200]!r}"
            )
    return principals


def _provider(name: str, spec: Any) -> ProviderSettings:
    where = f"PROVIDERS[{name!r}]"
    if not PROVIDER_NAME.match(name):
        raise ConfigError(f"{where}: a provider name is 1-32 characters of a-z, 0-9, '-' and '_'")
    if not isinstance(spec, dict):
        raise ConfigError(f"{where} must be an object with base_url and api_key_secret")
    dialect = _dialect(name, spec.get("dialect", "openai"), where)
    base_url = spec.get("base_url", dialect.default_base_url)
    parts = urlsplit(base_url) if isinstance(base_url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{where}.base_url must be an absolute http(s) URL")
    prefix = dialect.path_prefix
    if prefix and parts.path.rstrip("/").endswith(prefix):
        raise ConfigError(f"{where}.base_url must stop before {prefix}")
    secret = spec.get("api_key_secret")
    if not isinstance(secret, str) or not secret:
        raise ConfigError(f"{where}.api_key_secret must name a Secrets Manager secret")
    concurrency = spec.get("max_concurrency", 16)
    timeout = spec.get("timeout_seconds", 10.0)
    if not isinstance(concurrency, int) or isinstance(concurrency, bool) or not 1 <= concurrency <= 256:
        raise ConfigError(f"{where}.max_concurrency must be an integer from 1 to 256")
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not 0 < timeout <= 60:
        raise ConfigError(f"{where}.timeout_seconds must be a number above 0 and at most 60")
    try:
        headers = {**dialect.headers, **check_headers(spec.get("headers", {}), f"{where}.headers")}
    except DialectError as exc:
        raise ConfigError(str(exc)) from None
    return ProviderSettings(
        name=name,
        base_url=base_url.rstrip("/"),  # type: ignore[union-attr]
        api_key_secret=secret,
        max_concurrency=concurrency,
        timeout_seconds=float(timeout),
        dialect=dialect,
        headers=headers,
        inbound=_inbound(spec.get("inbound"), dialect, f"{where}.inbound"),
    )


def _inbound(spec: Any, dialect: Dialect, where: str) -> InboundSettings | None:
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise ConfigError(f"{where} must be an object: {{scheme, secret, tolerance_seconds?, backstop_seconds?}}")
    unknown = sorted(set(spec) - {"scheme", "secret", "tolerance_seconds", "backstop_seconds", "keys_url"})
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}")
    scheme = spec.get("scheme")
    if scheme not in _INBOUND_SCHEMES:
        raise ConfigError(f"{where}.scheme must be one of {', '.join(sorted(_INBOUND_SCHEMES))}")
    if dialect.inbound is None:
        raise ConfigError(f"{where}: the {dialect.name} dialect has no callback form (docs/providers.md)")
    secret = spec.get("secret")
    if scheme != "fal" and (not isinstance(secret, str) or not secret):
        raise ConfigError(f"{where}.secret must name a Secrets Manager secret")
    tolerance = spec.get("tolerance_seconds", 300)
    backstop = spec.get("backstop_seconds", 300)
    if not isinstance(tolerance, int | float) or isinstance(tolerance, bool) or not 1 <= tolerance <= 3600:
        raise ConfigError(f"{where}.tolerance_seconds must be a number from 1 to 3600")
    if not isinstance(backstop, int | float) or isinstance(backstop, bool) or not 0 <= backstop <= 86400:
        raise ConfigError(f"{where}.backstop_seconds must be a number from 0 to 86400")
    keys_url = spec.get("keys_url")
    if keys_url is not None and (not isinstance(keys_url, str) or not keys_url.startswith(("https://", "http://"))):
        raise ConfigError(f"{where}.keys_url must be an http(s) URL")
    return InboundSettings(scheme, str(secret or ""), float(tolerance), float(backstop), keys_url)


def _dialect(name: str, value: Any, where: str) -> Dialect:
    """A built-in dialect by name, or a custom one described in place (docs/providers.md, "Custom")."""
    try:
        return builtin(value) if isinstance(value, str) else parse_dialect(name, value)
    except DialectError as exc:
        raise ConfigError(f"{where}.dialect: {exc}") from None


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is not set")
    return value


def _number(
    env: Mapping[str, str],
    name: str,
    default: float,
    *,
    minimum: float,
    maximum: float | None = None,
    integer: bool = False,
) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum) or (integer and not value.is_integer()):
        bounds = f"from {minimum:g}" + (f" to {maximum:g}" if maximum is not None else "")
        raise ConfigError(f"{name} must be {'an integer' if integer else 'a number'} {bounds}, got {raw!r}")
    return value
