"""The credential header of each dialect, and Kling's JWT: signed with the secret key, `iss` the access key,
valid from 5 s before to 30 min after it was made, reused until 5 min before it ends."""

from __future__ import annotations

import jwt
import pytest
from videohook.adapters.provider_auth import auth_headers
from videohook.domain.dialects import builtin
from videohook.domain.tokens import UnusableToken, usable_credential

NOW = 1_780_000_000.0


@pytest.mark.parametrize(
    ("name", "header"),
    [
        ("openai", {"Authorization": "Bearer tok-1"}),
        ("gemini", {"x-goog-api-key": "tok-1"}),
        ("fal", {"Authorization": "Key tok-1"}),
        ("runway", {"Authorization": "Bearer tok-1"}),
    ],
)
def test_static_schemes(name, header):
    assert auth_headers(builtin(name).auth, "tok-1") == header


def test_kling_signs_a_jwt_with_the_secret_key():
    credential = usable_credential(
        "jwt-hs256", '{"access_key": "AK123", "secret_key": "SK-secret-0123456789abcdef0123456789"}'
    )
    assert credential == "AK123:SK-secret-0123456789abcdef0123456789"
    header = auth_headers(builtin("kling").auth, credential, now=NOW)["Authorization"]
    assert header.startswith("Bearer ")
    token = header.removeprefix("Bearer ")
    claims = jwt.decode(
        token,
        "SK-secret-0123456789abcdef0123456789",
        algorithms=["HS256"],
        options={"verify_exp": False, "verify_nbf": False},
    )
    assert claims == {"iss": "AK123", "exp": int(NOW) + 1800, "nbf": int(NOW) - 5}
    assert jwt.get_unverified_header(token)["typ"] == "JWT"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            token,
            "another-key-0123456789abcdef0123456789",
            algorithms=["HS256"],
            options={"verify_exp": False, "verify_nbf": False},
        )
    assert "SK-secret-0123456789abcdef0123456789" not in token


def test_kling_reuses_its_jwt_until_five_minutes_before_it_ends():
    auth = builtin("kling").auth
    first = auth_headers(auth, "AK9:SK9-0123456789abcdef0123456789abcdef", now=NOW)
    assert auth_headers(auth, "AK9:SK9-0123456789abcdef0123456789abcdef", now=NOW + 1400) == first
    assert auth_headers(auth, "AK9:SK9-0123456789abcdef0123456789abcdef", now=NOW + 1600) != first


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        ("only-one-part", "an access key and a secret key"),
        ("{not json", "not JSON"),
        ('{"access_key": "AK"}', "string access_key and secret_key"),
        ("AK:SK with space", "position"),
        (":SK", "an access key and a secret key"),
    ],
)
def test_an_unusable_kling_secret_says_why_without_its_value(secret, reason):
    with pytest.raises(UnusableToken) as caught:
        usable_credential("jwt-hs256", secret)
    assert reason in str(caught.value)
    assert "SK with space" not in str(caught.value)


def test_other_dialects_keep_the_bare_token_rule():
    assert usable_credential(None, "  tok-1\n") == "tok-1"
    with pytest.raises(UnusableToken):
        usable_credential(None, '{\n "token": "x"\n}')
