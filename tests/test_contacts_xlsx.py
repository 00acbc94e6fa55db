"""`.xlsx` contacts files (issue 22, item 3), written by the tests with openpyxl and read
through the real CLI: phones as text and as numbers, a second sheet, a zip bomb."""

from __future__ import annotations

import struct
import time
import zlib
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from upcall_sync.emulator import Emulator
from upcall_sync.errors import Location
from upcall_sync.manifest import load_manifests

from .conftest import run_cli

HEADER = ["Record ID", "Phone Number", "First Name", "Company Name"]
ROWS: list[list[Any]] = [
    [1, "+1 650-799-1144", "Joey", "Acme"],  # text, as typed with a +
    [2, 16507991145, "Ana", "Globex"],  # a number: Excel dropped nothing here but the +
    [3, 4155550105.0, "Rita", "Initech"],  # a number stored as a float
]


def _workbook(
    path: Path, rows: list[list[Any]] = ROWS, second: list[list[Any]] | None = None
) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Contacts"
    for row in [HEADER, *rows]:
        sheet.append(row)
    if second is not None:
        other = book.create_sheet("Q4 list")
        for row in [["phone", "first_name"], *second]:
            other.append(row)
    book.save(path)
    return path


def _manifest(here: Path, extra: str = "", region: str = "phone_region: US\n") -> Path:
    path = here / "m.yaml"
    path.write_text(
        f"version: 1\n{region}campaigns:\n  - name: sheet\n    numbers_csv: n.xlsx\n{extra}"
    )
    return path


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_phones_as_text_and_as_numbers(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _workbook(here / "n.xlsx")
    code, out, err = run_cli(capsys, "validate", str(_manifest(here)))
    assert code == 0, err
    assert out == "1 file, 1 campaign, 3 numbers: valid\n"
    assert err.splitlines() == [
        "n.xlsx:Contacts!1:1: warning: campaigns[0].numbers_csv: ignores 1 column that fills no "
        'field: "Record ID"',
        "n.xlsx:Contacts!B3: warning: campaigns[0].numbers_csv: 2 phone cells are stored as "
        "numbers (B3, B4), which drops a leading + or 0: read as national numbers of "
        "phone_region US; format the column as text to keep phones as written",
    ]
    [camp] = load_manifests(["m.yaml"]).campaigns
    assert [(n.contact.phone, n.contact.first_name, str(n.source)) for n in camp.numbers] == [
        ("+16507991144", "Joey", "n.xlsx:Contacts!2:2"),
        ("+16507991145", "Ana", "n.xlsx:Contacts!3:3"),
        ("+14155550105", "Rita", "n.xlsx:Contacts!4:4"),
    ]


def test_a_numeric_phone_without_a_region_is_an_error_at_its_cell(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _workbook(here / "n.xlsx")
    code, out, err = run_cli(capsys, "validate", str(_manifest(here, region="")))
    assert code == 1 and out == ""
    assert err.splitlines()[:2] == [
        "n.xlsx:Contacts!B3: phone: 16507991145 is stored as a number, which drops a leading + "
        "or 0; format the column as text, or set phone_region to read it as a national number",
        "n.xlsx:Contacts!B4: phone: 4155550105 is stored as a number, which drops a leading + "
        "or 0; format the column as text, or set phone_region to read it as a national number",
    ]


def test_errors_point_at_the_cell(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _workbook(here / "n.xlsx", [*ROWS, [4, "+1 555", "X", "Y"]])
    code, _out, err = run_cli(capsys, "validate", str(_manifest(here)))
    assert code == 1
    assert err.splitlines() == ['n.xlsx:Contacts!B5: phone: "+1 555" is not a valid phone number']


def test_numbers_sheet_reads_the_second_sheet(
    here: Path, capsys: pytest.CaptureFixture[str], cli_env: Emulator
) -> None:
    _workbook(here / "n.xlsx", second=[["+44 20 7183 8750", "Jo"], ["+61 2 9374 4000", "Kim"]])
    manifest = _manifest(here, "    numbers_sheet: Q4 list\n")
    code, out, err = run_cli(capsys, "validate", str(manifest))
    assert (code, out, err) == (0, "1 file, 1 campaign, 2 numbers: valid\n", "")
    [camp] = load_manifests([manifest]).campaigns
    assert [str(n.source) for n in camp.numbers] == ["n.xlsx:'Q4 list'!2:2", "n.xlsx:'Q4 list'!3:3"]
    code, out, err = run_cli(capsys, "plan", str(manifest))
    assert code == 0, err
    assert "+442071838750" in out or "+44 20 7183 8750" in out


def test_a_missing_sheet_is_named_from_the_manifest_only(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _workbook(here / "n.xlsx", second=[])
    code, _out, err = run_cli(capsys, "validate", str(_manifest(here, "    numbers_sheet: Q5\n")))
    assert code == 1
    assert err.splitlines() == [
        'm.yaml:5:18: campaigns[0].numbers_csv: "n.xlsx" has no sheet named "Q5" (it has 2 '
        "sheets; numbers_sheet must match a name exactly, case and spaces included)"
    ]
    assert "Q4" not in err and "Contacts" not in err


def test_numbers_sheet_on_a_csv_is_an_error(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (here / "n.csv").write_text("phone\n+16507991144\n")
    path = here / "m.yaml"
    path.write_text(
        "version: 1\ncampaigns:\n  - name: a\n    numbers_csv: n.csv\n    numbers_sheet: X\n"
    )
    code, _out, err = run_cli(capsys, "validate", str(path))
    assert code == 1
    assert err.splitlines() == [
        'm.yaml:4:18: campaigns[0].numbers_csv: "n.csv" is not a .xlsx workbook, so '
        "numbers_sheet cannot apply to it"
    ]


def write_zip_bomb(path: Path, megabytes: int) -> None:
    """A real zip whose one sheet inflates to `megabytes` MB of zeros (about 1 KB per MB):
    deflate blocks of 1 MB of zeros, each ended by a full flush, so they concatenate."""
    chunk = bytes(1 << 20)
    squeeze = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = squeeze.compress(chunk) + squeeze.flush(zlib.Z_FULL_FLUSH)
    assert squeeze.compress(chunk) + squeeze.flush(zlib.Z_FULL_FLUSH) == block
    data = block * megabytes + squeeze.flush()
    crc = 0
    for _ in range(megabytes):
        crc = zlib.crc32(chunk, crc)
    size, name = megabytes << 20, b"xl/worksheets/sheet1.xml"
    sizes = (crc, len(data), size, len(name))
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, *sizes, 0) + name
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, *sizes, 0, 0, 0, 0, 0, 0
    )
    end = struct.pack(
        "<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central) + len(name), len(local) + len(data), 0
    )
    path.write_bytes(local + data + central + name + end)


def test_a_zip_bomb_is_refused_before_it_is_opened(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import zipfile

    write_zip_bomb(here / "n.xlsx", 600)
    with zipfile.ZipFile(here / "n.xlsx") as archive:  # a real one: it would inflate
        assert archive.infolist()[0].file_size == 600 << 20
        with archive.open("xl/worksheets/sheet1.xml") as part:
            assert part.read(1 << 20) == bytes(1 << 20)
    assert (here / "n.xlsx").stat().st_size < 1024 * 1024
    started = time.monotonic()
    code, _out, err = run_cli(capsys, "validate", str(_manifest(here)))
    assert code == 1
    assert err.splitlines() == [
        'm.yaml:5:18: campaigns[0].numbers_csv: "n.xlsx" would unzip to 600 MB, over the 512 MB '
        "limit for a workbook (a zip bomb, or a workbook to split)"
    ]
    assert time.monotonic() - started < 5  # refused from the zip directory, not inflated


def test_a_workbook_over_the_size_cap_is_refused(
    here: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from upcall_sync.manifest import csvload

    monkeypatch.setattr(csvload, "MAX_CSV_BYTES", 1024)
    _workbook(here / "n.xlsx")
    code, _out, err = run_cli(capsys, "validate", str(_manifest(here)))
    assert code == 1
    assert "over the 0 MB limit for a numbers_csv" in err


def test_a_workbook_outside_the_checkout_is_refused(
    here: Path, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = _workbook(tmp_path_factory.mktemp("elsewhere") / "n.xlsx")
    (here / "n.xlsx").symlink_to(outside)
    code, _out, err = run_cli(capsys, "validate", str(_manifest(here)))
    assert code == 1
    assert err.splitlines()[0].startswith(
        'm.yaml:5:18: campaigns[0].numbers_csv: "n.xlsx" is outside the working directory'
    )


def test_a_workbook_applies_through_a_saved_plan_and_converges(
    here: Path, capsys: pytest.CaptureFixture[str], cli_env: Emulator
) -> None:
    """plan --out, apply FILE, then plan again: no changes (the acceptance pattern)."""
    _workbook(here / "n.xlsx")
    manifest = _manifest(here)
    plan_file = here / "sheet.plan"
    code, out, err = run_cli(capsys, "plan", "--out", str(plan_file), str(manifest))
    assert code == 0, err
    code, out, err = run_cli(capsys, "apply", "--auto-approve", str(plan_file))
    assert code == 0, out + err
    code, out, err = run_cli(capsys, "plan", "--detailed-exitcode", str(manifest))
    assert code == 0, out + err
    phones = {r["phone"] for r in cli_env.store.sql("SELECT phone FROM list_contacts")}
    assert {"+16507991144", "+16507991145", "+14155550105"} <= phones


@pytest.mark.parametrize(
    "location",
    [
        Location("n.xlsx", 7, 3, "Sheet1"),
        Location("dir/n.xlsx", 12, 28, "Q4 list"),
        Location("n.xlsx", 2, 0, "it's"),
        Location("a:b.xlsx", 1, 702, "S"),
        Location("n.csv", 7, 3),
        Location("n.csv", 7),
        Location("m.yaml"),
    ],
)
def test_a_cell_location_reads_back_from_its_text(location: Location) -> None:
    """Saved plans hold locations as text: a sheet's cell comes back as the same place."""
    assert Location.parse(str(location)) == location
    assert str(Location("n.xlsx", 7, 3, "Sheet1")) == "n.xlsx:Sheet1!C7"
    assert str(Location("n.xlsx", 1, 702, "Q4 list")) == "n.xlsx:'Q4 list'!ZZ1"


def test_a_postal_code_stored_as_a_number_is_named(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (["phone", "postal_code"], ["+16507991144", 2134], ["+16507991145", "02134"]):
        sheet.append(row)
    book.save(here / "n.xlsx")
    code, out, err = run_cli(capsys, "validate", str(_manifest(here)))
    assert (code, out) == (0, "1 file, 1 campaign, 2 numbers: valid\n"), err
    assert err.splitlines() == [
        "n.xlsx:Sheet!B2: warning: campaigns[0].numbers_csv: 1 postal code or extension cell is "
        "stored as a number (B2), which drops leading zeros (02134 reads 2134): format the "
        "column as text and type them again if any had one"
    ]
    codes = [n.contact.postal_code for n in load_manifests(["m.yaml"]).campaigns[0].numbers]
    assert codes == ["2134", "02134"]


@pytest.mark.parametrize("state", ["hidden", "veryHidden"])
def test_a_hidden_first_sheet_is_not_read_unnamed(
    here: Path, capsys: pytest.CaptureFixture[str], state: str
) -> None:
    """Excel opens on the visible tabs: a hidden first sheet (an old list kept out of
    sight) is not what a reviewer of the workbook sees, so it is never dialed unnamed."""
    _workbook(here / "n.xlsx", second=[["+44 20 7183 8750", "Jo"]])
    book = openpyxl.load_workbook(here / "n.xlsx")
    book["Contacts"].sheet_state = state
    book.active = 1
    book.save(here / "n.xlsx")
    code, out, err = run_cli(capsys, "validate", str(_manifest(here)))
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        'm.yaml:5:18: campaigns[0].numbers_csv: "n.xlsx" has a hidden first sheet, so the '
        "first sheet a spreadsheet app shows is another one: say which sheet to read with "
        "numbers_sheet: (its name exactly, case and spaces included)"
    ]
    assert "Contacts" not in err and "Q4" not in err
    code, out, err = run_cli(
        capsys, "validate", str(_manifest(here, "    numbers_sheet: Q4 list\n"))
    )
    assert (code, out, err) == (0, "1 file, 1 campaign, 1 number: valid\n", "")
    code, out, err = run_cli(
        capsys, "validate", str(_manifest(here, "    numbers_sheet: Contacts\n"))
    )
    assert code == 0 and "hidden" not in err, err  # named, a hidden sheet is read as asked


def test_a_phone_cell_formatted_as_a_date_is_one_line_and_no_python_warning(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A phone stored as a number in a date-formatted column made openpyxl print its own
    `UserWarning: Cell A2 is marked as a date but the serial value ...` with its source
    path on stderr, around the one-line error."""
    import warnings

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Contacts"
    sheet.append(["phone", "first_name"])
    sheet.append([16507991144, "Joey"])
    sheet["A2"].number_format = "yyyy-mm-dd"
    book.save(here / "n.xlsx")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, out, err = run_cli(capsys, "validate", str(_manifest(here)))
    assert [str(w.message) for w in caught] == []
    assert (code, out) == (1, "")
    assert err.splitlines()[0].startswith("n.xlsx:Contacts!A2: phone: "), err


def test_blank_rows_above_a_sheets_header_are_skipped(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A table that starts at row 3 said `no phone column found among the header's 0
    columns`, at row 1."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Contacts"
    sheet["A3"], sheet["B3"] = "phone", "first_name"
    sheet["A4"], sheet["B4"] = "+1 650 799 1144", "Joey"
    sheet["A5"], sheet["B5"] = "+1 555", "Ana"
    book.save(here / "n.xlsx")
    code, out, err = run_cli(capsys, "validate", str(_manifest(here)))
    assert (code, out) == (1, "")
    assert err.splitlines()[0] == 'n.xlsx:Contacts!A5: phone: "+1 555" is not a valid phone number'


def test_a_cell_stored_as_a_date_is_named_not_read_as_its_iso_text(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Excel turns `1-2` typed in a cell into a date: such a cell was read as
    `2024-01-02T00:00:00` and sent as the person's name or postal code."""
    import datetime

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (
        ["phone", "first_name", "postal_code", "line2"],
        ["+16507991144", datetime.datetime(2024, 1, 2), datetime.date(2020, 3, 4), "x"],
        ["+16507991145", "Ana", "02134", datetime.time(12, 30)],
        ["+16507991146", "Rita", "02135", "Apt 3/4"],
    ):
        sheet.append(row)
    book.save(here / "n.xlsx")
    code, out, err = run_cli(capsys, "validate", str(_manifest(here)))
    assert (code, out) == (1, "")
    why = (
        "the workbook stores this cell as a date or time, which no contact field is (a "
        "spreadsheet app turns what was typed, such as 1-2 or 3/4, into a date); format the "
        "column as text, type the value again and save the file"
    )
    assert err.splitlines() == [
        f"n.xlsx:Sheet!B2: first_name: {why}",
        f"n.xlsx:Sheet!C2: postal_code: {why}",
        f"n.xlsx:Sheet!D3: line2: {why}",
        "error: 3 problems found in the manifests",
    ]
