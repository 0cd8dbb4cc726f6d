"""Provider tokens from Secrets Manager, through Powertools parameters (cached across invocations)."""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters

from videohook.aws import client

TOKEN_CACHE_S = 300


class TokenUnavailable(RuntimeError):
    """The token could not be read. The message names the secret, never its value."""


class SecretsManagerTokens:
    def __init__(self) -> None:
        self._provider = parameters.SecretsProvider(boto3_client=client("secretsmanager"))

    def token(self, secret_id: str) -> str:
        try:
            value = self._provider.get(secret_id, max_age=TOKEN_CACHE_S)
        except parameters.GetParameterError as exc:
            raise TokenUnavailable(f"cannot read secret {secret_id!r}: {type(exc.__cause__ or exc).__name__}") from None
        if not isinstance(value, str) or not value.strip():
            raise TokenUnavailable(f"secret {secret_id!r} holds no token string")
        return value.strip()
