"""`videohook local up` needs the repository checkout: the local stack is built from `template.yaml`,
`functions/` and `devtools/` (moto, the simulated gateway, the in-process API server), none of which is
part of the installed package or of the Lambda layer."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

from videohook_cli.errors import CliError


def find_checkout() -> Path | None:
    """The checkout this package was installed from (editable or run in place), else one around the cwd."""
    here = Path(__file__).resolve()  # <checkout>/cli/videohook_cli/checkout.py when run from one
    candidates = [*here.parents[2:4], Path.cwd(), *Path.cwd().parents]
    for directory in candidates:
        if (directory / "template.yaml").is_file() and (directory / "devtools" / "local_stack.py").is_file():
            return directory
    return None


def import_local_stack() -> ModuleType:
    root = find_checkout()
    if root is None:
        raise CliError("`videohook local up` runs from a checkout of the videohook repository (it needs devtools/)")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        from devtools import local_stack
    except ImportError as exc:
        raise CliError(f"cannot load the local stack from {root}: {exc} (run `make setup` there first)") from None
    return local_stack
