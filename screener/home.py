"""screener's home folder: imported lists, the audit store and service config live here.

`SCREENER_HOME` when set, else the per-user data folder (platformdirs), so the CLI, the service and
the web page of one user share the same lists and audit trail.

What lives here is customer data and credentials, so it is private to the user: folders screener
creates here are 0700 and files 0600, whatever the umask (`private_dir`, `file_mode`).
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_path

HOME_ENV = "SCREENER_HOME"
DB_ENV = "SCREENER_DB"  # the audit store's URL (review.store): here, so a check reads it without SQLAlchemy
STORE_FILE = "screener.db"  # the audit store in the home folder when DB_ENV is not set
PRIVATE_DIR, PRIVATE_FILE, SHARED_FILE = 0o700, 0o600, 0o666


def home_path() -> Path:
    """Where the home folder is, without creating it."""
    env = os.environ.get(HOME_ENV)
    return Path(env).expanduser() if env else user_data_path("screener", appauthor=False)


def private_dir(path: Path) -> Path:
    """Create `path` and any missing parents as 0700 folders (existing folders are left as they are)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=PRIVATE_DIR, exist_ok=True)
        os.chmod(folder, PRIVATE_DIR)  # mkdir's mode is masked by the umask
    return path


class HomeUnusable(OSError):
    """The home folder cannot be created: said in one line, with the folder and how to choose another."""


def home() -> Path:
    """The home folder, created private on first use."""
    path = home_path()
    try:
        return private_dir(path)
    except OSError as exc:
        raise HomeUnusable(f"cannot create the home folder {path} ({exc.strerror or exc}); "
                           f"set {HOME_ENV} to a folder you can write") from exc


def file_mode(target: Path) -> int:
    """The mode for a new file: private under the home folder, else the umask decides as usual."""
    try:
        inside = target.resolve().is_relative_to(home_path().resolve())
    except OSError:
        inside = False
    return PRIVATE_FILE if inside else SHARED_FILE


def existing_store_url(given: str | None = None) -> str | None:
    """The audit store a run applies analysts' decisions from without being asked to keep one:
    `given`, else `SCREENER_DB`, else the home folder's SQLite file if it exists; None when there is
    none. Looked for, never created, and without importing SQLAlchemy (a third of a second)."""
    url = given or os.environ.get(DB_ENV)
    if url:
        return url
    path = home_path() / STORE_FILE
    return f"sqlite:///{path}" if path.exists() else None
