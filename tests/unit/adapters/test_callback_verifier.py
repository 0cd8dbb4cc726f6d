"""Each callback scheme on its test vector (Replicate's own, from replicate-python's tests; OpenRouter's and
fal's made with test keys: devtools/inbound_fixtures), and every way a callback can be forged: another key,
a changed or truncated body, a replayed timestamp, missing headers. A refusal never quotes a secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from videohook.adapters.callback_verifier import CallbackVerifier
from videohook.config import InboundSettings, ProviderSettings
from videohook.domain.dialects import builtin
from videohook.services.inbound import CallbackRefused

FIXTURES = Path(__file__).resolve().parents[3] / "devtools" / "inbound_fixtures"


def vector(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())["signing"]["example_header_values"]


class Secrets:
    def __init__(self, **values: str) -> None:
        self.values = values

    def token(self, secret_id: str) -> str:
        return self.values[secret_id]


def provider(dialect: str, scheme: str, **inbound) -> ProviderSettings:
    settings = InboundSettings(scheme=scheme, secret="videohook/in", **inbound)
    return ProviderSettings(
        name=dialect, base_url="https://api.example", api_key_secret="s", dialect=builtin(dialect), inbound=settings
    )


def headers_of(example: dict) -> dict:
    return {
        key.lower(): value
        for key, value in example.items()
        if not key.startswith("_") and key not in ("secret", "raw_body")
    }


REPLICATE = vector("replicate")
OPENROUTER = vector("openrouter")
FAL = vector("fal")
FAL_JWKS = json.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "_-9rl5BqK-lOHU44mwQ0r_BnePj3mZsIfDtQoTK7Xs8"}]})


def check(target: ProviderSettings, body: str | bytes, headers: dict, *, now: float, secret: str = "", token=None):
    fetched: list[str] = []

    def keys(url: str) -> bytes:
        fetched.append(url)
        return FAL_JWKS.encode()

    verifier = CallbackVerifier(Secrets(**{"videohook/in": secret}), fetch_keys=keys, clock=lambda: now)
    raw = body.encode() if isinstance(body, str) else body
    verifier.verify(target, raw, headers, token, now=now)
    return fetched


def test_replicates_own_vector_verifies():
    check(
        provider("replicate", "standard-webhooks"),
        REPLICATE["raw_body"],
        headers_of(REPLICATE),
        now=float(REPLICATE["webhook-timestamp"]) + 10,
        secret=REPLICATE["secret"],
    )


def test_openrouter_vector_verifies():
    now = float(OPENROUTER["X-OpenRouter-Signature"].split(",")[0][2:]) + 10
    check(
        provider("openrouter", "openrouter"),
        OPENROUTER["raw_body"],
        headers_of(OPENROUTER),
        now=now,
        secret=OPENROUTER["secret"],
    )


def test_fal_vector_verifies_against_its_key_set_fetched_once():
    now = float(FAL["X-Fal-Webhook-Timestamp"]) + 10
    fetched = check(
        provider("fal", "fal", keys_url="https://keys.example/jwks.json"), FAL["raw_body"], headers_of(FAL), now=now
    )
    assert fetched == ["https://keys.example/jwks.json"]


def test_a_token_callback_verifies_only_with_its_token():
    target = provider("luma", "token")
    check(target, "{}", {}, now=0, secret="tok-abc123", token="tok-abc123")
    for wrong in ("tok-abc124", "", None):
        with pytest.raises(CallbackRefused) as caught:
            check(target, "{}", {}, now=0, secret="tok-abc123", token=wrong)
        assert "tok-abc123" not in str(caught.value)


@pytest.mark.parametrize(
    ("name", "scheme", "example", "secret", "stamp_header"),
    [
        ("replicate", "standard-webhooks", REPLICATE, REPLICATE["secret"], "webhook-timestamp"),
        ("openrouter", "openrouter", OPENROUTER, OPENROUTER["secret"], None),
        ("fal", "fal", FAL, "", "X-Fal-Webhook-Timestamp"),
    ],
)
def test_forged_callbacks_are_refused(name, scheme, example, secret, stamp_header):
    target = (
        provider(name, scheme, keys_url="https://keys.example/jwks.json") if scheme == "fal" else provider(name, scheme)
    )
    stamp = float(example[stamp_header]) if stamp_header else float(example["X-OpenRouter-Signature"].split(",")[0][2:])
    body, headers = example["raw_body"], headers_of(example)
    forgeries = {
        "changed body": (body.replace("1", "2", 1), headers, stamp + 10, secret),
        "truncated body": (body[:-5], headers, stamp + 10, secret),
        "replayed": (body, headers, stamp + 301, secret),
        "from the future": (body, headers, stamp - 301, secret),
        "no signature": (body, {k: v for k, v in headers.items() if "signature" not in k}, stamp + 10, secret),
    }
    if secret:
        forgeries["another key"] = (
            body,
            headers,
            stamp + 10,
            "whsec_" + "A" * 32 if scheme == "standard-webhooks" else "other",
        )
    for what, (forged_body, forged_headers, now, key) in forgeries.items():
        with pytest.raises(CallbackRefused) as caught:
            check(target, forged_body, forged_headers, now=now, secret=key)
        message = str(caught.value)
        assert (secret == "" or secret not in message) and "v1," not in message, what


def test_a_signed_scheme_refuses_a_path_token():
    with pytest.raises(CallbackRefused, match="path token"):
        check(
            provider("replicate", "standard-webhooks"),
            REPLICATE["raw_body"],
            headers_of(REPLICATE),
            now=float(REPLICATE["webhook-timestamp"]),
            secret=REPLICATE["secret"],
            token="x",
        )


def test_an_unreadable_key_set_refuses_rather_than_fails():
    verifier = CallbackVerifier(Secrets(), fetch_keys=lambda url: b"not json", clock=lambda: 0.0)
    now = float(FAL["X-Fal-Webhook-Timestamp"])
    with pytest.raises(CallbackRefused, match="keys could not be read"):
        verifier.verify(provider("fal", "fal"), FAL["raw_body"].encode(), headers_of(FAL), None, now=now)
