"""`upcall-sync emulator`: the command that runs the local API.

The sync tool's command line never imports the emulator: this module registers
the command through the `upcall_sync.commands` entry point (pyproject.toml),
which the tool's CLI loads like any plugin. Option checks live with
`EmulatorOptions` (cli.py), so this module only maps flags to them.
"""

from __future__ import annotations

import sqlite3
from typing import Annotated, NoReturn

import typer


def register(app: typer.Typer) -> None:
    """Add the `emulator` command to the upcall-sync command line."""
    app.command(name="emulator")(emulator)


def emulator(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port; 0 picks a free one.")] = 0,
    db: Annotated[
        str, typer.Option(help="SQLite database file; :memory: for a throwaway one.")
    ] = ":memory:",
    token: Annotated[
        list[str] | None,
        typer.Option(
            help="An accepted auth token (repeatable; each token is its own account).",
            metavar="TOKEN",
        ),
    ] = None,
    confirmed_number: Annotated[
        list[str] | None,
        typer.Option(
            help="A confirmed caller-ID number for every account (repeatable).", metavar="PHONE"
        ),
    ] = None,
    max_page_size: Annotated[int, typer.Option(min=1, help="Cap on page[size].")] = 100,
    latency_ms: Annotated[float, typer.Option(min=0, help="Added latency per request.")] = 0.0,
    fault_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of requests that get a fault.")
    ] = 0.0,
    faults: Annotated[
        str,
        typer.Option(
            help="Comma-separated fault kinds: 429, 500, 502, 503, reset, lost-write, timeout."
        ),
    ] = "429,500,reset,lost-write",
    seed: Annotated[int | None, typer.Option(help="Seed for reproducible faults.")] = None,
    retry_after: Annotated[int, typer.Option(min=0, help="Retry-After seconds on a 429.")] = 1,
    stall_seconds: Annotated[
        float, typer.Option(min=0, help="How long a 'timeout' fault holds the answer.")
    ] = 30.0,
    late_commit_every: Annotated[
        int,
        typer.Option(
            min=0,
            help="Hold every Nth POST --commit-delay seconds before committing it "
            "(a write that lands after the client timed out); 0: never.",
            metavar="N",
        ),
    ] = 0,
    commit_delay: Annotated[
        float, typer.Option(min=0, help="How long --late-commit-every holds a POST.")
    ] = 4.0,
    error_style: Annotated[
        str, typer.Option(help="Error bodies: 'fields' (the reference's) or 'jsonapi'.")
    ] = "fields",
    quiet: Annotated[bool, typer.Option(help="Do not log each request.")] = False,
    numbers_copy_contacts: Annotated[
        bool, typer.Option(help="Numbers copy their contact's details when added.")
    ] = False,
    duplicate_number_message: Annotated[
        str | None,
        typer.Option(
            help="Message of the 400 for a contact already in the campaign.", metavar="TEXT"
        ),
    ] = None,
    normalize_filters: Annotated[
        bool,
        typer.Option(
            help="Normalise phone / from_number filter values to E.164 (default: exact text)."
        ),
    ] = False,
    patch_replace: Annotated[
        bool, typer.Option(help="PATCH /campaigns/:id replaces the campaign (unsent -> empty).")
    ] = False,
    contact_patch_replace: Annotated[
        bool,
        typer.Option(
            help="PATCH /lists/:id/contacts/:id replaces the contact (phone required, "
            "unsent -> null)."
        ),
    ] = False,
    create_ready: Annotated[
        bool,
        typer.Option(help="POST /campaigns ignores the status sent: campaigns are created ready."),
    ] = False,
    normalize_names: Annotated[
        bool, typer.Option(help="Store campaign and list names NFC, whitespace collapsed.")
    ] = False,
    created_200: Annotated[
        bool,
        typer.Option("--created-200", help="A POST that creates answers 200 OK, not 201 Created."),
    ] = False,
    page_size_limit: Annotated[
        int,
        typer.Option(
            min=0, help="Refuse page[size] above N with 400 (0: cap it instead).", metavar="N"
        ),
    ] = 0,
    naive_datetimes: Annotated[
        bool, typer.Option(help="Serve datetimes without an offset (meaning UTC).")
    ] = False,
    http_links: Annotated[
        bool, typer.Option(help="Serve links as http:// whatever the request's scheme.")
    ] = False,
    no_last_link: Annotated[
        bool, typer.Option("--no-last-link", help="List pages carry no links.last.")
    ] = False,
    no_lists: Annotated[
        bool, typer.Option("--no-lists", help="The inferred /lists endpoints answer 404.")
    ] = False,
    validation: Annotated[
        str,
        typer.Option(help="'strict' or 'lenient': enforce the rules the contract never states?"),
    ] = "strict",
    read_only_token: Annotated[
        list[str] | None,
        typer.Option(
            help="A token that reads the first --token's account; its writes get 403.",
            metavar="TOKEN",
        ),
    ] = None,
    rate_limit: Annotated[
        float,
        typer.Option(
            min=0,
            max=100_000,
            help="Requests per second each token may make (burst the same); 0: no limit. "
            "The excess gets 429 with Retry-After.",
            metavar="R",
        ),
    ] = 0.0,
    rate_limit_headers: Annotated[
        bool, typer.Option(help="With --rate-limit: send RateLimit-* headers too.")
    ] = False,
) -> None:
    """Run a local Upcall v1 API backed by SQLite (prints its base URL first)."""
    from upcall_sync.emulator.cli import EmulatorOptions, serve

    if not token:
        _fail("--token: give at least one token (each token is an account)")
    try:
        opts = EmulatorOptions(
            host=host,
            port=port,
            db=db,
            tokens=list(token),
            confirmed_numbers=list(confirmed_number or []),
            max_page_size=max_page_size,
            latency_ms=latency_ms,
            fault_rate=fault_rate,
            faults=[k.strip() for k in faults.split(",") if k.strip()],
            seed=seed,
            retry_after=retry_after,
            stall_seconds=stall_seconds,
            late_commit_every=late_commit_every,
            commit_delay=commit_delay,
            error_style=error_style,
            quiet=quiet,
            numbers_copy_contacts=numbers_copy_contacts,
            normalize_filters=normalize_filters,
            patch_replace=patch_replace,
            contact_patch_replace=contact_patch_replace,
            create_ready=create_ready,
            normalize_names=normalize_names,
            created_200=created_200,
            page_size_limit=page_size_limit,
            naive_datetimes=naive_datetimes,
            http_links=http_links,
            no_last_link=no_last_link,
            no_lists=no_lists,
            validation=validation,
            read_only_tokens=list(read_only_token or []),
            duplicate_number_message=duplicate_number_message,
            rate_limit=rate_limit,
            rate_limit_headers=rate_limit_headers,
        )
        raise typer.Exit(serve(opts))
    except ValueError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot serve on {host}:{port}: {exc.strerror}")
    except sqlite3.Error as exc:  # --db in a missing directory, or not a SQLite file
        _fail(f"--db {db}: cannot open the database: {exc}")


def _fail(message: str) -> NoReturn:
    """One line on stderr and exit 1, like every upcall-sync error."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)
