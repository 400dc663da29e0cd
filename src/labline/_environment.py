"""What a run records about where it ran: git state, Python, installed packages, command, host."""

from __future__ import annotations

import getpass
import hashlib
import importlib.metadata
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any


def _git(args: list[str], cwd: Path) -> bytes | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout


def git_state(cwd: str | os.PathLike[str] | None = None) -> dict[str, Any] | None:
    """Commit, dirtiness and a digest of the uncommitted diff of the repository around ``cwd``."""
    where = Path(cwd or os.getcwd())
    commit = _git(["rev-parse", "HEAD"], where)
    if commit is None:
        return None
    status = _git(["status", "--porcelain", "--untracked-files=no"], where) or b""
    diff = _git(["diff", "HEAD", "--no-ext-diff", "--binary"], where) or b""
    branch = _git(["rev-parse", "--abbrev-ref", "HEAD"], where) or b""
    return {
        "commit": commit.decode().strip(),
        "branch": branch.decode().strip(),
        "dirty": bool(status.strip()),
        "diff_sha256": hashlib.sha256(diff).hexdigest() if diff else None,
        "diff_bytes": len(diff),
    }


def installed_packages() -> dict[str, str]:
    """``{distribution name: version}`` of every installed distribution, sorted by name."""
    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found[name.lower()] = dist.version
    return dict(sorted(found.items()))


def current_user() -> str:
    """The OS user running this process: the default actor of every write.

    Falls back to ``uid:<number>`` where the environment names no user (containers).
    """
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def capture_environment() -> dict[str, Any]:
    """Everything a run records about the process that started it."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = ""
    return {
        "git": git_state(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "packages": installed_packages(),
        "command": [sys.executable, *sys.argv],
        "cwd": os.getcwd(),
        "host": socket.gethostname(),
        "user": user,
        "pid": os.getpid(),
    }
