"""What the command line adds to a message: hints about the API URL and the options.

Used by `cli` only; plain functions over strings and click's usage errors (read
by attribute, so this module does not import typer).
"""

from __future__ import annotations

import difflib
from typing import Any
from urllib.parse import urlsplit

from upcall_sync.core.normalize import api_v1_path


def api_url_fix(base_url: str) -> str | None:
    """The base URL with the API's /api/v1 path, when `base_url` lacks it, or goes on
    past it (an endpoint's URL pasted whole: `.../api/v1/campaigns`)."""
    if not base_url:
        return None
    parts = urlsplit(base_url)
    path = parts.path.rstrip("/")
    if path.endswith("/api/v1"):
        return None
    return parts._replace(path=api_v1_path(path), query="", fragment="").geturl()


def usage_message(exc: Exception) -> str:
    """A command-line usage error as one line that names the command's real options.

    click's own hint lists loose matches (`--bogus` -> "Possible options: --out");
    this names the command an option belongs to when it is another command's, else
    close matches only, else points at the command's --help.
    """
    format_message = getattr(exc, "format_message", lambda: str(exc))
    message = " ".join(str(format_message()).split())
    ctx: Any = getattr(exc, "ctx", None)
    option: str | None = getattr(exc, "option_name", None)
    if ctx is None:
        return message
    path = ctx.command_path
    if option is None:
        return f"{message.rstrip('.')}; see `{path} --help`"
    text = f"`{path}` has no option {option}"
    root = ctx.find_root()
    commands = getattr(root.command, "commands", {})
    owners = [
        name
        for name, other in sorted(commands.items())
        if other is not ctx.command and option in long_options(other)
    ]
    if owners:
        named = " and ".join(f"`{root.command_path} {o}`" for o in owners)
        verb = "has" if len(owners) == 1 else "have"
        return f"{text}; {named} {verb} it (see `{path} --help`)"
    mine = [o.removeprefix("--") for o in long_options(ctx.command)]
    close = difflib.get_close_matches(option.lstrip("-"), mine, n=3)
    if close:
        return f"{text}; did you mean {' or '.join('--' + c for c in close)}?"
    return f"{text}; see `{path} --help` for its options"


def long_options(command: Any) -> list[str]:
    return [o for p in getattr(command, "params", ()) for o in p.opts if o.startswith("--")]


def lift_debug(args: list[str]) -> list[str]:
    """`--debug` anywhere before a `--`, moved to the front where the root takes it:
    typer options belong to one command, and users type `upcall-sync plan --debug`.
    (So no option takes the value "--debug": `--out --debug` is --out missing its file.)"""
    end = args.index("--") if "--" in args else len(args)
    if "--debug" not in args[:end]:
        return args
    rest = [a for a in args[:end] if a != "--debug"]
    return ["--debug", *rest, *args[end:]]
