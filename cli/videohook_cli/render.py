"""Human output: one job, a list of jobs, a progress bar, an event line. (`--json` bypasses all this.)"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any, TextIO

BAR_WIDTH = 30


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _when(epoch: Any) -> str:
    if not isinstance(epoch, int | float) or isinstance(epoch, bool):
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def link_of(job: dict[str, Any]) -> str:
    """What a reader wants next: the video link, the content endpoint, or the error."""
    error = job.get("error") or {}
    if job.get("video_url"):
        return str(job["video_url"])
    if job.get("content_url"):
        return f"{job['content_url']} (needs the provider token)"
    if error:
        return f"{error.get('code', 'error')}: {error.get('message', '')}".strip().rstrip(":")
    return ""


def job_text(job: dict[str, Any]) -> str:
    tracking = job.get("tracking") or {}
    lines = [
        f"{job.get('provider')}/{job.get('id')}",
        f"  status      {job.get('status')}  {progress_bar(job.get('progress'))}",
        f"  tracking    {'active' if tracking.get('active') else 'ended'}, {tracking.get('polls', 0)} polls, "
        f"tracked {_when(tracking.get('tracked_at'))}, last polled {_when(tracking.get('last_polled_at'))}",
    ]
    for name in ("model", "seconds", "size"):
        if job.get(name) is not None:
            lines.append(f"  {name:<11} {job[name]}")
    if link_of(job):
        lines.append(f"  {'error' if job.get('error') else 'video':<11} {link_of(job)}")
    archive = job.get("archive") or {}
    if archive.get("url"):
        lines.append(
            f"  archive     {archive.get('s3_uri')} ({archive.get('bytes')} bytes, sha256 {archive.get('sha256')})"
        )
        lines.append(f"  link        {archive['url']} (until {_when(archive.get('url_expires_at'))})")
    elif archive.get("error"):
        lines.append(f"  archive     not archived: {archive['error'].get('code')}: {archive['error'].get('message')}")
    if job.get("metadata"):
        lines.append("  metadata    " + ", ".join(f"{k}={v}" for k, v in sorted(job["metadata"].items())))
    if job.get("callback_url"):
        lines.append(f"  callback    {job['callback_url']}")
    deliveries = tracking.get("deliveries") or []
    for i, attempt in enumerate(deliveries):
        lines.append(f"  {'webhooks' if i == 0 else '':<11} {delivery_text(attempt)}")
    if job.get("callback_url") and not deliveries:
        lines.append("  webhooks    none yet (sent once the job ends)")
    return "\n".join(lines)


def delivery_text(attempt: dict[str, Any]) -> str:
    """One webhook attempt of `tracking.deliveries`: when, which event, the outcome and why."""
    answer = f"HTTP {attempt['status_code']}" if attempt.get("status_code") is not None else "no answer"
    line = (
        f"{_when(attempt.get('at'))}  {attempt.get('event_id')}  attempt {attempt.get('attempt')}  "
        f"{attempt.get('outcome')} ({answer})"
    )
    if attempt.get("error") and attempt.get("outcome") != "delivered":
        line += ": " + " ".join(str(attempt["error"]).split())  # one line, whatever the receiver answered
    if attempt.get("next_attempt_at"):
        line += f", next attempt {_when(attempt['next_attempt_at'])}"
    return line


def progress_bar(progress: Any, width: int = BAR_WIDTH) -> str:
    value = float(progress) if isinstance(progress, int | float) and not isinstance(progress, bool) else 0.0
    value = min(100.0, max(0.0, value))
    filled = round(width * value / 100)
    return f"[{'#' * filled}{'.' * (width - filled)}] {value:5.1f}%"


def watch_line(job: dict[str, Any]) -> str:
    line = f"{job.get('provider')}/{job.get('id')}  {progress_bar(job.get('progress'))}  {job.get('status')}"
    return f"{line}  {link_of(job)}".rstrip()


def jobs_table(jobs: Iterable[dict[str, Any]]) -> str:
    rows = [("PROVIDER", "VIDEO ID", "STATUS", "PROGRESS", "POLLS", "TRACKING", "TRACKED AT")]
    for job in jobs:
        tracking = job.get("tracking") or {}
        rows.append(
            (
                str(job.get("provider")),
                str(job.get("id")),
                str(job.get("status")),
                f"{float(job.get('progress') or 0):.1f}%",
                str(tracking.get("polls", 0)),
                "active" if tracking.get("active") else "ended",
                _when(tracking.get("tracked_at")),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows)


def event_line(event: dict[str, Any]) -> str:
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    assert isinstance(data, dict)
    return (
        f"{_when(event.get('created_at'))}  {event.get('type')}  {event.get('id')}  "
        f"{data.get('provider')}/{data.get('id')}  {link_of(data)}"
    ).rstrip()


class ProgressView:
    """Redraws one line on a terminal; elsewhere (pipes, CI logs) writes a line per change."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._last = ""

    def show(self, job: dict[str, Any]) -> None:
        line = watch_line(job)
        if line == self._last:
            return
        if self._tty:
            self._stream.write("\r\x1b[2K" + line)
        else:
            self._stream.write(line + "\n")
        self._stream.flush()
        self._last = line

    def close(self) -> None:
        if self._tty and self._last:
            self._stream.write("\n")
            self._stream.flush()
