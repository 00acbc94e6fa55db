"""Column names of contacts files: the project's own, and those of known CRM exports.

A header names a contact field by its own name (`phone`, `First Name` = first_name)
or by an alias taken from a real export's header row. Both are matched case- and
punctuation-insensitively (`E-mail 1 - Value` = `email1value`). Each alias maps to one
field; `docs/manifest.md` lists them with the export each comes from.
"""

from __future__ import annotations

from typing import NamedTuple

from upcall_sync.core.model import CONTACT_FIELDS


class Alias(NamedTuple):
    header: str  #: as the export writes it
    field: str  #: the contact field it fills
    source: str  #: the export whose header row holds it


HUBSPOT = "HubSpot contacts export"
SALESFORCE = "Salesforce report (API names)"
SALESFORCE_LABELS = "Salesforce report (field labels)"
GOOGLE = "Google Contacts export"
GOOGLE_OLD = "Google Contacts export (older format)"

ALIASES: tuple[Alias, ...] = (
    # HubSpot: default contact properties, as a "hubspot-crm-exports-all-contacts" CSV or
    # .xlsx labels them (First Name, Last Name, Email, City are our own names already).
    Alias("Phone Number", "phone", HUBSPOT),
    Alias("Mobile Phone Number", "phone", HUBSPOT),
    Alias("Email address", "email", HUBSPOT),
    Alias("Job Title", "title", HUBSPOT),
    Alias("Company Name", "company", HUBSPOT),
    Alias("Street Address", "line1", HUBSPOT),
    Alias("State/Region", "region", HUBSPOT),
    Alias("Zip code", "postal_code", HUBSPOT),
    Alias("Country/Region", "country", HUBSPOT),
    # Salesforce: a contacts report or Data Loader export with API names (FirstName,
    # LastName, Title, Phone, Email are our own names once punctuation is ignored).
    Alias("MobilePhone", "phone", SALESFORCE),
    Alias("AccountName", "company", SALESFORCE),
    Alias("MailingStreet", "line1", SALESFORCE),
    Alias("MailingCity", "city", SALESFORCE),
    Alias("MailingState", "region", SALESFORCE),
    Alias("MailingPostalCode", "postal_code", SALESFORCE),
    Alias("MailingCountry", "country", SALESFORCE),
    # Salesforce: the same report exported with field labels (Mailing Street, Mailing City,
    # Mailing Country and Account Name match the API names above).
    Alias("Mobile", "phone", SALESFORCE_LABELS),
    Alias("Mailing State/Province", "region", SALESFORCE_LABELS),
    Alias("Mailing Zip/Postal Code", "postal_code", SALESFORCE_LABELS),
    # Google Contacts: "Export > Google CSV" since 2023 (First Name, Last Name are ours).
    Alias("Phone 1 - Value", "phone", GOOGLE),
    Alias("E-mail 1 - Value", "email", GOOGLE),
    Alias("Organization Name", "company", GOOGLE),
    Alias("Organization Title", "title", GOOGLE),
    Alias("Address 1 - Street", "line1", GOOGLE),
    Alias("Address 1 - Extended Address", "line2", GOOGLE),
    Alias("Address 1 - City", "city", GOOGLE),
    Alias("Address 1 - Region", "region", GOOGLE),
    Alias("Address 1 - Postal Code", "postal_code", GOOGLE),
    Alias("Address 1 - Country", "country", GOOGLE),
    # Google Contacts: the older "Google CSV" (Phone 1 - Value and E-mail 1 - Value as above).
    Alias("Given Name", "first_name", GOOGLE_OLD),
    Alias("Family Name", "last_name", GOOGLE_OLD),
    Alias("Organization 1 - Name", "company", GOOGLE_OLD),
    Alias("Organization 1 - Title", "title", GOOGLE_OLD),
)


def header_key(header: str) -> str:
    """A header as matching sees it: `E-mail 1 - Value` -> `email1value`."""
    return "".join(ch for ch in header.casefold() if ch.isalnum())


#: own field names by key: `firstname` -> first_name (so `First Name`, `FirstName` match)
OWN_NAMES: dict[str, str] = {header_key(f): f for f in CONTACT_FIELDS}
#: alias fields by key
ALIAS_FIELDS: dict[str, str] = {header_key(a.header): a.field for a in ALIASES}
assert not set(OWN_NAMES) & set(ALIAS_FIELDS), "an alias repeats an own name"
assert len({header_key(a.header) for a in ALIASES}) == len(ALIASES), "an alias repeats"
