"""Contact sources as teams have them, tried by helper b55: exports whose phone columns
no alias names, and files saved under the other kind's name."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import run_cli

_CAMPAIGN = """campaigns:
  - name: a
    numbers:
      - {phone: "+1 312 555 0176", first_name: Marcus}
"""

#: an Outlook contacts export's phone columns (of its ~90), as it writes them
_OUTLOOK = (
    '"First Name","Last Name","E-mail Address","Primary Phone","Home Phone","Home Phone 2",'
    '"Mobile Phone","Company Main Phone","Business Phone","Business Phone 2","Business Fax",'
    '"Other Phone","Car Phone"'
)


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("header", "row"),
    [
        (
            _OUTLOOK,
            '"Marcus","Bell","m@x.com","","","","+1 415 555 0100","",'
            '"(312) 555-0176","","(312) 555-0999","",""',
        ),
        (_OUTLOOK, '"Marcus","Bell","","","","","","","","","","","312.555.0176"'),
        ("First Name,Phone Number,WhatsApp Phone Number", "Marcus,+1 415 555 0100,3125550176"),
        (
            "Person - Name,Person - Phone - Work,Person - Phone - Mobile",
            "Marcus,+1 415 555 0100,+1 312 555 0176",
        ),
    ],
)
def test_every_phone_column_of_an_export_is_a_do_not_call_phone(
    here: Path, capsys: pytest.CaptureFixture[str], header: str, row: str
) -> None:
    """Outlook's `Business Phone` or `Car Phone`, HubSpot's `WhatsApp Phone Number`,
    Pipedrive's `Person - Phone - Work`: a person who opted out listed them too. They were
    ignored with a warning (cut to its first 8 columns: `... and 28 more`), validate said
    valid, and plan dialed the opted-out person's business phone."""
    (here / "optouts.csv").write_text(f"{header}\r\n{row}\r\n")
    (here / "m.yaml").write_text(
        "version: 1\nphone_region: US\ndo_not_call_csv: optouts.csv\n" + _CAMPAIGN
    )
    code, _out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 1, err
    assert (
        'm.yaml:7:9: numbers: +13125550176 (Marcus) in campaign "a" is on the do-not-call '
        "list (+13125550176 at optouts.csv:2); remove it from the campaign"
    ) in err.splitlines(), err


def test_a_phone_type_label_or_fax_column_is_not_read_as_a_phone(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only columns that hold a phone are read: Google's `Phone 1 - Type`, a fax, a
    `Phone Extension` stay ignored (with the warning naming them)."""
    (here / "optouts.csv").write_text(
        "Name,Phone 1 - Type,Phone 1 - Value,Business Fax,Phone Extension,Mobile opt-in\n"
        "Marcus,Mobile,+1 312 555 0176,+1 415 555 0999,12,Yes\n"
    )
    (here / "m.yaml").write_text(
        "version: 1\ndo_not_call_csv: optouts.csv\n"
        + _CAMPAIGN.replace("312 555 0176", "312 555 0177")
    )
    code, _out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 0, err
    assert err.splitlines() == [
        "optouts.csv:1: warning: do_not_call_csv: ignores 5 columns that fill no field: "
        '"Name", "Phone 1 - Type", "Business Fax", "Phone Extension", "Mobile opt-in"'
    ]


def _plus_workbook(path: Path, number_format: str, value: int) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["phone", "first_name"])
    sheet.append([value, "Marcus"])
    sheet["A2"].number_format = number_format
    book.save(path)


@pytest.mark.parametrize(
    ("number_format", "value"),
    [('"+"0', 13125550176), ("+0", 13125550176), ('"+1 "000-000-0000', 3125550176)],
)
def test_a_number_shown_with_its_plus_is_read_as_shown(
    here: Path, capsys: pytest.CaptureFixture[str], number_format: str, value: int
) -> None:
    """A sheet that keeps a phone's `+` with a number format (`"+"0`) shows
    `+13125550176`; read as a national number of phone_region DE, plan dialed
    +4913125550176, with a warning that the `+` was dropped (it was not). In a
    do-not-call file the opt-out covered that other number, and the real one was dialed."""
    _plus_workbook(here / "people.xlsx", number_format, value)
    (here / "m.yaml").write_text(
        "version: 1\nphone_region: DE\ncampaigns:\n  - name: a\n    numbers_csv: people.xlsx\n"
    )
    code, out, err = run_cli(capsys, "validate", "m.yaml")
    assert (code, err) == (0, ""), err
    assert out == "1 file, 1 campaign, 1 number: valid\n"
    (here / "m.yaml").write_text(
        "version: 1\nphone_region: DE\ndo_not_call_csv: people.xlsx\n" + _CAMPAIGN
    )
    code, _out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 1
    assert err.splitlines() == [
        'm.yaml:7:9: numbers: +13125550176 (Marcus) in campaign "a" is on the do-not-call '
        "list (+13125550176 at people.xlsx:Sheet!2:2); remove it from the campaign"
    ]


def test_a_number_without_a_plus_in_its_format_is_still_national(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`00000 000000` (a UK sheet's leading 0 kept by format) shows no `+`: read as a
    national number of phone_region, with the warning."""
    _plus_workbook(here / "people.xlsx", "00000 000000", 7700900123)
    (here / "m.yaml").write_text(
        "version: 1\nphone_region: GB\ncampaigns:\n  - name: a\n    numbers_csv: people.xlsx\n"
    )
    code, _out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 0
    assert "1 phone cell is stored as a number (A2)" in err


_XLS = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("people.csv", None, "people.csv:1: CSV is not UTF-8 text: it is a zip file, as a .xlsx"),
        ("people.csv", _XLS, "people.csv:1: CSV is not UTF-8 text: it is an Excel 97-2003 (.xls)"),
        ("people.xlsx", _XLS, "it is an Excel 97-2003 (.xls) workbook; save it as .xlsx"),
        (
            "people.xlsx",
            "\ufeffphone,first_name\r\n+1 312 555 0176,Marcus\r\n".encode(),
            "it is text (a CSV file named .xlsx?); name it .csv",
        ),
    ],
)
def test_a_file_saved_under_the_other_kind_s_name_is_told_so(
    here: Path, capsys: pytest.CaptureFixture[str], name: str, content: bytes | None, says: str
) -> None:
    """A workbook renamed .csv was told to be saved 'as UTF-8' (it is no text at all), a
    CSV renamed .xlsx to be saved again from the spreadsheet app; neither said what the
    file is. Still one line, quoting none of the file."""
    if content is None:
        _plus_workbook(here / "book.xlsx", "General", 13125550176)
        content = (here / "book.xlsx").read_bytes()
    (here / name).write_bytes(content)
    (here / "m.yaml").write_text(
        f"version: 1\nphone_region: US\ncampaigns:\n  - name: a\n    numbers_csv: {name}\n"
    )
    code, _out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 1
    assert len(err.splitlines()) == 1 and says in err, err
    assert "3125550176" not in err and "Marcus" not in err


def test_an_opt_out_list_reads_only_phones_and_extensions(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A HubSpot opt-out export whose email says `n/a`, or an Outlook one with its `Title`
    and `Job Title`, stopped validate and plan (every campaign, not one call stopped) over
    a column no opt-out is read for."""
    (here / "optouts.csv").write_text(
        "First Name,Title,Job Title,Email,Phone Number,Zip code\n"
        "Marcus,Mr.,CTO,n/a,+1 312 555 0176,ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\n"
    )
    (here / "m.yaml").write_text("version: 1\ndo_not_call_csv: optouts.csv\n" + _CAMPAIGN)
    code, _out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 1
    assert err.splitlines() == [
        'm.yaml:6:9: numbers: +13125550176 (Marcus) in campaign "a" is on the do-not-call '
        "list (+13125550176 at optouts.csv:2); remove it from the campaign"
    ]


@pytest.mark.parametrize("inside", ["\u2028", "\x0b", "\x1e", "\x85"])
def test_old_mac_line_ends_cut_a_line_at_a_cr_only(
    here: Path, capsys: pytest.CaptureFixture[str], inside: str
) -> None:
    """A file of old Mac line ends (`\\r` alone) was cut into lines by str.splitlines,
    which also ends a line at U+2028, a vertical tab, \\x1e or NEL: a name holding one
    became two rows, and the error named a line 3 the file does not have."""
    (here / "people.csv").write_text(
        f"phone,first_name\r+1 312 555 0176,Mar{inside}cus\r+1 555,Bo\r", newline=""
    )
    (here / "m.yaml").write_text(
        "version: 1\ncampaigns:\n  - name: a\n    numbers_csv: people.csv\n"
    )
    code, _out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 1
    assert err.splitlines() == ['people.csv:3:1: phone: "+1 555" is not a valid phone number']


@pytest.mark.parametrize("first", [["How to fill this workbook"], None])
def test_a_workbook_whose_first_sheet_holds_no_table_points_at_numbers_sheet(
    here: Path, capsys: pytest.CaptureFixture[str], first: list[str] | None
) -> None:
    """A `Read me` or empty `Summary` tab before `Contacts`: the error said to name a
    phone column, or that the sheet is empty, never that the workbook has other sheets
    and numbers_sheet reads one (naming no sheet: they are content)."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Read me"
    if first is not None:
        sheet.append(first)
    contacts = book.create_sheet("Contacts")
    contacts.append(["phone", "first_name"])
    contacts.append(["+1 312 555 0176", "Marcus"])
    book.save(here / "people.xlsx")
    hint = (
        "; the workbook has 2 sheets and this is its first: to read another, add next to "
        "numbers_csv: numbers_sheet: <the sheet's name>"
    )
    manifest = "version: 1\ncampaigns:\n  - name: a\n    numbers_csv: people.xlsx\n"
    (here / "m.yaml").write_text(manifest)
    code, _out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 1
    assert len(err.splitlines()) == 1 and err.rstrip("\n").endswith(hint), err
    assert "Read me" not in err and "Contacts" not in err
    (here / "m.yaml").write_text(manifest + "    numbers_sheet: Contacts\n")
    code, _out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 0, err


def test_a_salesforce_report_footer_is_one_cell_a_line_that_says_so(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Salesforce's Export Details writes a footer under the table (blank lines, its
    copyright, 'Generated By'): each line read 'row has 1 cells but the header has 4'."""
    (here / "report.csv").write_text(
        '"First Name","Last Name","Mobile","Contact ID"\n'
        '"Marcus","Bell","(312) 555-0176","003xx"\n'
        '""\n""\n"Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved."\n'
        '"Generated By:  Jo Doe  12/1/2026 10:00 AM"\n'
    )
    (here / "m.yaml").write_text(
        "version: 1\nphone_region: US\ncampaigns:\n  - name: a\n    numbers_csv: report.csv\n"
    )
    code, _out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 1
    said = "row has 1 cell but the header has 4 (a line of text, such as a report's footer: "
    assert err.splitlines()[:2] == [
        f"report.csv:5: {said}delete it)",
        f"report.csv:6: {said}delete it)",
    ]


def test_a_formula_whose_saved_result_is_empty_text_is_not_told_to_be_saved_again(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`=IFERROR(VLOOKUP(...),"")` that found nothing: Excel saves its result, an empty
    text (`t="str"`, `<v></v>`). It was called 'a formula whose result was never saved;
    open the workbook in Excel and save it', which changes nothing. A formula a script
    wrote, with no result (`<v/>`, no type), still is."""
    import zipfile

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["phone", "first_name"])
    sheet.append(['=IFERROR(VLOOKUP(B2,Staff!A:B,2,FALSE),"")', "Marcus"])
    sheet.append(['=IFERROR(VLOOKUP(B3,Staff!A:B,2,FALSE),"")', "Ana"])
    book.save(here / "script.xlsx")
    with (
        zipfile.ZipFile(here / "script.xlsx") as source,
        zipfile.ZipFile(here / "people.xlsx", "w") as target,
    ):
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                assert b'<c r="A2"><f>' in data
                data = data.replace(b'<c r="A2"><f>', b'<c r="A2" t="str"><f>')
                data = data.replace(
                    b'FALSE),"")</f><v /></c><c r="B2"', b'FALSE),"")</f><v></v></c><c r="B2"'
                )
            target.writestr(info, data)
    (here / "m.yaml").write_text(
        "version: 1\ncampaigns:\n  - name: a\n    numbers_csv: people.xlsx\n"
    )
    code, _out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 1
    lines = err.splitlines()
    assert lines[0] == "people.xlsx:Sheet!A2: phone: is required", err
    assert lines[1].startswith(
        "people.xlsx:Sheet!A3: phone: is a formula whose result was never saved"
    )
