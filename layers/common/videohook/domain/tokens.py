"""What a provider token must be to go into `Authorization: Bearer ...`: a rule on the token's characters."""

from __future__ import annotations


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
