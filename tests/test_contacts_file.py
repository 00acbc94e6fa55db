"""Contact sources as teams have them (issue 22): CRM exports as saved, an explicit
column mapping, own names kept strict. Through the real CLI (validate, plan)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from upcall_sync.core.model import Contact, DesiredCampaign
from upcall_sync.emulator import Emulator
from upcall_sync.manifest import load_manifests
from upcall_sync.manifest.aliases import ALIASES, OWN_NAMES, header_key

from .conftest import FIXTURES, ROOT, run_cli

CONTACTS = FIXTURES / "contacts"
# Where each fixture's header row comes from (the rows under it are made up):
# - hubspot.csv: HubSpot's default contact properties as a "hubspot-crm-exports-all-contacts"
#   export labels them (Record ID ... Create Date), as listed in issue 22.
# - salesforce.csv: a Salesforce contacts report exported with API names (issue 22's list).
# - google.csv: Google Contacts' "Google CSV" export since 2023, full fixed header row.
# - google-legacy.csv: the older Google CSV (Name, Given Name, ..., Phone 1 - Value, ...).
EXPORTS = ["hubspot", "salesforce", "google", "google-legacy"]
TWO_PHONES = {
    "hubspot": ('"Phone Number" (column 5) and "Mobile Phone Number" (column 6)', "Phone Number"),
    "salesforce": ('"Phone" (column 5) and "MobilePhone" (column 6)', "Phone"),
}


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _manifest(here: Path, file: str, extra: str = "") -> Path:
    path = here / "m.yaml"
    path.write_text(
        f"version: 1\nphone_region: US\ncampaigns:\n  - name: CRM\n    numbers_csv: {file}\n"
        + extra
    )
    return path


def _fix_line(err: str) -> str:
    """The one line the error says to add."""
    found = re.search(r"next to numbers_csv: (numbers_csv_columns: \{.*\})$", err.splitlines()[0])
    assert found, err
    return found.group(1)


@pytest.mark.parametrize("export", EXPORTS)
def test_crm_exports_validate_and_plan_as_saved(
    here: Path, capsys: pytest.CaptureFixture[str], cli_env: Emulator, export: str
) -> None:
    shutil.copy(CONTACTS / f"{export}.csv", here / f"{export}.csv")
    manifest = _manifest(here, f"{export}.csv")

    code, out, err = run_cli(capsys, "validate", str(manifest))
    if export in TWO_PHONES:  # two phone columns: the error names both and the line to add
        both, first = TWO_PHONES[export]
        assert code == 1 and out == ""
        assert err.splitlines() == [
            f"{export}.csv:1: 2 columns could be the phone: {both}; say which by adding, next "
            f'to numbers_csv: numbers_csv_columns: {{phone: "{first}"}}'
        ]
        with manifest.open("a") as fh:
            fh.write(f"    {_fix_line(err)}\n")
        code, out, err = run_cli(capsys, "validate", str(manifest))
    assert code == 0, err
    assert out == "1 file, 1 campaign, 2 numbers: valid\n"
    assert re.fullmatch(
        rf"{export}\.csv:1: warning: campaigns\[0\]\.numbers_csv: ignores \d+ columns? that fills? "
        r"no field: .*\n",
        err,
    ), err

    [camp] = load_manifests([manifest]).campaigns
    got = [(c.phone, c.first_name, c.last_name, c.company, c.title) for c in _contacts(camp)]
    assert got == [
        ("+16507991144", "Joey", "Smith", "Acme", "Buyer"),
        ("+14155550105", "Rita", "Moreno", "Globex", "Head of Sales"),
    ]
    for fmt in ("text", "markdown"):
        code, out, err = run_cli(capsys, "plan", "--format", fmt, str(manifest))
        assert code == 0, err
        assert "+1 650-799-1144" in out or "+16507991144" in out, out


def _contacts(camp: DesiredCampaign) -> list[Contact]:
    return [n.contact for n in camp.numbers]


def test_hubspot_details_land_in_their_fields(here: Path) -> None:
    shutil.copy(CONTACTS / "hubspot.csv", here / "h.csv")
    manifest = _manifest(here, "h.csv", '    numbers_csv_columns: {phone: "Mobile phone number"}\n')
    (here / "h.csv").write_text(
        (CONTACTS / "hubspot.csv").read_text().splitlines()[0]
        + "\n51,Joey,Smith,joey@example.com,,+1 650-799-1150,Buyer,Acme,1 Main St,Palo Alto,CA,"
        "94301,United States,Ana Lee,New,2026-03-02\n"
    )
    [number] = load_manifests([manifest]).campaigns[0].numbers
    c = number.contact
    assert (c.phone, c.email, c.line1, c.city, c.region, c.postal_code, c.country) == (
        "+16507991150",
        "joey@example.com",
        "1 Main St",
        "Palo Alto",
        "CA",
        "94301",
        "United States",
    )


@pytest.mark.parametrize(
    "header",
    ["phone number,EMAIL ADDRESS", "PhoneNumber,Email_Address", "Phone-Number , e.mail address"],
)
def test_aliases_match_in_any_case_and_punctuation(
    here: Path, capsys: pytest.CaptureFixture[str], header: str
) -> None:
    (here / "n.csv").write_text(f"{header}\n+16507991144,a@b.co\n")
    code, out, err = run_cli(capsys, "validate", str(_manifest(here, "n.csv")))
    assert (code, out, err) == (0, "1 file, 1 campaign, 1 number: valid\n", "")
    [number] = load_manifests(["m.yaml"]).campaigns[0].numbers
    assert number.contact.email == "a@b.co"


def test_an_explicit_mapping_wins_over_aliases_and_ignores_the_rest(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "n.csv").write_text(
        "Phone Number,Cell,Account,Company Name,Notes\n+16507991144,+16507991150,Acme,Old Co,x\n"
    )
    manifest = _manifest(
        here, "n.csv", "    numbers_csv_columns: {phone: Cell, company: account}\n"
    )
    code, _out, err = run_cli(capsys, "validate", str(manifest))
    assert code == 0, err
    assert err == (
        'n.csv:1: warning: campaigns[0].numbers_csv: ignores 3 columns that fill no field: "Phone '
        'Number", "Company Name", "Notes"\n'
    )
    [number] = load_manifests([manifest]).campaigns[0].numbers
    assert (number.contact.phone, number.contact.company) == ("+16507991150", "Acme")


def test_a_mapping_to_a_missing_header_points_at_the_manifest(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "n.csv").write_text("Phone Number,Name\n+16507991144,x\n")
    manifest = _manifest(here, "n.csv", "    numbers_csv_columns:\n      company: Account\n")
    code, _out, err = run_cli(capsys, "validate", str(manifest))
    assert code == 1
    assert err.splitlines() == [
        'm.yaml:7:16: campaigns[0].numbers_csv_columns.company: "Account" is not a column of '
        '"n.csv"'
    ]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "    numbers_csv_columns: {phone: P, mobile: M}\n",
            'm.yaml:5:37: campaigns[0].numbers_csv_columns.mobile: unknown key "mobile"',
        ),
        (
            "    numbers_sheet: Contacts\n",
            "m.yaml:3:5: campaigns[0]: numbers_sheet needs numbers_csv (it says how to read that file)",
        ),
    ],
)
def test_mapping_keys_are_checked(
    here: Path, capsys: pytest.CaptureFixture[str], extra: str, message: str
) -> None:
    path = here / "m.yaml"
    body = "version: 1\ncampaigns:\n  - name: a\n    pitch: x\n" + extra
    if "numbers_csv_columns" in extra:
        body = "version: 1\ncampaigns:\n  - name: a\n    numbers_csv: n.csv\n" + extra
        (here / "n.csv").write_text("P,M\n+16507991144,+16507991150\n")
    path.write_text(body)
    code, _out, err = run_cli(capsys, "validate", str(path))
    assert code == 1
    assert err.splitlines()[0].startswith(message), err


def test_own_names_stay_strict(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (here / "n.csv").write_text("phone,first_name,emial\n+16507991144,Joey,j@x.co\n")
    code, _out, err = run_cli(capsys, "validate", str(_manifest(here, "n.csv")))
    assert code == 1
    assert err.splitlines() == ['n.csv:1:3: unknown column "emial"; did you mean email?']


def test_a_repeated_own_name_is_two_candidates(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "n.csv").write_text("phone,First Name,first_name\n+16507991144,Joey,J\n")
    code, _out, err = run_cli(capsys, "validate", str(_manifest(here, "n.csv")))
    assert code == 1
    assert err.splitlines() == [
        'n.csv:1: 2 columns could be the first_name: "First Name" (column 2) and "first_name" '
        "(column 3); say which by adding, next to numbers_csv: numbers_csv_columns: "
        '{first_name: "First Name"}'
    ]


def test_no_phone_column_quotes_nothing_and_shows_the_mapping(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "n.csv").write_text("Cell number,Given name,Notes\n+16507991144,Joey,VIP\n")
    code, _out, err = run_cli(capsys, "validate", str(_manifest(here, "n.csv")))
    assert code == 1
    assert err.splitlines() == [
        "n.csv:1: no phone column found among the header's 3 columns: name it phone, use a "
        "known export's header, or map it next to numbers_csv: numbers_csv_columns: "
        '{phone: "<header of the phone column>"}'
    ]
    manifest = _manifest(here, "n.csv", '    numbers_csv_columns: {phone: "Cell number"}\n')
    code, _out, err = run_cli(capsys, "validate", str(manifest))
    assert code == 0 and err == (
        'n.csv:1: warning: campaigns[0].numbers_csv: ignores 1 column that fills no field: "Notes"\n'
    )


def test_every_alias_is_in_the_reference_with_its_export() -> None:
    reference = (ROOT / "docs" / "manifest.md").read_text()
    for alias in ALIASES:
        assert f"| `{alias.header}` | `{alias.field}` | {alias.source} |" in reference
    keys = [header_key(a.header) for a in ALIASES]
    assert len(set(keys)) == len(keys) and not set(keys) & set(OWN_NAMES)


def test_the_entry_point_other_keys_read_through(here: Path) -> None:
    """read_contacts_file is the one reader: another key (do_not_call_csv) gets the same
    rules, with its own name in the messages."""
    from upcall_sync.errors import Location
    from upcall_sync.manifest.contacts_file import ContactsFile, read_contacts_file
    from upcall_sync.manifest.contacts_header import ContactsRef

    (here / "dnc.csv").write_text("Phone 1 - Value,Given Name\n+16507991144,Joey\n")
    (here / "notes.csv").write_text("secret\nHunter2\n")
    at = Location("m.yaml", 5, 22)

    def read(written: str) -> ContactsFile:
        ref = ContactsRef(
            manifest=here / "m.yaml",
            written=written,
            at=at,
            ref="do_not_call_csv",
            key="do_not_call_csv",
        )
        return read_contacts_file(ref, here, {"phone_region": None}, {})

    good = read("dnc.csv")
    assert [n.contact.phone for n in good.numbers] == ["+16507991144"]
    assert good.problems == [] and good.warnings == [] and len(good.digest) == 32
    bad = read("notes.csv")
    [problem] = bad.problems
    assert str(problem) == (
        "notes.csv:1: no phone column found among the header's 1 column (a title above the "
        "header? The header must be the first row): name it phone, use a "
        "known export's header, or map it next to do_not_call_csv: do_not_call_csv_columns: "
        '{phone: "<header of the phone column>"}'
    )
    assert bad.numbers == [] and bad.digest == b""
    [refused] = read(".env").problems
    assert str(refused) == (
        'm.yaml:5:22: do_not_call_csv: ".env" is not a contacts file: do_not_call_csv reads '
        ".csv, .tsv, .txt or .xlsx files (the file is not read)"
    )


def test_two_columns_of_one_header_are_named_not_read_by_position(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two columns headed "Phone": a mapping to "Phone" cannot say which to dial, so it is
    an error (it read the first, and ignored the other with a warning); the message
    without a mapping does not suggest that mapping."""
    (here / "n.csv").write_text("Phone,Phone,First Name\n+16507991144,+16507991145,Joey\n")
    code, _out, err = run_cli(capsys, "validate", str(_manifest(here, "n.csv")))
    assert code == 1
    [line] = err.splitlines()
    assert line.startswith('n.csv:1: 2 columns could be the phone: "Phone" (column 1) and')
    assert "rename the one to read" in line and '{phone: "Phone"}' not in line
    path = _manifest(here, "n.csv", "    numbers_csv_columns: {phone: Phone}\n")
    code, _out, err = run_cli(capsys, "validate", str(path))
    assert code == 1
    assert err.splitlines() == [
        'm.yaml:6:34: campaigns[0].numbers_csv_columns.phone: "Phone" names 2 columns of '
        '"n.csv" (column 1 and column 2): rename one in the file, so that the mapping says '
        "which to read"
    ]
    # "Phone" and "phone" differ: the mapping names one
    (here / "n.csv").write_text("Phone,phone,First Name\n+16507991144,+16507991145,Joey\n")
    path = _manifest(here, "n.csv", "    numbers_csv_columns: {phone: phone}\n")
    code, _out, err = run_cli(capsys, "validate", str(path))
    assert code == 0, err
    [campaign] = load_manifests([path]).campaigns
    assert [n.contact.phone for n in campaign.numbers] == ["+16507991145"]


def test_a_title_row_above_the_header_is_named_as_such_quoting_nothing(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A report exported with its title (or a merged cell) above the header: line 1 is
    one cell then empty ones. The message says what that looks like, quoting nothing."""
    (here / "n.csv").write_text(
        "Q3 call list,,\nFirst Name,Last Name,Phone\nJoey,Smith,+16507991144\n"
    )
    code, _out, err = run_cli(capsys, "validate", str(_manifest(here, "n.csv")))
    assert code == 1
    [line] = err.splitlines()
    assert line.startswith(
        "n.csv:1: no phone column found among the header's 1 column (one cell, then empty "
        "ones: a title above the header, or a merged cell? The header must be the first row)"
    )
    assert "Q3" not in line


def test_a_title_row_of_one_cell_alone_above_the_header_is_named_too(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A workbook's title row holds one cell and nothing after it (b68: a Salesforce report
    saved as .xlsx): the row is one column wide, yet the hint is the same."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["Q3 call list"])
    sheet.append(["First Name", "Last Name", "Phone"])
    sheet.append(["Joey", "Smith", "+16507991144"])
    book.save(here / "n.xlsx")
    code, _out, err = run_cli(capsys, "validate", str(_manifest(here, "n.xlsx")))
    assert code == 1
    [line] = err.splitlines()
    assert "no phone column found among the header's 1 column (a title above the header? " in (line)
    assert "Q3" not in line
