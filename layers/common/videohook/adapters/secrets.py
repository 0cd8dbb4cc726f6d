"""Provider tokens from Secrets Manager, through Powertools parameters (cached across invocations)."""

from __future__ import annotations

import logging
from typing import Any

from aws_lambda_powertools.utilities import parameters

from videohook.adapters.aws import client

TOKEN_CACHE_S = 300


class TokenUnavailable(RuntimeError):
    """The token could not be read. The message names the secret, never its value."""


class SecretsManagerTokens:
    def __init__(self, boto3_client: Any | None = None) -> None:
        self._provider = parameters.SecretsProvider(boto3_client=boto3_client or client("secretsmanager"))

    def token(self, secret_id: str) -> str:
        try:
            value = self._provider.get(secret_id, max_age=TOKEN_CACHE_S)
        except parameters.GetParameterError as exc:
            cause = exc.__cause__ or exc.__context__ or exc  # Powertools wraps the botocore error
            raise TokenUnavailable(f"cannot read secret {secret_id!r}: {type(cause).__name__}") from None
        if not isinstance(value, str) or not value.strip():
            raise TokenUnavailable(f"secret {secret_id!r} holds no token string")
        return value.strip()


class _HideSecretBodies(logging.Filter):
    """botocore logs every response body at DEBUG, GetSecretValue's SecretString included. A log level set to
    DEBUG (Lambda's advanced logging controls do that to the root logger) must not put tokens in the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(
            isinstance(arg, bytes | str) and ("SecretString" in arg if isinstance(arg, str) else b"SecretString" in arg)
            for arg in record.args
        ):
            record.args = ("<a Secrets Manager answer, not logged>",)
        return True


logging.getLogger("botocore.parsers").addFilter(_HideSecretBodies())
