"""Every error upcall-sync raises on purpose.

```
UpcallSyncError                  root: the CLI catches it once and prints one line
├── UsageError                   a bad option or combination of options
│   ├── NoToken                  no auth token was given
│   ├── TokenFileError           the token file cannot be read, or holds more than a token
│   └── BadApiUrl                the API URL is not an http(s) URL with a host
├── ManifestError                one or more problems in the manifests, each with file:line:col
│   └── PlanError                the manifests cannot be matched against the live account
├── ApiError                     the Upcall API answered, and not with what we needed
│   ├── ApiStatusError           an HTTP error status (400, 401, 404, 429, 5xx), with field messages
│   ├── ApiResponseError         a 2xx body that is not what the API documents (HTML, bad JSON)
│   ├── PaginationError          links.next loops, leaves the API's host, or a listing never ends
│   └── ListsUnavailable         the (inferred) contact-list endpoints answer 404
├── TransportError               no usable answer at all: connection refused or reset, timeout
│   ├── OutcomeUnknown           a write was sent and we cannot tell whether it happened
│   └── ApiUnreachable           nothing answered for too long (or a TLS failure): stop sending
├── InsecureTransport            the token would travel over plain http to a non-loopback host
├── UnsafePlan                   the plan is over the safety thresholds (apply needs force)
├── StalePlan                    a saved plan no longer matches the live account or the manifests
│   └── ForeignPlan              made against another API or account, or with a token not named
├── PlanFileError                a saved plan is unreadable, corrupted, or from another version
├── ExportError                  the live account holds what no manifest can (every reason)
└── Cancelled                    the operator asked to stop (SIGINT/SIGTERM) while waiting
    └── NotStarted               the run stopped before this change reached the API
```

Messages are the library's: they name what is wrong, never a command-line flag
(the CLI adds its own hints, see `cli.HINTS`).

Every message is already redacted: nothing here ever contains the auth token.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

#: C0 and C1 controls, line separators and bidirectional overrides (U+202E reorders
#: what a reader sees after it): the set `normalize.quote` escapes in values
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_SHOWN = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def shown_name(text: str) -> str:
    """A file name (or any text) for one line of output: control characters (a line
    break, a terminal escape, a bidi override) as escapes, `\\n`, `\\u001b`, never raw."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(lambda m: _SHOWN.get(m.group(0), f"\\u{ord(m.group(0)):04x}"), text)


def workflow_command_like(line: str) -> bool:
    """Whether a line would be read by a GitHub runner as a workflow command: its first
    non-blank characters are `::` (`::error ...`, `::stop-commands::`)."""
    return line.lstrip().startswith("::")


def shown_path(name: str) -> str:
    """A file name that may start a line of output: `shown_name`, and `./` before a name
    that would start a workflow command (`workflow_command_like`)."""
    shown = shown_name(name)
    return "./" + shown if workflow_command_like(shown) else shown


#: what Markdown reads as syntax in a line of text, written as numeric entities (GitHub shows
#: them as the characters, never as syntax, in Markdown and in HTML blocks alike): a code
#: span, emphasis, strikethrough, and the `](` that makes `[text](url)` a link or
#: `![alt](url)` an image (a reference link needs a definition, which starts a line, so
#: `[` alone stays as it is: `campaigns[0]` reads as written). An underscore is written so
#: only where it could open or close emphasis (`_now_`, `__bold__`), at the edge of a word:
#: `q3_survey` stays as written. A backslash stays too: the worst it can do before an
#: entity is show the entity's text
_MARKDOWN_SYNTAX = {"`": "&#96;", "*": "&#42;", "~": "&#126;", "](": "&#93;(", "_": "&#95;"}
_MARKDOWN_RE = re.compile(r"`|\*|~|\]\(|(?<![^\W_])_|_(?![^\W_])")
#: `@name`, `@org/team`, `#123` (`org/repo#123`) and GitLab's `!123`: GitHub and GitLab
#: turn them into a mention (a notification sent to that person or team) or a
#: cross-reference (an event on another issue or merge request), and an `@` inside a word
#: is an email address (`ops@evil.example`, `mailto:ops@evil.example`), which GitHub's
#: autolinks make a `mailto:` link (its domain may start with `-` or `.` as well); a word
#: joiner (U+2060, invisible) after the sign keeps them text
_REFERENCE_RE = re.compile(r"(@(?=[\w.-])|#(?=\w)|!(?=\d))")
#: a bare URL (`https://...`) or `www.` name, which GitHub's autolinks make a link: a
#: word joiner inside `://` and after `www` keeps them text
_AUTOLINK_RE = re.compile(r"(?<=:)(?=//)|(?<![^\W_])(www)(?=\.)", re.IGNORECASE)


def markdown_text(text: str) -> str:
    """Text (a name, a message quoting manifest values) for one line of a Markdown PR
    comment and the HTML GitHub allows in it: no tag, no entity, no code span or fence,
    no emphasis, link (a bare URL's autolink too), image or table cell, no mention or
    cross-reference, no line break."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _REFERENCE_RE.sub("\\1\u2060", shown_name(text))
    text = _AUTOLINK_RE.sub(lambda m: (m[1] or "") + "\u2060", text)
    return _MARKDOWN_RE.sub(lambda m: _MARKDOWN_SYNTAX[m.group(0)], text)


class UpcallSyncError(Exception):
    """Root of every error upcall-sync raises on purpose."""

    exit_code = 1
    #: set by the client when trying the same request again is safe
    retryable = False

    def one_line(self) -> str:
        """The message the CLI prints: a single line, control characters escaped (a
        message may quote what a hand-edited file holds, such as a plan's base URL)."""
        return shown_name(" ".join(str(self).split("\n")[0].split())) or type(self).__name__


class UsageError(UpcallSyncError):
    """A bad option value or a bad combination of options."""


class NoToken(UsageError):
    """No auth token in the environment, a token file or the arguments."""


class TokenFileError(UsageError):
    """The token file cannot be read, or does not hold a token alone."""

    def __init__(self, message: str, words: Sequence[object] = ()) -> None:
        super().__init__(message)
        #: what the file held when it held more than a token, as `Secret`s (they never
        #: show themselves): the command line's redactor learns them all the same
        self.words = tuple(words)


class Location(NamedTuple):
    """Where a value came from: a manifest (or CSV) file, 1-based line and column.

    A NamedTuple: the YAML loader makes one per value of a 100,000-number file.
    """

    file: str
    line: int = 0
    column: int = 0
    #: a spreadsheet's sheet: then line is its row, and the place reads `file:Sheet1!C7`
    sheet: str = ""

    def __str__(self) -> str:
        name = shown_path(self.file)  # a file name is a value like any other
        if self.sheet:
            return f"{name}:{shown_name(sheet_cell(self.sheet, self.line, self.column))}"
        if self.line <= 0:
            return name
        if self.column <= 0:
            return f"{name}:{self.line}"
        return f"{name}:{self.line}:{self.column}"

    @classmethod
    def parse(cls, text: str) -> Location:
        """The Location whose `str()` is `text` (as plans saved as JSON hold them)."""
        cell = _SHEET_CELL.fullmatch(text)
        if cell is not None:
            sheet = cell["sheet"]
            if sheet.startswith("'"):
                sheet = sheet[1:-1].replace("''", "'")
            if cell["letters"]:
                return cls(cell["file"], int(cell["row"]), column_number(cell["letters"]), sheet)
            return cls(cell["file"], int(cell["whole"]), 0, sheet)
        parts = text.rsplit(":", 2)
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            return cls(parts[0], int(parts[1]), int(parts[2]))
        parts = text.rsplit(":", 1)
        if len(parts) == 2 and parts[1].isdigit():
            return cls(parts[0], int(parts[1]))
        return cls(text)


_SHEET_CELL = re.compile(
    r"(?P<file>.+):(?P<sheet>'(?:[^']|'')+'|\w+)!"
    r"(?:(?P<letters>[A-Z]+)(?P<row>[0-9]+)|(?P<whole>[0-9]+):(?P=whole))"
)


def column_number(letters: str) -> int:
    """A -> 1, Z -> 26, AA -> 27 (the inverse of column_letters)."""
    number = 0
    for ch in letters:
        number = number * 26 + ord(ch) - ord("A") + 1
    return number


def column_letters(column: int) -> str:
    """1 -> A, 26 -> Z, 27 -> AA: a spreadsheet's name for a column."""
    letters = ""
    while column > 0:
        column, rest = divmod(column - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def sheet_cell(sheet: str, row: int, column: int) -> str:
    """`Sheet1!C7` (a cell), `Sheet1!7:7` (a row) or `Sheet1` as spreadsheets write them;
    a sheet name other than letters, digits and _ is quoted: `'Q3 list'!C7`."""
    name = sheet if sheet.replace("_", "a").isalnum() else "'" + sheet.replace("'", "''") + "'"
    if row <= 0:
        return name
    if column <= 0:
        return f"{name}!{row}:{row}"
    return f"{name}!{column_letters(column)}{row}"


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in a manifest: where, which field (a dotted path), and what."""

    location: Location
    path: str
    message: str

    def __str__(self) -> str:
        where = str(self.location)
        text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        # one problem, one line, whatever the manifest held
        return "".join(
            ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text
        )


class ManifestError(UpcallSyncError):
    """Every problem found in the manifests, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(set(problems))
        first = str(self.problems[0]) if self.problems else "invalid manifest"
        more = len(self.problems) - 1
        suffix = f" (and {more} more problem{'s' if more != 1 else ''})" if more > 0 else ""
        super().__init__(first + suffix)

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


@dataclass(frozen=True)
class FieldMessage:
    """One message from the API, for one field (or `base` when the API names none)."""

    field: str
    message: str

    def __str__(self) -> str:
        if self.field in ("", "base"):
            return self.message
        return f"{self.field}: {self.message}"


class ApiError(UpcallSyncError):
    """The API answered, but not with what we needed."""

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        url: str = "",
        status: int | None = None,
        fields: tuple[FieldMessage, ...] = (),
    ) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.fields = fields
        super().__init__(message)


class ApiStatusError(ApiError):
    """An HTTP error status, carrying the API's field messages."""

    def __init__(
        self,
        *,
        method: str,
        url: str,
        status: int,
        fields: tuple[FieldMessage, ...] = (),
        excerpt: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        detail = "; ".join(str(f) for f in fields) or excerpt or _STATUS_TEXT.get(status, "")
        msg = f"{method} {url}: HTTP {status}"
        if detail:
            msg += f": {detail}"
        super().__init__(msg, method=method, url=url, status=status, fields=fields)


def refused(exc: BaseException) -> bool:
    """An answer with a 4xx status: the API took the request and said no, so a write did
    not land (after no answer, or a 5xx, it may have)."""
    return isinstance(exc, ApiStatusError) and 400 <= (exc.status or 0) < 500


class ApiResponseError(ApiError):
    """A response whose body is not a document the API would send."""


class PaginationError(ApiError):
    """A listing that loops, leaves the API's origin, or never ends."""


class ListsUnavailable(ApiError):
    """The API has no `/lists` endpoints (inferred ones), and the plan needs them."""


class TransportError(UpcallSyncError):
    """No usable answer: the connection failed, was reset, or timed out."""

    def __init__(self, message: str, *, method: str = "", url: str = "") -> None:
        self.method = method
        self.url = url
        super().__init__(message)


class OutcomeUnknown(TransportError):
    """A write was sent but its answer was lost: it may or may not have happened.

    `timed_out`: the client (or a gateway, 504) stopped waiting while the server may
    still be working on it, so the write may land later (apply waits before re-sending)."""

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        url: str = "",
        status: int | None = None,
        timed_out: bool = False,
    ):
        self.status = status
        self.timed_out = timed_out or status == 504
        super().__init__(message, method=method, url=url)


class ApiUnreachable(TransportError):
    """The API stopped answering (the circuit breaker opened), or cannot be spoken to at all
    (a TLS failure): nothing more is sent, and retrying will not help within this run."""


class InsecureTransport(UpcallSyncError):
    """The token would be sent in clear text to a host that is not loopback."""


class BadApiUrl(UsageError):
    """The API URL is not an http(s) URL with a host."""


class PlanError(ManifestError):
    """The manifests cannot be matched against the live account (ambiguous names, a
    pinned id that does not exist): problems with the manifest line to fix."""


class UnsafePlan(UpcallSyncError):
    """The plan changes or archives more than the safety thresholds allow."""


class StalePlan(UpcallSyncError):
    """A saved plan no longer matches what it was made against.

    The message is one line (a summary naming the first differences, for a log or a
    report that has only it); `details` lists every difference, one per line, for the
    CLI to print before `brief`, the summary that does not name them again."""

    def __init__(
        self, message: str, details: Sequence[str] = (), brief: str = "", *, live: bool = False
    ) -> None:
        self.details = tuple(details)
        self.brief = brief or message
        #: only the live account changed (same API, account and manifests): a fresh plan
        #: of the manifests that is empty then means the plan's work is done already
        self.live = live
        #: the do-not-call stops of a fresh plan (`jobs.sync.stops_only`), which apply
        #: still makes when it refuses the saved plan; None when none could be planned
        self.stops: Any = None
        super().__init__(message)

    def nothing_left(self) -> StalePlan:
        """The same refusal when a fresh plan of the same manifests is empty: the live
        account already holds what the plan would do (a re-run CI job applying its plan
        a second time), so "run plan again" gives way to saying so."""
        ending = "; run plan again"
        note = (
            "; nothing is left to apply: a fresh plan of its manifests has no changes "
            "(was this plan applied already?)"
        )
        message, brief = (
            text.removesuffix(" and review it").removesuffix(ending) + note
            for text in (str(self), self.brief)
        )
        out = StalePlan(message, self.details, brief, live=self.live)
        out.stops = self.stops
        return out


class ForeignPlan(StalePlan):
    """A saved plan made against another API URL or account, or with a token of this
    account that apply was not told of (`--planned-with`): a setup to fix, not an
    account that moved on, so CI's `on-stale-plan: replan` applies no fresh plan over it
    (a wrong planning fingerprint would otherwise apply unreviewed plans for good)."""


class PlanFileError(UpcallSyncError):
    """A saved plan file is unreadable, edited or corrupted, or from another format version.

    Its checksum is unkeyed: it catches corruption and accidental edits, not a
    deliberate forgery (the file is the operator's own, mode 0600)."""


class ExportError(UpcallSyncError):
    """What the live account holds that manifests cannot: every reason, one per line."""

    def __init__(self, lines: Sequence[str]) -> None:
        self.reasons = list(lines)
        more = len(self.reasons) - 1
        suffix = f" (and {more} more)" if more > 0 else ""
        super().__init__((self.reasons[0] if self.reasons else "cannot export") + suffix)


class Cancelled(UpcallSyncError):
    """The operator asked to stop (SIGINT/SIGTERM) while a request was waiting to retry."""

    exit_code = 130


class NotStarted(Cancelled):
    """The run stopped (Ctrl-C, --fail-fast, a dead API) before this change reached the
    API: nothing of it was sent, or only requests answered 429 (nothing handled)."""


_STATUS_TEXT = {
    400: "bad request",
    401: "the auth token is missing or wrong",
    403: "not allowed for this token",
    404: "not found",
    413: "request body too large",
    415: "unsupported content type",
    429: "too many requests",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}
