"""The credential header of a provider's requests, as its dialect says: `Authorization: Bearer <token>`,
`x-goog-api-key: <key>`, `Authorization: Key <key>` (fal), or Kling's JWT, signed (HS256, PyJWT) with the
secret key and valid for 30 minutes. The credential comes from domain.tokens.usable_credential."""

from __future__ import annotations

import time

import jwt

from videohook.domain.dialects.spec import Auth

JWT_LIFETIME_S = 1800
JWT_RENEW_S = 300  # a JWT is reused until it has less than this left
_minted: dict[tuple[str, str], tuple[str, float]] = {}


def auth_headers(auth: Auth, credential: str, *, now: float | None = None) -> dict[str, str]:
    if auth.mint == "jwt-hs256":
        return {auth.header: auth.prefix + kling_jwt(credential, now=time.time() if now is None else now)}
    return {auth.header: auth.prefix + credential}


def kling_jwt(credential: str, *, now: float) -> str:
    """Kling's API token: `{"iss": access key, "exp": now + 30 min, "nbf": now - 5 s}`, HS256 with the secret key."""
    access, _, secret = credential.partition(":")
    cached = _minted.get((access, secret))
    if cached is not None and cached[1] - now > JWT_RENEW_S:
        return cached[0]
    expires = int(now) + JWT_LIFETIME_S
    token = jwt.encode({"iss": access, "exp": expires, "nbf": int(now) - 5}, secret, algorithm="HS256")
    _minted[(access, secret)] = (token, expires)
    return token
