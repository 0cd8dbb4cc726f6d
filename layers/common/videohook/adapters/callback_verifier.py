"""Verifying a provider's callback by its scheme (PRODUCT.md, "Push from providers"; docs/providers.md):

- `standard-webhooks` (Replicate, Gemini API webhooks): `webhook-id`, `webhook-timestamp`,
  `webhook-signature`, signed with the `standardwebhooks` library's `sign` and the `whsec_` secret.
- `openrouter`: `X-OpenRouter-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "{t},{body}">`, the workspace's
  signing secret as the key.
- `fal`: Ed25519 (`cryptography`) over `request id \\n user id \\n timestamp \\n sha256 hex of the body`, the
  four `X-Fal-Webhook-*` headers, against fal's published keys (a JWKS, fetched through the SSRF-guarded
  pinned client and cached for an hour).
- `token`: for providers that sign nothing, the last path segment compared with the secret in constant time.

Every signed scheme also checks its timestamp against the provider's `tolerance_seconds` (a replay). A
refusal says what was wrong, never a secret or a signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from standardwebhooks import Webhook

from videohook.adapters.pinned_http import pinned_client, pinned_request, system_resolver
from videohook.domain.ssrf import DestinationRefused, DestinationUnresolved, check_destination
from videohook.services.inbound import CallbackRefused

if TYPE_CHECKING:
    from videohook.config import ProviderSettings
    from videohook.ports import TokenSource

FAL_KEYS_URL = "https://rest.fal.ai/.well-known/jwks.json"
KEYS_TTL_S = 3600.0
KEYS_MAX_BYTES = 64 * 1024


class CallbackVerifier:
    def __init__(
        self,
        tokens: TokenSource,
        *,
        allow_loopback: bool = False,
        fetch_keys: Callable[[str], bytes] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._tokens = tokens
        self._allow_loopback = allow_loopback
        self._fetch_keys = fetch_keys or self._fetch
        self._clock = clock
        self._keys: dict[str, tuple[float, list[Ed25519PublicKey]]] = {}

    def verify(
        self, provider: ProviderSettings, body: bytes, headers: Mapping[str, str], token: str | None, *, now: float
    ) -> None:
        inbound = provider.inbound
        if inbound is None:
            raise CallbackRefused("the provider takes no callbacks")
        if inbound.scheme == "token":
            self._token(inbound.secret, token)
        elif token is not None:
            raise CallbackRefused("a signed scheme takes no path token")
        elif inbound.scheme == "standard-webhooks":
            self._standard(inbound.secret, body, headers, now, inbound.tolerance_s)
        elif inbound.scheme == "openrouter":
            self._openrouter(inbound.secret, body, headers, now, inbound.tolerance_s)
        elif inbound.scheme == "fal":
            self._fal(inbound.keys_url or FAL_KEYS_URL, body, headers, now, inbound.tolerance_s)
        else:
            raise CallbackRefused(f"unknown scheme {inbound.scheme}")

    def _secret(self, secret_id: str) -> str:
        return self._tokens.token(secret_id).strip()

    def _token(self, secret_id: str, token: str | None) -> None:
        if not token:
            raise CallbackRefused("the callback URL has no token")
        if not hmac.compare_digest(token.encode(), self._secret(secret_id).encode()):
            raise CallbackRefused("the path token is not the provider's")

    def _standard(
        self, secret_id: str, body: bytes, headers: Mapping[str, str], now: float, tolerance_s: float
    ) -> None:
        """The `standardwebhooks` library's own signature, over the timestamp checked here against the injected
        clock and the provider's tolerance (its `verify` reads the wall clock with a fixed 5 minutes)."""
        msg_id, stamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
        signatures = headers.get("webhook-signature", "")
        if not (msg_id and stamp and signatures):
            raise CallbackRefused("Standard Webhooks: the webhook-id, -timestamp or -signature header is missing")
        seconds = _fresh(stamp, now, tolerance_s)
        try:
            expected = Webhook(self._secret(secret_id)).sign(
                msg_id=msg_id, timestamp=datetime.fromtimestamp(seconds, tz=UTC), data=body.decode("utf-8")
            )
        except Exception as exc:  # a malformed secret, a body that is not UTF-8: refused, never a 500 with its text
            raise CallbackRefused(f"Standard Webhooks: {type(exc).__name__}") from None
        wanted = expected.split(",", 1)[1]
        for entry in signatures.split(" "):
            version, _, signature = entry.partition(",")
            if version == "v1" and hmac.compare_digest(signature.encode(), wanted.encode()):
                return
        raise CallbackRefused("Standard Webhooks: no signature matches the body")

    def _openrouter(
        self, secret_id: str, body: bytes, headers: Mapping[str, str], now: float, tolerance_s: float
    ) -> None:
        parts = dict(
            part.strip().split("=", 1) for part in headers.get("x-openrouter-signature", "").split(",") if "=" in part
        )
        if "t" not in parts or "v1" not in parts:
            raise CallbackRefused("X-OpenRouter-Signature is missing or not t=...,v1=...")
        _fresh(parts["t"], now, tolerance_s)
        expected = hmac.new(self._secret(secret_id).encode(), parts["t"].encode() + b"," + body, hashlib.sha256)
        if not hmac.compare_digest(expected.hexdigest(), parts["v1"].strip().lower()):
            raise CallbackRefused("X-OpenRouter-Signature does not match the body")

    def _fal(self, keys_url: str, body: bytes, headers: Mapping[str, str], now: float, tolerance_s: float) -> None:
        names = ("x-fal-webhook-request-id", "x-fal-webhook-user-id", "x-fal-webhook-timestamp")
        values = [headers.get(name, "") for name in names]
        signature_hex = headers.get("x-fal-webhook-signature", "")
        if not all(values) or not signature_hex:
            raise CallbackRefused("the X-Fal-Webhook-* headers are missing")
        _fresh(values[2], now, tolerance_s)
        try:
            signature = bytes.fromhex(signature_hex)
        except ValueError:
            raise CallbackRefused("X-Fal-Webhook-Signature is not hex") from None
        message = "\n".join([*values, hashlib.sha256(body).hexdigest()]).encode()
        for key in self._fal_keys(keys_url):
            try:
                key.verify(signature, message)
                return
            except InvalidSignature:
                continue
        raise CallbackRefused("no fal key verifies the signature")

    def _fal_keys(self, url: str) -> list[Ed25519PublicKey]:
        cached = self._keys.get(url)
        if cached is not None and self._clock() - cached[0] < KEYS_TTL_S:
            return cached[1]
        try:
            document = json.loads(self._fetch_keys(url))
            keys = [
                Ed25519PublicKey.from_public_bytes(_b64url(item["x"]))
                for item in document.get("keys", [])
                if isinstance(item, dict) and item.get("kty") == "OKP" and item.get("crv") == "Ed25519"
            ]
        except CallbackRefused:
            raise
        except Exception as exc:
            raise CallbackRefused(f"fal's keys could not be read ({type(exc).__name__})") from None
        self._keys[url] = (self._clock(), keys)
        return keys

    def _fetch(self, url: str) -> bytes:
        """GET the key set through the same address rule as webhooks (no private address, pinned)."""
        try:
            destination = check_destination(url, system_resolver(), allow_loopback=self._allow_loopback)
        except (DestinationRefused, DestinationUnresolved) as exc:
            raise CallbackRefused(f"fal's key URL refused: {exc}") from None
        with pinned_client(timeout=5.0) as client:
            response = client.send(pinned_request(client, "GET", destination), stream=True)
            try:
                if response.status_code != 200:
                    raise CallbackRefused(f"fal's keys answered HTTP {response.status_code}")
                data = b""
                for chunk in response.iter_bytes():
                    data += chunk
                    if len(data) > KEYS_MAX_BYTES:
                        raise CallbackRefused("fal's key set is too large")
                return data
            finally:
                response.close()


def _fresh(stamp: Any, now: float, tolerance_s: float) -> int:
    """The signed timestamp (whole seconds), if within the tolerance of now; a replay is refused."""
    try:
        seconds = int(str(stamp).strip())
    except ValueError:
        raise CallbackRefused("the signed timestamp is missing or not a whole number") from None
    if abs(now - seconds) > tolerance_s:
        raise CallbackRefused(f"the signed timestamp is {int(now - seconds)} s from now (tolerance {tolerance_s:g} s)")
    return seconds


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
