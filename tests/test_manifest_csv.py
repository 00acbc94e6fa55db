"""numbers_csv as spreadsheets export it (issue 15, items 1 and 2), through `validate`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from upcall_sync.manifest import contacts_file, csvload, files, load_manifests
from upcall_sync.manifest.load import load_what_validates

from .conftest import run_cli

MANIFEST = "version: 1\ncampaigns:\n  - name: a\n    numbers_csv: n.csv\n"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.yaml").write_text(MANIFEST)
    return tmp_path


def _validate(capsys: pytest.CaptureFixture[str], here: Path, csv_bytes: bytes) -> tuple[int, str]:
    (here / "n.csv").write_bytes(csv_bytes)
    code, out, err = run_cli(capsys, "validate", "m.yaml")
    return code, out + err


@pytest.mark.parametrize(
    "text",
    [
        "Phone;First Name;Last-Name;Postal-Code;;\r\n+16507991144;Joey;Smith;02134;;\r\n"
        "+1 650 799 1145;Ana;Lee;94536;;\r\n",
        "PHONE\tfirst name\tLAST_NAME\tpostal code\n+16507991144\tJoey\tSmith\t02134\n"
        "+1 650 799 1145\tAna\tLee\t94536\n",
        "\ufeffphone,First_Name,last name,Postal Code,,\n+16507991144,Joey,Smith,02134\n"
        '"+1 650 799 1145","Ana","Lee","94536",,\n',
    ],
    ids=["semicolon-excel", "tab", "comma-with-bom-and-empty-columns"],
)
def test_spreadsheet_exports_are_read(
    here: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    code, output = _validate(capsys, here, text.encode())
    assert code == 0, output
    assert output == "1 file, 1 campaign, 2 numbers: valid\n"
    [camp] = load_manifests(["m.yaml"]).campaigns
    contacts = [n.contact for n in camp.numbers]
    assert [(c.phone, c.first_name, c.last_name, c.postal_code) for c in contacts] == [
        ("+16507991144", "Joey", "Smith", "02134"),
        ("+16507991145", "Ana", "Lee", "94536"),
    ]
    assert [n.source.line for n in camp.numbers] == [2, 3]


def test_a_comma_inside_a_semicolon_file_is_data(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = _validate(capsys, here, b"phone;company\n+16507991144;Acme, Inc.\n")
    assert code == 0, output
    assert load_manifests(["m.yaml"]).campaigns[0].numbers[0].contact.company == "Acme, Inc."


def test_an_unterminated_quote_names_the_line_it_opened_on(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = 'phone,company\n+16507991144,"Acme\nWest"\n+16507991145,"Unclosed\n+16507991146,x\n'
    code, output = _validate(capsys, here, text.encode())
    assert code == 1
    assert output.splitlines() == [
        'n.csv:4: unterminated quoted field: the " opened on this line is never closed'
    ]


def test_a_header_cell_without_a_name_is_named(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = _validate(capsys, here, b"phone,,first_name\n+16507991144,,Joey\n")
    assert code == 1
    said = "n.csv:1:2: column 2 has no name in the header: name it, or delete the column"
    assert said in output.splitlines()


def test_a_cell_past_the_last_named_header_cell_is_an_error_also_when_the_header_is_padded(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A header padded with empty cells (`phone,first_name,,`, as exports save it) made
    room for cells it names no field for: a phone there was dropped without a word, and
    in a do_not_call_csv the person was called (found by helper b69). Without the
    padding, the row is "row has 3 cells" already."""
    code, output = _validate(capsys, here, b"phone,first_name,,\n+16507991144,Joey,,+1650799\n")
    assert code == 1
    assert output.splitlines() == [
        "n.csv:2:4: column 4 has no name in the header, but this row holds something "
        "there: name the column, or empty the cell",
    ]
    (here / "m.yaml").write_text("version: 1\ndo_not_call_csv: n.csv\ncampaigns: []\n")
    (here / "n.csv").write_text("Phone,,\n+16507991144,,+16507991145\n")
    code, out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 1
    assert "n.csv:2:3: column 3 has no name in the header" in out + err


def test_cells_under_a_named_column_still_count(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = _validate(capsys, here, b"phone,first_name,,\n+16507991144,Joey,x,y,z\n")
    assert code == 1
    assert "n.csv:2: row has 5 cells but the header has 2" in output.splitlines()


def test_a_csv_over_the_cap_is_refused_with_the_figure(
    here: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csvload, "MAX_CSV_BYTES", 1024 * 1024)
    rows = "".join(f"+1650{k:07d},F{k}\n" for k in range(60_000))
    code, output = _validate(capsys, here, ("phone,first_name\n" + rows).encode())
    assert code == 1
    assert output.splitlines() == [
        'm.yaml:4:18: campaigns[0].numbers_csv: "n.csv" is 1.1 MB, over the 1 MB limit for a '
        "numbers_csv (split it across campaigns or files)"
    ]


def test_a_do_not_call_csv_refused_for_its_size_or_kind_is_named_so(
    here: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An opt-out list over the cap was told as "the limit for a numbers_csv (split it
    across campaigns or files)", a folder as "a numbers_csv must be a CSV file": the key
    is do_not_call_csv, and opt-out lists add up across manifest files, not campaigns."""
    monkeypatch.setattr(csvload, "MAX_CSV_BYTES", 1024 * 1024)
    (here / "optouts.csv").write_bytes(b"phone\n" + b"+16505550100\n" * 90_000)
    (here / "folder.csv").mkdir()
    for name, says in [
        (
            "optouts.csv",
            "is 1.1 MB, over the 1 MB limit for a do_not_call_csv (split it across manifest files)",
        ),
        ("folder.csv", "is a directory; a do_not_call_csv must be a CSV file"),
    ]:
        (here / "m.yaml").write_text(
            f"version: 1\ndo_not_call_csv: {name}\ncampaigns:\n  - name: a\n"
        )
        code, out, err = run_cli(capsys, "validate", "m.yaml")
        assert code == 1
        assert (out + err).splitlines() == [f'm.yaml:2:18: do_not_call_csv: "{name}" {says}']


@pytest.mark.parametrize("name", ["n.csv", "n.xlsx"])
def test_a_contacts_file_that_grows_while_read_is_cut_at_the_cap(
    here: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Its size is checked when it is opened; one that another process appends to faster
    than it is read would never end: no byte past the cap is read (helper b61)."""
    monkeypatch.setattr(csvload, "MAX_CSV_BYTES", 1024 * 1024)
    opened = contacts_file.open_regular_file

    def grows(path: Path, max_bytes: int, key: str) -> Any:
        fh = opened(path, max_bytes, key)
        with path.open("ab") as writer:  # a writer beside the reader, after the check
            writer.write(b"+16505550100,Grown\n" * 120_000)
        return fh

    monkeypatch.setattr(contacts_file, "open_regular_file", grows)
    manifest = here / "m.yaml"
    manifest.write_text(manifest.read_text().replace("n.csv", name))
    (here / name).write_bytes(b"phone,first_name\n+16507991144,Joey\n")
    code, out, err = run_cli(capsys, "validate", "m.yaml")
    assert code == 1
    message = f'"{name}" grew past the 1 MB limit for a numbers_csv while it was read'
    assert (out + err).splitlines() == [f"m.yaml:4:18: campaigns[0].numbers_csv: {message}"]


def test_no_byte_past_the_cap_is_read_whoever_reads(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"a\n" * 10)
    with files.open_regular(path, 20) as fh:  # at the cap: read whole, seek and read again
        assert fh.read() == b"a\n" * 10
        fh.seek(0)
        assert list(fh) == [b"a\n"] * 10
    for read in (lambda fh: fh.read(), list, lambda fh: fh.read(1000)):
        with files.open_regular(path, 20) as fh:
            with path.open("ab") as writer:  # it grows after the size check
                writer.write(b"b\n" * 10_000)
            with pytest.raises(files.TooLarge):
                read(fh)
        path.write_bytes(b"a\n" * 10)


def test_blank_lines_above_the_header_are_skipped_and_lines_stay_true(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A blank first line said "CSV is empty: it needs a header row" of a file with a
    header and rows below it."""
    code, output = _validate(capsys, here, b"\n\r\n \nphone,first_name\n+16507991144,Joey\n")
    assert (code, output) == (0, "1 file, 1 campaign, 1 number: valid\n")
    code, output = _validate(capsys, here, b"\n\nphone,first_name\n+1555,Joey\n")
    assert output.splitlines()[0] == 'n.csv:4:1: phone: "+1555" is not a valid phone number'
    code, output = _validate(capsys, here, b"\n\nFoo,Bar\n+16507991144,Joey\n")
    assert output.splitlines()[0].startswith("n.csv:3: no phone column found"), output
    code, output = _validate(capsys, here, b"\n\n")
    assert output.splitlines()[0] == "n.csv:1:1: CSV is empty: it needs a header row"


def test_a_header_after_a_sep_line_is_named_at_its_own_line(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = _validate(capsys, here, b"sep=;\nphone;Bogus\n+16507991144;Joey\n")
    assert code == 1
    assert output.splitlines()[0].startswith('n.csv:2:2: unknown column "Bogus"'), output


def test_empty_cells_past_the_header_are_padding(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`+1...,Joey,,,` under a two-column header holds nothing more: read, as a workbook's
    empty cells past its header are."""
    code, output = _validate(capsys, here, b"phone,first_name\n+16507991144,Joey,,, \n")
    assert (code, output) == (0, "1 file, 1 campaign, 1 number: valid\n")


def test_a_campaign_with_a_mistake_still_has_its_csv_checked(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every problem in one run (octoDNS collects every reason): a campaign entry with a
    slip of its own hid its numbers_csv's problems until the slip was fixed (helper b62).
    Its numbers are still not kept: the entry is refused."""
    (here / "m.yaml").write_text(
        "version: 1\ncampaigns:\n  - name: A\n    pich: hi\n    numbers_csv: n.csv\n"
    )
    code, output = _validate(capsys, here, b"phone,first_name\n+1555,Joey\n+16507991144,Ana\n")
    assert code == 1
    assert output.splitlines()[:2] == [
        'm.yaml:4:5: campaigns[0].pich: unknown key "pich"; did you mean pitch?',
        'n.csv:2:1: phone: "+1555" is not a valid phone number',
    ]
    state, problems = load_what_validates(["m.yaml"])  # a refused apply's stops
    assert len(problems) == 2
    assert [(c.name, c.numbers) for c in state.campaigns] == [("A", ())]
    # a CSV read the wrong way is not read at all: its keys must validate on their own
    (here / "m.yaml").write_text(
        "version: 1\ncampaigns:\n  - name: A\n    pich: hi\n    numbers_csv: n.csv\n"
        "    numbers_csv_encoding: klingon\n"
    )
    code, output = _validate(capsys, here, b"phone,first_name\n+1555,Joey\n")
    assert code == 1 and "+1555" not in output


def test_many_header_cells_without_a_name_are_one_line(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a sheet formatted out to a far column saves thousands of empty header cells
    # before a last named one: one line says so, not one line per column
    header = "phone,first_name," + "," * 2000 + "notes"
    code, output = _validate(capsys, here, f"{header}\n+16507991144,Joey\n".encode())
    assert code == 1
    assert output.splitlines()[:2] == [
        "n.csv:1:3: 2,000 columns have no name in the header: 3, 4, 5, 6, 7, 8, 9, 10 and "
        "1,992 more; name them, or delete those columns",
        'n.csv:1:2003: unknown column "notes"; expected one of phone, extension, first_name, '
        "last_name, title, company, email, recipient, line1, line2, city, region, "
        "postal_code, country",
    ]
