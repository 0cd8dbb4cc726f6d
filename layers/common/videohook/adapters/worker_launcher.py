"""Lambda adapter for the fan-out: one asynchronous invoke of the worker function per shard group."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


class WorkerNotStarted(RuntimeError):
    """Lambda did not accept the asynchronous invoke."""


class LambdaWorkerLauncher:
    def __init__(self, client: Any, function_name: str) -> None:
        self._client = client
        self._function_name = function_name

    def launch(self, shards: Sequence[int]) -> None:
        answer = self._client.invoke(
            FunctionName=self._function_name,
            InvocationType="Event",  # queued by Lambda; the worker's EventInvokeConfig bounds age and retries
            Payload=json.dumps({"shards": list(shards)}).encode(),
        )
        if answer.get("StatusCode") != 202:
            raise WorkerNotStarted(f"invoke answered {answer.get('StatusCode')}")
