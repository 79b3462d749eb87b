"""The `screener` command: thin shells over the library API, one module per group of commands.

Exit codes everywhere: 0 clear / release, 1 potential match / hold, 2 usage or input error (one line
on standard error, never a traceback or a box; set SCREENER_DEBUG=1 to see a traceback). A reader
that closes the pipe early (`screener screen x.csv -o - | head`) ends the run quietly with 1 (click
does this): the output was not all delivered, so it is never 0.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer

from screener.home import HomeUnusable

SETTINGS: dict[str, Any] = {
    "name": "screener",
    "help": "Restricted-party screening for export compliance.",
    "no_args_is_help": True,
    "add_completion": False,
    "pretty_exceptions_enable": False,
    "rich_markup_mode": None,  # plain help and errors: no boxes, no `--help <bool>`
}


def build_app() -> typer.Typer:
    """The whole command line: every command module imported and registered."""
    from screener.cli import audit, check, decisions, lists, monitor, rescreen, screen

    app = typer.Typer(**SETTINGS)
    app.add_typer(lists.app, name="lists", help="Show, build, validate and import restricted-party lists.")
    screen.register(app)
    rescreen.register(app)
    audit.register(app)
    decisions.register(app)
    check.register(app)
    monitor.register(app)
    return app


# the commands that scripts and hooks start often, by the module that registers them: `screener check`
# (the pre-shipment hook) and `screener screen` (order pipelines) build only their own module's commands
_FAST_STARTS = {"check": "check", "serve": "check", "screen": "screen", "explain": "screen"}


def _command_app(module: str) -> typer.Typer:
    """The app of one command module: typer builds every registered command's parameters from its
    signature on each start, and the other modules' imports cost as much again. Each such module
    registers two commands or more, so the app stays a group: it parses, helps and fails exactly as
    the whole app does, with the same group settings and the same command."""
    from importlib import import_module

    app = typer.Typer(**SETTINGS)
    import_module(f"screener.cli.{module}").register(app)
    return app


def __getattr__(name: str) -> Any:
    """`screener.cli.app`, the whole app, built on first use (and then kept)."""
    if name == "app":
        app = globals()["app"] = build_app()
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def main() -> None:
    """Console entry point: usage errors and unexpected errors become one line and exit code 2."""
    fast = _FAST_STARTS.get(sys.argv[1]) if len(sys.argv) > 1 else None
    app = _command_app(fast) if fast else __getattr__("app")
    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        sys.stderr.write("screener: interrupted\n")
        raise SystemExit(2) from None
    except typer.TyperException as exc:  # click's usage errors, as typer re-exports them
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            sys.stdout.write(ctx.get_help() + "\n")  # a bare `screener lists`: its help, and 2 as click does
            raise SystemExit(2) from None
        where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        sys.stderr.write(f"screener: error: {_one_line(exc.format_message())}{where}\n")
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        sys.stderr.write("screener: interrupted\n")
        raise SystemExit(2) from None
    except SystemExit:
        raise
    except HomeUnusable as exc:
        sys.stderr.write(_one_line(f"screener: error: {exc}") + "\n")
        raise SystemExit(2) from None
    except Exception as exc:  # the last line of defence: a pipeline must never read a crash as success
        if os.environ.get("SCREENER_DEBUG"):
            raise
        sys.stderr.write(_one_line(f"screener: error: {type(exc).__name__}: {exc}") + "\n")
        raise SystemExit(2) from None
    raise SystemExit(code if isinstance(code, int) else 0)
