"""screener's home folder: imported lists, the audit store and service config live here.

`SCREENER_HOME` when set, else the per-user data folder (platformdirs), so the CLI, the service and
the web page of one user share the same lists and audit trail.
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_path

HOME_ENV = "SCREENER_HOME"


def home() -> Path:
    """The home folder, created on first use."""
    env = os.environ.get(HOME_ENV)
    path = Path(env).expanduser() if env else user_data_path("screener", appauthor=False)
    path.mkdir(parents=True, exist_ok=True)
    return path
