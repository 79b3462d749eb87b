"""Process lifetime: helpers die with their parent, and SIGTERM unwinds like Ctrl-C.

A screening worker that outlives its server keeps screening customer data nobody will read, holds
memory and may record a run as complete after the server is gone. On Linux the kernel kills it
when its parent dies (PR_SET_PDEATHSIG, through ctypes); elsewhere, and as a backstop, a thread
checks the parent pid. SIGTERM is turned into KeyboardInterrupt so that `finally` blocks run: the
staged output and temp folders are removed and a recorded run is marked failed, as for SIGINT.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from typing import Any

PR_SET_PDEATHSIG = 1
PARENT_CHECK_SECONDS = 1.0


def die_with_parent() -> None:
    """Call first thing in a child process: it ends when the process that started it ends."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def interrupt_on_sigterm() -> None:
    """SIGTERM (and SIGHUP) raise KeyboardInterrupt in the main thread, like SIGINT."""
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _interrupt)
