"""The `videohook` command: track, read, list and watch jobs, tail events, run the local stack.

Operator tooling, not Lambda code: no function imports this package, so it costs the functions nothing at
cold start. It talks to a stack the way any client would (the HTTP API, SNS/SQS, DynamoDB reads) and
reuses the domain's own code (the job store's item mapping) rather than a copy of it.
"""

from videohook.cli.main import main

__all__ = ["main"]
