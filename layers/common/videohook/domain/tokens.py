"""What a provider token must be to go into `Authorization: Bearer ...`: a rule on the token's characters."""

from __future__ import annotations

import json


class UnusableToken(ValueError):
    """The provider token cannot be sent as a header. The message says why, never what the token is."""


def usable_token(token: str) -> str:
    """`token` if it can go into `Authorization: Bearer ...`; otherwise UnusableToken. Surrounding whitespace
    (a pasted newline) is dropped; anything else outside visible ASCII (a pretty-printed JSON secret, a
    newline inside) makes the token unusable: the HTTP client would refuse the header for every request."""
    token = token.strip()
    if not token:
        raise UnusableToken("the token is empty")
    for position, char in enumerate(token):
        if not "!" <= char <= "~":
            kind = "a control character" if char < " " or char == "\x7f" else "a space or a non-ASCII character"
            raise UnusableToken(f"the token holds {kind} at position {position}; store the bare token")
    return token


def usable_credential(mint: str | None, secret: str) -> str:
    """The secret as its dialect's auth needs it. For most, a bare token (`usable_token`). For Kling's
    (`jwt-hs256`), an access key and a secret key, stored as JSON `{"access_key": ..., "secret_key": ...}` or
    as `ACCESS_KEY:SECRET_KEY`; given back as `ACCESS_KEY:SECRET_KEY`, each part a usable token."""
    if mint is None:
        return usable_token(secret)
    text = secret.strip()
    if text.startswith("{"):
        try:
            pair = json.loads(text)
        except ValueError:
            raise UnusableToken("the secret starts with '{' but is not JSON") from None
        if not isinstance(pair, dict) or not all(isinstance(pair.get(k), str) for k in ("access_key", "secret_key")):
            raise UnusableToken("the secret must hold string access_key and secret_key")
        access, key = pair["access_key"], pair["secret_key"]
    else:
        access, _, key = text.partition(":")
    if not access.strip() or not key.strip():
        raise UnusableToken("the secret must hold an access key and a secret key (ACCESS_KEY:SECRET_KEY)")
    access, key = usable_token(access), usable_token(key)
    if ":" in access:
        raise UnusableToken("the access key holds ':'; store the pair as JSON")
    return f"{access}:{key}"
