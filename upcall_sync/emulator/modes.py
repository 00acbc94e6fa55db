"""Pessimistic readings of the API: one switch for each guess the reference leaves open.

The emulator's defaults are the readings CONTRACT.md settles on. Each switch
serves another plausible reading, so tests can show the client is right under
both (docs/api-contract.md lists every assumption and the switch for it):

- `numbers_copy_contacts`: a campaign number copies its list contact's details
  when added, and a later contact PATCH leaves it as it was (default: numbers
  show their contact's details live).
- `duplicate_number_message`: the text of the 400 for a list contact already
  in the campaign (default: "has already been added to this campaign").
- `normalize_filters`: `phone` and `from_number` filter values are normalised
  to E.164 before comparing (default: text filters match the exact text sent,
  as CONTRACT.md says).
- `no_last_link`: list pages carry `links.self` and `links.next` only.
- `no_lists`: the inferred `/lists...` endpoints answer 404.
- `validation="lenient"`: the rules the contract never states are dropped:
  an end before the start is accepted; a contact phone that is not a possible
  number is accepted (stored in E.164 when it parses, else as sent); unknown
  attributes are ignored, not refused; a campaign created without `status`
  has none (strict: `pending`). What the contract states holds in both: a
  campaign name, a status among the five, parseable datetimes, a confirmed
  from_number, a contact phone, text values.

The write-side readings (CONTRACT.md, "Write-side readings a client must
survive"; `upcall-sync doctor --write-probe` tells them apart on a real account):

- `patch_replace`: `PATCH /campaigns/:id` replaces the whole campaign: every
  attribute not sent becomes empty (`name` "", `status` pending, the rest null,
  `from_number` too). Default: a PATCH merges what it is given.
- `contact_patch_replace`: `PATCH /lists/:id/contacts/:contact_id` replaces the whole
  contact: it must carry a phone, as a create must, and every other attribute not
  sent becomes null. Default: a contact PATCH merges what it is given.
- `create_ready`: `POST /campaigns` ignores the `status` it is sent: every campaign is
  created `ready` (a server whose default is to dial). Default: the status sent
  (`pending` when none is sent, under strict validation).
- `normalize_names`: campaign and contact-list names are stored Unicode NFC with
  whitespace collapsed (and trimmed); filters still compare exactly.
- `page_size_limit`: a listing asked for a `page[size]` above it is refused with
  `400` naming `page[size]` (default 0: sizes are capped, never refused).
- `naive_datetimes`: datetimes come back without an offset
  (`2016-07-18T10:49:18.000`, meaning UTC).
- `http_links`: `links` use `http://` whatever scheme the request came in on
  (behind a TLS terminator that sets `X-Forwarded-Proto: https`).
- `created_200`: a POST that creates answers `200 OK` (CONTRACT.md: "201 or 200"),
  with the same body. Default: `201 Created`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DUPLICATE_NUMBER_MESSAGE = "has already been added to this campaign"
VALIDATIONS = ("strict", "lenient")


@dataclass(frozen=True)
class Modes:
    """Which reading of each open question the emulator serves (defaults: CONTRACT.md's)."""

    numbers_copy_contacts: bool = False
    duplicate_number_message: str = DUPLICATE_NUMBER_MESSAGE
    normalize_filters: bool = False
    no_last_link: bool = False
    no_lists: bool = False
    validation: str = "strict"
    patch_replace: bool = False
    contact_patch_replace: bool = False
    create_ready: bool = False
    normalize_names: bool = False
    page_size_limit: int = 0
    naive_datetimes: bool = False
    http_links: bool = False
    created_200: bool = False

    def __post_init__(self) -> None:
        if self.validation not in VALIDATIONS:
            raise ValueError(f"validation must be one of {', '.join(VALIDATIONS)}")
        if not self.duplicate_number_message.strip():
            raise ValueError("the duplicate-number message must not be empty")
        if self.page_size_limit < 0:
            raise ValueError("the page-size limit must be 0 (none) or more")

    @property
    def strict(self) -> bool:
        return self.validation == "strict"


#: The write-side readings (CONTRACT.md), one switch each; `http_links` is played over
#: https only (tests/test_write_readings.py puts a TLS terminator in front).
WRITE_SIDE_MODES: dict[str, dict[str, Any]] = {
    "patch-replace": {"patch_replace": True},
    "contact-patch-replace": {"contact_patch_replace": True},
    "create-ready": {"create_ready": True},
    "normalize-names": {"normalize_names": True},
    "page-size-limit": {"page_size_limit": 20},
    "naive-datetimes": {"naive_datetimes": True},
    "created-200": {"created_200": True},
}

#: Every reading under which plan and apply must still work, as `Emulator` keywords:
#: `Emulator(tokens=..., **PESSIMISTIC_MODES[name])`. (`no_lists` is not here: without
#: the contact-list endpoints apply cannot stage contacts, and `doctor` says so.)
PESSIMISTIC_MODES: dict[str, dict[str, Any]] = {
    "numbers-copy-contacts": {"numbers_copy_contacts": True},
    "duplicate-number-message": {"duplicate_number_message": "Number taken"},
    "normalize-filters": {"normalize_filters": True},
    "no-last-link": {"no_last_link": True},
    "lenient-validation": {"validation": "lenient"},
    "jsonapi-errors": {"error_style": "jsonapi"},
    **WRITE_SIDE_MODES,
    "write-side-all": {k: v for mode in WRITE_SIDE_MODES.values() for k, v in mode.items()},
}
