"""A contacts file in another encoding than UTF-8, named beside it
(`numbers_csv_encoding`, `do_not_call_csv_encoding`): Excel's "CSV (Comma delimited)"
writes the system's code page (windows-1252 in western Europe and the Americas), and
Salesforce Classic exports ISO-8859-1 unless told otherwise. Such a file was refused
until it was saved again as UTF-8."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from upcall_sync.manifest import load_manifests

from .conftest import run_cli

# René Müller and Zoë €uro, as windows-1252 writes them (€ is 0x80 there, not in latin-1)
CP1252 = b"phone,first_name,last_name\r\n+14155550132,Ren\xe9,M\xfcller\r\n+14155550133,Zo\xeb,\x80uro\r\n"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _manifest(here: Path, extra: str = "", file: str = "n.csv") -> Path:
    path = here / "m.yaml"
    path.write_text(
        f"version: 1\ncampaigns:\n  - name: Q3\n    numbers_csv: {file}\n" + extra,
        encoding="utf-8",
    )
    return path


def _names(path: Path) -> list[tuple[str, str]]:
    [campaign] = load_manifests([path]).campaigns
    return [(n.contact.first_name or "", n.contact.last_name or "") for n in campaign.numbers]


@pytest.mark.parametrize("written", ["windows-1252", "cp1252", "Windows-1252", '"1252"'])
def test_a_windows_1252_export_is_read_once_its_encoding_is_named(
    here: Path, capsys: pytest.CaptureFixture[str], written: str
) -> None:
    (here / "n.csv").write_bytes(CP1252)
    path = _manifest(here, f"    numbers_csv_encoding: {written}\n")
    code, _out, err = run_cli(capsys, "validate", str(path))
    assert (code, err) == (0, ""), err
    assert _names(path) == [("René", "Müller"), ("Zoë", "€uro")]


def test_without_its_encoding_the_file_is_refused_with_the_key_that_names_it(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "n.csv").write_bytes(CP1252)
    code, out, err = run_cli(capsys, "validate", str(_manifest(here)))
    assert code == 1 and out == ""
    assert err.splitlines() == [
        "n.csv:2: CSV is not UTF-8 text (save it as UTF-8; spreadsheet apps call it 'CSV "
        "UTF-8'; or name its encoding: numbers_csv_encoding: windows-1252 (or the one it was "
        "saved in))"
    ]


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        (  # 0x81 is no character of windows-1252
            b"phone,first_name\n+14155550132,Ann\n+14155550133,A\x81b\n",
            "    numbers_csv_encoding: windows-1252\n",
            "n.csv:3: CSV is not windows-1252 text (numbers_csv_encoding): a byte on this line "
            "is not a character of it",
        ),
        (  # a byte order mark: the file is Unicode, whatever the manifest says
            b"\xef\xbb\xbfphone\n+14155550132\n",
            "    numbers_csv_encoding: iso-8859-1\n",
            "n.csv:1: CSV starts with a Unicode byte order mark, but numbers_csv_encoding says "
            "it is iso-8859-1: remove numbers_csv_encoding, or save the file in that encoding",
        ),
        (
            b"\xff\xfep\x00h\x00o\x00n\x00e\x00\n\x00",
            "    numbers_csv_encoding: iso-8859-1\n",
            "n.csv:1: CSV starts with a Unicode byte order mark, but numbers_csv_encoding says "
            "it is iso-8859-1: remove numbers_csv_encoding, or save the file in that encoding",
        ),
        (  # not a text encoding at all, or not one whose lines end at a newline byte
            CP1252,
            "    numbers_csv_encoding: utf-7\n",
            'm.yaml:5:27: campaigns[0].numbers_csv_encoding: "utf-7" is not an encoding a '
            "contacts file may name",
        ),
        (
            CP1252,
            "    numbers_csv_encoding: base64\n",
            'm.yaml:5:27: campaigns[0].numbers_csv_encoding: "base64" is not an encoding',
        ),
        (
            CP1252,
            "    numbers_csv_encoding: utf-16\n",
            'm.yaml:5:27: campaigns[0].numbers_csv_encoding: "utf-16" is not an encoding',
        ),
    ],
)
def test_a_named_encoding_is_held_to(
    here: Path, capsys: pytest.CaptureFixture[str], content: bytes, extra: str, message: str
) -> None:
    (here / "n.csv").write_bytes(content)
    code, out, err = run_cli(capsys, "validate", str(_manifest(here, extra)))
    assert code == 1 and out == ""
    assert err.splitlines()[0].startswith(message), err


def test_the_key_needs_a_text_file_beside_it(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = here / "m.yaml"
    path.write_text("version: 1\ncampaigns:\n  - name: Q3\n    numbers_csv_encoding: cp1252\n")
    code, _out, err = run_cli(capsys, "validate", str(path))
    assert code == 1 and err.splitlines()[0] == (
        "m.yaml:3:5: campaigns[0]: numbers_csv_encoding needs numbers_csv (it says how to "
        "read that file)"
    )
    book = openpyxl.Workbook()
    book.active.append(["phone"])
    book.active.append(["+14155550132"])
    book.save(here / "n.xlsx")
    path = _manifest(here, "    numbers_csv_encoding: cp1252\n", file="n.xlsx")
    code, _out, err = run_cli(capsys, "validate", str(path))
    assert code == 1 and err.splitlines()[0] == (
        'm.yaml:4:18: campaigns[0].numbers_csv: "n.xlsx" is a .xlsx workbook, which holds '
        "Unicode text: numbers_csv_encoding applies to .csv, .tsv and .txt files only"
    )


def test_a_do_not_call_csv_names_its_own_encoding(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An opt-out list saved by Excel on Windows: without its encoding it is refused,
    naming the do-not-call key; with it, the listed person is left out."""
    (here / "n.csv").write_text("phone,first_name\n+14155550132,Ann\n+14155550133,Bea\n")
    (here / "optout.csv").write_bytes(b"Phone,First Name\r\n+1 415 555 0133,Zo\xeb\r\n")
    path = _manifest(here, "do_not_call_csv: optout.csv\n")
    code, _out, err = run_cli(capsys, "validate", str(path))
    assert code == 1 and "do_not_call_csv_encoding: windows-1252" in err.splitlines()[0], err
    path = _manifest(here, "do_not_call_csv: optout.csv\ndo_not_call_csv_encoding: cp1252\n")
    code, _out, err = run_cli(capsys, "validate", str(path))
    assert code == 1, err  # the listed number is in a campaign: validate names it
    assert "+14155550133" in err and "do-not-call" in err, err
    assert "not UTF-8" not in err


@pytest.mark.parametrize("extra", ["", "    numbers_csv_encoding: cp1252\n"])
def test_a_workbook_named_csv_is_told_so_whatever_its_first_line_decodes_to(
    here: Path, capsys: pytest.CaptureFixture[str], extra: str
) -> None:
    """A zip's first bytes up to a newline byte may decode (NULs and all, as the
    timestamps in it fall): it was then called UTF-16 without its byte order mark (or,
    with an encoding named, read as text); a fresh-clone suite run failed on it."""
    (here / "n.csv").write_bytes(b"PK\x03\x04\x14\x00\x00\x00\x08\x00\n" + b"\x00\xff" * 40)
    code, out, err = run_cli(capsys, "validate", str(_manifest(here, extra)))
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "n.csv:1: CSV is not UTF-8 text: it is a zip file, as a .xlsx workbook is; open it "
        "in the spreadsheet app and save it as 'CSV UTF-8', or name a .xlsx workbook .xlsx"
    ]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (b"Ren\xe9", "n.csv:4: CSV is not UTF-8 text (save it as UTF-8;"),
        (b"Ren\x00", "n.csv:4: CSV is not UTF-8 text: it holds NUL bytes, as UTF-16 does"),
    ],
)
def test_a_bad_byte_in_an_old_mac_file_is_told_at_its_line(
    here: Path, capsys: pytest.CaptureFixture[str], bad: bytes, message: str
) -> None:
    # \r alone ends each line (classic Mac OS, and some exporters still): the whole file is
    # one line up to a newline byte, and the error named line 1 (helper b61)
    rows = [b"phone,first_name", b"+14155550132,Ana", b"+14155550133,Bo", b"+14155550134," + bad]
    (here / "n.csv").write_bytes(b"\r".join(rows) + b"\r")
    code, out, err = run_cli(capsys, "validate", str(_manifest(here)))
    assert code == 1 and out == ""
    assert err.splitlines()[0].startswith(message), err


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_a_bad_unit_deep_in_a_utf16_file_is_told_at_its_line(
    here: Path, capsys: pytest.CaptureFixture[str], codec: str
) -> None:
    # the decoder reads thousands of bytes ahead of the line: a lone surrogate on line
    # 901 was told at line 689 (helper b61)
    lines = ["phone\tfirst_name"] + [f"+1415556{i:04d}\tN{i}" for i in range(2000)]
    bom, lone = ("\ufeff".encode(codec), "\udc00".encode(codec, "surrogatepass"))
    units = [line.encode(codec) for line in lines]
    units[900] += lone
    (here / "n.csv").write_bytes(bom + "\r\n".encode(codec).join(units))
    code, out, err = run_cli(capsys, "validate", str(_manifest(here)))
    assert code == 1 and out == ""
    assert err.splitlines()[0].startswith("n.csv:901: CSV is not UTF-8 text, nor UTF-16"), err
