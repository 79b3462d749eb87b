"""`screener check` (the pre-shipment hook), `screener serve` (the HTTP service) and `screener keys`.

`check` exits 0 only for RELEASE: 1 is HOLD and 2 is any error (bad document, no parties, unknown
list...), so a pipeline step that treats "non-zero" as "stop" can never ship on an error.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from screener.cli.common import EXIT_CLEAR, EXIT_MATCH, fail, load_screener
from screener.files.errors import one_line
from screener.lists.coverage import coverage_lines
from screener.models import RowResult
from screener.screening import DEFAULT_THRESHOLD, Screener
from screener.shipment import (
    MAX_DOCUMENT_BYTES,
    ApplyDecisions,
    PartyRole,
    Shipment,
    ShipmentDecision,
    ShipmentError,
    check_shipment,
    load_shipment,
    parse_shipment,
    parse_shipment_data,
)

LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
SHUTDOWN_SECONDS = 10  # SIGTERM: requests still open after this are cut, so the server really stops
keys_app = typer.Typer(help="API keys for the HTTP service.", no_args_is_help=True)


def _read_document(file: str) -> Shipment:
    if file == "-":  # one byte past the limit at most (refused as too large): a flood costs nothing
        return parse_shipment(sys.stdin.buffer.read(MAX_DOCUMENT_BYTES + 1), source="<stdin>")
    return load_shipment(file)


def _from_options(
    parties: list[str], countries: list[str], addresses: list[str], roles: list[str], owners: list[str],
    shares: list[str], shipment_id: str,
) -> Shipment:
    """Parties from repeated --party, with --country/--address/--role/--owner paired to them in order,
    and --owner-share paired to --owner in order."""
    for option, values in (("--country", countries), ("--address", addresses), ("--role", roles),
                           ("--owner", owners)):
        if len(values) > len(parties):
            fail(f"{len(values)} {option} values for {len(parties)} --party: they pair up in order")
    if len(shares) > len(owners):
        fail(f"{len(shares)} --owner-share values for {len(owners)} --owner: they pair up in order")
    docs = [
        {
            "name": name,
            "country": countries[i] if i < len(countries) else None,
            "address": addresses[i] if i < len(addresses) else None,
            "role": roles[i] if i < len(roles) else PartyRole.OTHER.value,
            "owners": _owner(owners[i], shares[i] if i < len(shares) else "", i) if i < len(owners) else [],
        }
        for i, name in enumerate(parties)
    ]
    return parse_shipment_data({"id": shipment_id, "parties": docs}, source="--party")


def _owner(name: str, share: str, i: int) -> list[dict[str, Any]]:
    """The --owner of a party with its --owner-share (as in a file: 60, 60%, blank or ? if unknown)."""
    from screener.ownership.graph import OwnershipError
    from screener.ownership.inputs import parse_share

    if not name.strip():
        if share.strip():
            fail(f"--owner-share {share!r} is paired with an empty --owner (number {i + 1})")
        return []  # an empty --owner "" keeps the pairing for the parties after it
    try:
        return [{"name": name, "share_percent": parse_share(share, f"--owner-share {share!r} of --owner {name!r}")}]
    except OwnershipError as exc:
        fail(str(exc))


def _decisions(db: str | None) -> ApplyDecisions:
    """Analysts' decisions from the audit store, opened only when a party is a potential match, and
    never created just for a check. An unreadable store clears nothing: the shipment holds."""

    def apply(results: Iterable[RowResult], screener: Screener) -> Iterable[RowResult]:
        from screener.home import existing_store_url

        url = existing_store_url(db)
        if url is None:
            return results  # no store, no decisions
        from screener.review.store import Store

        try:
            return list(Store.open(url).apply_decisions(results, screener))
        except Exception as exc:  # noqa: BLE001
            sys.stderr.write(f"screener: warning: audit store unavailable ({type(exc).__name__}); "
                             "recorded decisions not applied\n")
            return results

    return apply


def _text(decision: ShipmentDecision) -> str:
    lines = [f"{decision.decision} shipment {decision.shipment_id}: {decision.reason}"]
    for p in decision.parties:
        where = f" ({one_line(p.country)})" if p.country else ""
        holds = p.alert or p.status.value == "not_screened"
        head = f"  {'HOLD' if holds else 'ok':4}  {p.role.value:22} {one_line(p.name or '')}{where}"
        if p.not_screened_reason:
            tail = f"not screened: {p.not_screened_reason}"
        elif p.ownership is not None and p.ownership.alert and p.entity_id is None:
            tail = p.ownership.text
        elif p.alert or p.status.value == "potential_match":
            tail = f"{p.status.value} {p.score:.1f} {p.entity_id} {p.entity_name} [{p.list_name}]"
            if p.review:
                tail += f"; {p.review}"
            if p.ownership is not None:
                tail += f"; ownership: {p.ownership.text}"
        else:
            tail = "clear" + (f" (best {p.score:.1f}: {p.entity_name})" if p.score is not None else "")
        lines.append(f"{head}: {tail}")
    lines += [f"  coverage of {name}: {text}" for name, text in coverage_lines(decision.lists)]
    return "\n".join(lines)


def check_command(
    file: Annotated[
        Optional[str], typer.Argument(help="Shipment document (JSON or YAML); '-' reads standard input.")
    ] = None,
    party: Annotated[Optional[list[str]], typer.Option("--party", "-p", help="A party name (repeatable).")] = None,
    country: Annotated[
        Optional[list[str]], typer.Option("--country", "-c", help="Country of the --party in the same position.")
    ] = None,
    address: Annotated[
        Optional[list[str]], typer.Option("--address", help="Address of the --party in the same position.")
    ] = None,
    role: Annotated[
        Optional[list[str]],
        typer.Option("--role", "-r", help="Role of the --party in the same position: "
                     + ", ".join(r.value for r in PartyRole) + " (default other)."),
    ] = None,
    owner: Annotated[
        Optional[list[str]],
        typer.Option("--owner", help="An owner of the --party in the same position, screened for the 50% "
                     "Affiliates Rule ('' for a party without one; several owners or chains: use a FILE)."),
    ] = None,
    owner_share: Annotated[
        Optional[list[str]],
        typer.Option("--owner-share", help="Share in percent held by the --owner in the same position "
                     "(60 or 60%; left out, blank or ? if not known, which holds the shipment when the owner is listed)."),
    ] = None,
    shipment_id: Annotated[str, typer.Option("--id", help="Shipment id, with --party.")] = "cli",
    as_json: Annotated[bool, typer.Option("--json", help="Print the decision as JSON.")] = False,
    threshold: Annotated[
        float, typer.Option("--threshold", "-t", min=0, max=100, help="Score from which a party is a potential match.")
    ] = DEFAULT_THRESHOLD,
    lists: Annotated[
        Optional[list[str]], typer.Option("--list", "-l", help="List to screen against (repeatable).")
    ] = None,
    db: Annotated[Optional[str], typer.Option(help="Audit store URL for analysts' decisions.")] = None,
) -> None:
    """Check a shipment's parties: exit 0 RELEASE, 1 HOLD, 2 error. HOLD when any party is a potential
    match not cleared by an analyst, or cannot be screened, or has a listed owner (--owner) under the 50%
    Affiliates Rule: covered, share unknown or a listed minority."""
    parties = party or []
    try:
        if file is not None and parties:
            fail("give a shipment FILE or --party, not both")
        if file is not None:
            if country or address or role or owner or owner_share:
                fail("--country, --address, --role, --owner and --owner-share go with --party, not with a FILE")
            shipment = _read_document(file)
        elif parties:
            shipment = _from_options(parties, country or [], address or [], role or [], owner or [],
                                     owner_share or [], shipment_id)
        else:
            fail("nothing to check: give a shipment FILE ('-' for standard input) or --party NAME")
    except ShipmentError as exc:
        fail(str(exc))
    screener = load_screener(lists, threshold)
    decision = check_shipment(shipment, screener, apply_decisions=_decisions(db))
    if as_json:
        typer.echo(decision.model_dump_json(indent=2))
    else:
        typer.echo(_text(decision))
    raise typer.Exit(EXIT_CLEAR if decision.decision == "RELEASE" else EXIT_MATCH)


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8350,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes; each loads the lists once.")] = 1,
    log_level: Annotated[str, typer.Option(help="critical, error, warning, info, debug or trace.")] = "info",
    threshold: Annotated[Optional[float], typer.Option(min=0, max=100, help="Potential-match threshold (default 75; env SCREENER_THRESHOLD).")] = None,
    lists: Annotated[Optional[list[str]], typer.Option("--list", "-l", help="Lists to load: 'default' or imported names (env SCREENER_LISTS).")] = None,
    proxy_headers: Annotated[bool, typer.Option(help="Behind a reverse proxy: trust its X-Forwarded-Proto and X-Forwarded-For (from --forwarded-allow-ips), so https is seen as https (Secure cookies, HSTS).")] = False,
    forwarded_allow_ips: Annotated[str | None, typer.Option(help="Comma-separated proxy addresses whose X-Forwarded-* headers are trusted (default 127.0.0.1; '*' trusts any).")] = None,
) -> None:
    """Run the HTTP API (and the staff page). Keys: SCREENER_API_KEYS or `screener keys add`."""
    import os

    import uvicorn

    # through the environment, so that every worker process builds the same Settings
    if threshold is not None:
        os.environ["SCREENER_THRESHOLD"] = str(threshold)
    if lists:
        os.environ["SCREENER_LISTS"] = ",".join(lists)

    if log_level not in LOG_LEVELS:
        fail(f"--log-level must be one of {', '.join(LOG_LEVELS)}")
    from screener.service.app import (
        HTTP_PROTOCOL,  # each worker warns at start-up when no API key is set
    )

    options: dict[str, Any] = {"host": host, "port": port, "log_level": log_level,
                               "proxy_headers": proxy_headers, "http": HTTP_PROTOCOL,
                               "timeout_graceful_shutdown": SHUTDOWN_SECONDS}
    if forwarded_allow_ips is not None:
        if not proxy_headers:
            fail("--forwarded-allow-ips goes with --proxy-headers")
        options["forwarded_allow_ips"] = forwarded_allow_ips
    try:
        if workers > 1:
            from screener.service.workers import serve

            # each worker process builds its own app (and matcher) once, and listens on its own socket
            if serve(options, workers):
                raise typer.Exit(2)
        else:
            from screener.service.app import create_app

            uvicorn.run(create_app(), **options)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    except SystemExit as exc:  # uvicorn exits 1 or 3 when it cannot start; errors are 2 here
        if exc.code not in (0, None):
            raise typer.Exit(2) from None
        raise


@keys_app.command("add")
def keys_add(
    label: Annotated[Optional[str], typer.Option(help="A note stored next to the key's hash, e.g. 'erp-prod'.")] = None,
    file: Annotated[Optional[Path], typer.Option(help="Keys file (default: SCREENER_API_KEYS_FILE or <home>/api_keys).")] = None,
) -> None:
    """Create an API key: printed once, only its SHA-256 is stored. Takes effect without a restart."""
    from screener.service.auth import add_key, digest, key_id, keys_file_path
    from screener.service.settings import Settings

    path = file or keys_file_path(Settings.from_env())
    try:
        key = add_key(path, label)
    except OSError as exc:
        fail(f"cannot write the keys file {path.name}: {exc.strerror or exc}")
    typer.echo(key)
    sys.stderr.write(f"key {key_id(digest(key))} added to {path}; it is shown only this once\n")


def register(app: typer.Typer) -> None:
    app.command("check")(check_command)
    app.command("serve")(serve_command)
    app.add_typer(keys_app, name="keys", help="API keys for the HTTP service.")
