"""What can go wrong in a command, as one line for stderr and an honest exit code.

Every failure, a bad command line included, ends as one line on stderr and an exit code from the table
below: `videohook: error: <message>`, or with `--json` one JSON object on that same line,
`{"error": {"code": ..., "message": ..., "exit_code": ...}}` (stdout keeps only data, so `| jq` never reads an
error as a result).
"""

from __future__ import annotations

import json
from typing import Any

EXIT_OK = 0
EXIT_ERROR = 1  # the command could not do its work (stack not found, API or AWS error, bad answer)
EXIT_USAGE = 2  # a bad command line (argparse's code)
EXIT_VIDEO_FAILED = 3  # `watch`: the video ended as failed
EXIT_NOT_FOUND = 4  # the job is not tracked
EXIT_TIMEOUT = 5  # `watch --timeout`: the video had not ended in time
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT

# The `code` of a JSON error, by exit code.
ERROR_CODES = {
    EXIT_ERROR: "error",
    EXIT_USAGE: "usage",
    EXIT_VIDEO_FAILED: "video_failed",
    EXIT_NOT_FOUND: "not_found",
    EXIT_TIMEOUT: "timeout",
    EXIT_INTERRUPTED: "interrupted",
}

EXIT_CODES_HELP = """exit codes:
  0    done
  1    error (stack not found, API or AWS refused, network)
  2    bad command line
  3    watch: the video failed
  4    the job is not tracked
  5    watch: --timeout passed before the video ended
  130  interrupted (Ctrl-C)

errors: one line on stderr, `videohook: error: ...`; with --json, that line is
  {"error": {"code": "not_found", "message": "...", "exit_code": 4}} (code: one of error, usage,
  video_failed, not_found, timeout, interrupted; an API refusal adds http_status and the API's own error)"""


class CliError(Exception):
    """A failure to report as `videohook: error: <message>` and exit with `code`; `details` go into the JSON
    form only (e.g. the HTTP status and the API's own error object)."""

    def __init__(self, message: str, code: int = EXIT_ERROR, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details

    def as_json(self) -> str:
        error = {"code": ERROR_CODES.get(self.code, "error"), "message": self.message, "exit_code": self.code}
        return json.dumps({"error": {**error, **self.details}}, ensure_ascii=False, separators=(",", ":"))

    def as_text(self) -> str:
        if self.code == EXIT_INTERRUPTED:
            return "videohook: interrupted"
        return f"videohook: error: {self.message}"


class UsageError(CliError):
    """A bad command line: exit 2, one line naming the command's --help."""

    def __init__(self, message: str) -> None:
        super().__init__(message, EXIT_USAGE)


class Stopped(KeyboardInterrupt):
    """SIGTERM (`videohook local down`, a service manager): unwinds like Ctrl-C, so temporary queues and local
    servers are cleaned up; `local up` ends 0 on it (asked to stop), 130 on Ctrl-C."""
