"""The `screener` command: thin shells over the library API, one module per group of commands.

Exit codes everywhere: 0 clear / release, 1 potential match / hold, 2 usage or input error (one line
on standard error, never a traceback; set SCREENER_DEBUG=1 to see one).
"""

from __future__ import annotations

import os
import sys

import typer

from screener.cli import audit, check, lists, rescreen, screen

app = typer.Typer(
    name="screener",
    help="Restricted-party screening for export compliance.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(lists.app, name="lists", help="Show, build, validate and import restricted-party lists.")
screen.register(app)
rescreen.register(app)
audit.register(app)
check.register(app)


def main() -> None:
    """Console entry point: any unexpected error becomes one line and exit code 2."""
    try:
        app(standalone_mode=True)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.stderr.write("screener: interrupted\n")
        raise SystemExit(2) from None
    except Exception as exc:  # the last line of defence: a pipeline must never read a crash as success
        if os.environ.get("SCREENER_DEBUG"):
            raise
        sys.stderr.write(f"screener: error: {type(exc).__name__}: {exc}".splitlines()[0] + "\n")
        raise SystemExit(2) from None
