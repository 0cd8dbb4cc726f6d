"""Where a running local stack (`videohook local up`) says it can be found: a small JSON file.

`local up` writes it once everything listens and removes it when it stops; the other commands read it to
find the stack without flags. A file left behind by a stack that died is recognised by its dead pid.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

STATE_FILE_VARIABLE = "VIDEOHOOK_STATE_FILE"


@dataclass(frozen=True)
class LocalState:
    pid: int
    api_url: str
    aws_endpoint_url: str
    region: str
    topic_arn: str
    table_name: str
    due_shards: int
    sim_url: str
    started_at: int
    webhook_secret_arn: str = ""  # the signing secret in the local Secrets Manager (`videohook local secret`)
    # `sam local invoke --env-vars` content for this stack, per function: only variables the template declares for
    # it (`videohook local env`)
    env_vars: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # alive, but someone else's
            return True
        return True


def default_state_path() -> Path:
    """$VIDEOHOOK_STATE_FILE, else ~/.videohook/local-stack.json."""
    configured = os.environ.get(STATE_FILE_VARIABLE, "").strip()
    return Path(configured) if configured else Path.home() / ".videohook" / "local-stack.json"


def write_state(path: Path, state: LocalState) -> None:
    """Atomically (a reader never sees half a file), readable only by its owner."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(asdict(state), indent=2) + "\n", encoding="utf-8")
    partial.chmod(0o600)
    os.replace(partial, path)


def read_state(path: Path) -> LocalState | None:
    """The state in `path`, or None when there is none or it is not one of ours."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return LocalState(**data)
    except (OSError, ValueError, TypeError):
        return None


def remove_state(path: Path, pid: int) -> None:
    """Remove the file if it still describes process `pid` (a newer stack may have replaced it)."""
    state = read_state(path)
    if state is not None and state.pid == pid:
        path.unlink(missing_ok=True)
