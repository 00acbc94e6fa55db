"""Pessimistic readings of the API: one switch for each guess the reference leaves open.

The emulator's defaults are the readings CONTRACT.md settles on. Each switch
serves another plausible reading, so tests can show the client is right under
both (docs/api-contract.md lists every assumption and the switch for it):

- `numbers_copy_contacts`: a campaign number copies its list contact's details
  when added, and a later contact PATCH leaves it as it was (default: numbers
  show their contact's details live).
- `duplicate_number_message`: the text of the 400 for a list contact already
  in the campaign (default: "has already been added to this campaign").
- `exact_filters`: `phone` and `from_number` filters compare the exact text
  sent (default: normalised to E.164 first).
- `no_last_link`: list pages carry `links.self` and `links.next` only.
- `no_lists`: the inferred `/lists...` endpoints answer 404.
- `validation="lenient"`: the rules the contract never states are dropped:
  an end before the start is accepted; a contact phone that is not a possible
  number is accepted (stored in E.164 when it parses, else as sent); unknown
  attributes are ignored, not refused; a campaign created without `status`
  has none (strict: `pending`). What the contract states holds in both: a
  campaign name, a status among the five, parseable datetimes, a confirmed
  from_number, a contact phone, text values.
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
    exact_filters: bool = False
    no_last_link: bool = False
    no_lists: bool = False
    validation: str = "strict"

    def __post_init__(self) -> None:
        if self.validation not in VALIDATIONS:
            raise ValueError(f"validation must be one of {', '.join(VALIDATIONS)}")
        if not self.duplicate_number_message.strip():
            raise ValueError("the duplicate-number message must not be empty")

    @property
    def strict(self) -> bool:
        return self.validation == "strict"


#: Every reading under which plan and apply must still work, as `Emulator` keywords:
#: `Emulator(tokens=..., **PESSIMISTIC_MODES[name])`. (`no_lists` is not here: without
#: the contact-list endpoints apply cannot stage contacts, and `doctor` says so.)
PESSIMISTIC_MODES: dict[str, dict[str, Any]] = {
    "numbers-copy-contacts": {"numbers_copy_contacts": True},
    "duplicate-number-message": {"duplicate_number_message": "Number taken"},
    "exact-filters": {"exact_filters": True},
    "no-last-link": {"no_last_link": True},
    "lenient-validation": {"validation": "lenient"},
    "jsonapi-errors": {"error_style": "jsonapi"},
}
