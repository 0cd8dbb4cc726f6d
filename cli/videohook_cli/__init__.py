"""The `videohook` command: track, read, list and watch jobs, tail events, run the local stack.

Operator tooling, not Lambda code: a package of its own outside `layers/`, installed into `.venv` by
`make setup` and never shipped to Lambda (CommonLayer holds only what the functions import). It talks to a
stack the way any client would (the HTTP API, SNS/SQS, DynamoDB reads) and imports the shared `videohook`
package for the rest (the job store's item mapping) rather than a copy of it.
"""

from videohook_cli.main import main

__all__ = ["main"]
