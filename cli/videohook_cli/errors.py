"""What can go wrong in a command, as one line for stderr and an honest exit code."""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1  # the command could not do its work (stack not found, API or AWS error, bad answer)
EXIT_USAGE = 2  # argparse's own code for a bad command line
EXIT_VIDEO_FAILED = 3  # `watch`: the video ended as failed
EXIT_NOT_FOUND = 4  # the job is not tracked
EXIT_TIMEOUT = 5  # `watch --timeout`: the video had not ended in time
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT

EXIT_CODES_HELP = """exit codes:
  0    done
  1    error (stack not found, API or AWS refused, network)
  2    bad command line
  3    watch: the video failed
  4    the job is not tracked
  5    watch: --timeout passed before the video ended
  130  interrupted (Ctrl-C)"""


class CliError(Exception):
    """A failure to report as `videohook: error: <message>` and exit with `code`."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
