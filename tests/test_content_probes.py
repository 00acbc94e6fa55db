"""Nothing of a file's content is quoted until it has proven to be a contacts file (issue 19,
item 2; issue 22): `numbers_csv` pointed at secret-looking files, through validate and
plan (text and markdown). Each run counts in the figure "file-content probes"."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pytest

from upcall_sync.emulator import Emulator

from . import figures
from .conftest import run_cli

TOKEN_35 = "ghp_Zq7XcV1bN3mK9sD2fG5hJ8kL4pQ6wE0"  # a 35-character token, as in issue 19
SECRETS = (
    "Hunter2",
    "hunter2",
    "wJalrXUt",
    "AWS_SECRET",
    "password",
    "PRIVATE KEY",
    "b3BlbnNzaC1rZXk",
    TOKEN_35[:12],
    "secret-db",
    "Sheet-of-secrets",
)
ENV = (
    "password=Hunter2!\n"
    "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
    "DB_URL=postgres://app:secret-db-password-hunter2@db/app\n"
)
KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)


def _xlsx(rows: list[list[str]], title: str = "Sheet-of-secrets") -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# name written in the manifest -> (the file's bytes, what the one error line must say)
PROBES: dict[str, tuple[bytes, str]] = {
    "../.env": (ENV.encode(), "is not a contacts file"),
    "../token.secret": (TOKEN_35.encode() + b"\n", "is not a contacts file"),
    "id_ed25519": (KEY.encode(), "is not a contacts file"),
    "link-to-env.csv": (b"", "is not a contacts file"),  # a .csv symlink to ../.env
    "secrets.csv": (ENV.encode(), "no phone column found among the header's 1 column"),
    "creds.csv": (
        b"user,password,AWS_SECRET_ACCESS_KEY\nadmin,Hunter2!,wJalrXUtnFEMI\n",
        "no phone column found among the header's 3 columns",
    ),
    "key.txt": (KEY.encode(), "no phone column found among the header's 1 column"),
    "vault.tsv": (
        b"name\tvalue\nDB_PASSWORD\tsecret-db-password-hunter2\n",
        "no phone column found among the header's 2 columns",
    ),
    "token.csv": (TOKEN_35.encode(), "no phone column found among the header's 1 column"),
    "quote.csv": (b'"password=Hunter2!,x\n', "unterminated quoted field"),
    "binary.csv": (b"\xff\xfepassword=Hunter2!\nsecret-db\n", "is not UTF-8 text"),
    "env.xlsx": (ENV.encode(), "is not a readable .xlsx workbook"),
    "sheet.xlsx": (
        _xlsx([["password", "AWS_SECRET_ACCESS_KEY"], ["Hunter2!", "wJalrXUtnFEMI"]]),
        "no phone column found among the header's 2 columns",
    ),
}


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "checkout"
    (root / "campaigns").mkdir(parents=True)
    monkeypatch.chdir(root)
    for written, (data, _message) in PROBES.items():
        if written != "link-to-env.csv":
            (root / "campaigns" / written).write_bytes(data)
    (root / "campaigns" / "link-to-env.csv").symlink_to(root / ".env")
    return root


@pytest.mark.parametrize("command", ["validate", "plan-text", "plan-markdown"])
@pytest.mark.parametrize("written", list(PROBES))
def test_a_file_that_is_no_contacts_file_is_never_quoted(
    checkout: Path,
    capsys: pytest.CaptureFixture[str],
    cli_env: Emulator,
    written: str,
    command: str,
) -> None:
    manifest = checkout / "campaigns" / "m.yaml"
    manifest.write_text(f"version: 1\ncampaigns:\n  - name: probe\n    numbers_csv: {written}\n")
    args = ["validate"] if command == "validate" else ["plan", "--format", command[5:]]

    code, out, err = run_cli(capsys, *args, str(manifest))

    figures.add("content_probes")
    leaked = [s for s in SECRETS if s in out + err]
    if leaked:
        figures.add("content_leaks")
    assert not leaked, (leaked, err)
    assert code == 1 and out == ""
    [line] = err.splitlines()[:1]
    assert PROBES[written][1] in line, err
    if "no phone column" in line:  # shows the way out
        assert 'numbers_csv_columns: {phone: "<header of the phone column>"}' in line


def test_once_a_phone_column_proves_it_values_are_quoted(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The other side of the rule: a contacts file's own errors name the bad value."""
    (checkout / "campaigns" / "n.csv").write_text("phone,first_name\n+1 555,x\n")
    manifest = checkout / "campaigns" / "m.yaml"
    manifest.write_text("version: 1\ncampaigns:\n  - name: a\n    numbers_csv: n.csv\n")
    code, _out, err = run_cli(capsys, "validate", str(manifest))
    assert code == 1
    assert err.splitlines() == ['campaigns/n.csv:2:1: phone: "+1 555" is not a valid phone number']


@pytest.mark.parametrize("command", ["validate", "plan-text", "plan-markdown"])
def test_a_mapping_onto_a_known_header_does_not_print_the_secrets_under_it(
    checkout: Path, capsys: pytest.CaptureFixture[str], cli_env: Emulator, command: str
) -> None:
    """AWS's credentials.csv has a header anyone knows. A mapping onto it makes the file a
    contacts file by definition, yet a cell that does not even look like a phone or an
    email is not quoted in the error."""
    (checkout / "campaigns" / "credentials.csv").write_text(
        "User name,Password,Access key ID,Secret access key,Console login link\n"
        "deploy,Hunter2!,AKIAEXAMPLE,wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY,https://x\n"
    )
    manifest = checkout / "campaigns" / "m.yaml"
    manifest.write_text(
        "version: 1\ncampaigns:\n  - name: probe\n    numbers_csv: credentials.csv\n"
        '    numbers_csv_columns: {phone: "Secret access key", email: Password}\n'
    )
    args = ["validate"] if command == "validate" else ["plan", "--format", command[5:]]

    code, out, err = run_cli(capsys, *args, str(manifest))

    figures.add("content_probes")
    leaked = [s for s in (*SECRETS, "AKIAEXAMPLE") if s in out + err]
    if leaked:
        figures.add("content_leaks")
    assert not leaked, (leaked, err)
    assert code == 1 and out == ""
    assert "campaigns/credentials.csv:2:4: phone: is not a valid phone number (not quoted" in err
