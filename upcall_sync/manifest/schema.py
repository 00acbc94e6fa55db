"""The manifest's JSON Schema and its reference page, both generated from the model.

`schema/manifest.schema.json` and `docs/manifest.md` are committed copies of
what these functions return; tests fail when they drift.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from upcall_sync.manifest.aliases import ALIASES
from upcall_sync.manifest.csvload import MAX_CSV_BYTES
from upcall_sync.manifest.spec import (
    CSV_COLUMNS,
    AddressSpec,
    CampaignSpec,
    ColumnsSpec,
    DefaultsSpec,
    ManifestSpec,
    NumberSpec,
    SafetySpec,
)
from upcall_sync.manifest.xlsxload import MAX_XLSX_UNZIPPED_BYTES

SCHEMA_URL = "https://json-schema.org/draft/2020-12/schema"


def manifest_schema() -> dict[str, Any]:
    schema = ManifestSpec.model_json_schema(mode="validation")
    return {"$schema": SCHEMA_URL, **schema}


def schema_text() -> str:
    return json.dumps(manifest_schema(), indent=2, sort_keys=False) + "\n"


def _type_of(info: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in info:
        return f"mapping ({info['$ref'].rsplit('/', 1)[-1]})"
    if "anyOf" in info:
        kinds = [_type_of(x, defs) for x in info["anyOf"] if x.get("type") != "null"]
        return " or ".join(dict.fromkeys(kinds))
    if "enum" in info:
        values = info["enum"]
        if len(values) > 8:
            return "region code"
        return " \\| ".join(f"`{v}`" for v in values)
    if "const" in info:
        return f"`{json.dumps(info['const'])}`"
    kind = info.get("type", "any")
    if kind == "array":
        return f"list of {_type_of(info.get('items', {}), defs)}"
    if kind == "string" and info.get("format") == "date-time":
        return "datetime with offset"
    return {"string": "text", "integer": "whole number", "number": "number"}.get(kind, str(kind))


def _section(model: type[BaseModel], title: str, defs: dict[str, Any]) -> list[str]:
    schema = model.model_json_schema(mode="validation")
    props = schema.get("properties", {})
    required = set(schema.get("required", []))
    lines = [f"### {title}", "", (model.__doc__ or "").strip(), ""]
    lines += ["| key | type | required | description |", "| --- | --- | --- | --- |"]
    for name, info in props.items():
        desc = (info.get("description") or "").replace("|", "\\|")
        default = info.get("default")
        if default not in (None, [], {}) and "default" in info:
            desc = f"{desc} Default: `{default}`.".strip()
        needed = "yes" if name in required else "no"
        lines.append(f"| `{name}` | {_type_of(info, defs)} | {needed} | {desc} |")
    return [*lines, ""]


def reference_markdown() -> str:
    """docs/manifest.md: every key of the format, from the model itself."""
    defs = manifest_schema().get("$defs", {})
    out = list(_INTRO)
    for model, title in (
        (ManifestSpec, "Top level"),
        (DefaultsSpec, "`defaults`"),
        (CampaignSpec, "`campaigns[]`"),
        (NumberSpec, "`campaigns[].numbers[]`"),
        (AddressSpec, "`campaigns[].numbers[].address`"),
        (ColumnsSpec, "`campaigns[].numbers_csv_columns`"),
        (SafetySpec, "`safety`"),
    ):
        out += _section(model, title, defs)
    out += _CSV_SECTION
    return "\n".join(out)


_INTRO = [
    "# Manifest reference (format version 1)",
    "",
    "<!-- Generated from upcall_sync/manifest/spec.py by "
    "`python -m upcall_sync.manifest.schema --docs`; tests fail if it drifts. -->",
    "",
    "A manifest is a YAML file (or a directory of them; a symlink out of the directory, or",
    "out of the checkout on the way to a path named inside it, is an error, and so are a",
    "`*.yaml` symlink in the directory that leads nowhere, a folder in it that cannot be",
    "listed, and a symlinked folder in it holding manifests (or over 20,000 entries, too",
    "big to search), which is not followed unless",
    "the directories holding them are named too, as a link up to `..` over the directories",
    "named is fine). Campaigns from all files merge;",
    "`contact_list`, `prune_scope`, `safety` and `patch` must agree across files that set them.",
    "Text must be text: quote values YAML would read as numbers or booleans",
    '(`postal_code: "02134"`, `country: "NO"`). `${VAR}` in any text takes the environment',
    "variable's value (an unset variable is an error); `$${` writes a literal `${`.",
    "A manifest may not read credentials: `${UPCALL_AUTH_TOKEN}`, `${UPCALL_AUTH_TOKEN_FILE}`,",
    "any name holding `TOKEN`, `SECRET`, `PASSWORD`, `PASSPHRASE`, `CREDENTIAL`, `API_KEY`,",
    "`JWT`, `BEARER`, `AUTHORIZATION` or `NETRC` (`GITHUB_TOKEN`, `PGPASSWORD`, GitLab's",
    "`CI_JOB_JWT_V2`) or with a word such as `KEY(S)`, `PASS`, `PWD`, `PAT`, `CRED(S)`,",
    "`AUTH`, `DSN`, `WEBHOOK`, `PRIVATE` or `HMAC` (`STRIPE_KEY`,",
    "`SSH_KEYS`, `SLACK_WEBHOOK_URL`), any variable whose value holds the auth token, any whose",
    "value is a URL with credentials (`postgres://user:pw@host/db`,",
    "`https://ghp_x@github.com/o/r`; not `ssh://git@...`), and any whose value looks like a",
    "credential whatever its name (a JWT, a PEM private key, a token with a known service's",
    "prefix: `ghp_`, `ghs_`, `github_pat_`, GitLab's `glpat-`, `glcbt-`, `gldt-`, `glrt-` ...,",
    "`xoxb-`, `xapp-`, an AWS key id (`AKIA` and 16 more), `sk_live_`, `whsec_`,",
    "`npm_`, `AIza`, `ya29.`, SendGrid's `SG.`, HubSpot's `pat-na1-`, Twilio's `SK`, `sk-proj-`,",
    "`sk-ant-`; an Azure SAS `sig=` or `AccountKey=`, a `Bearer` credential) are",
    "errors, since manifest values are printed in plans and PR comments. A list of",
    "secret-looking names always misses one (`SONAR_LOGIN`, `SALT`): in CI, set",
    "`UPCALL_MANIFEST_ENV` in the job (never in a manifest) to the only variables a manifest",
    "may read, names or globs separated by commas, semicolons or spaces",
    "(`STAGE, CAMPAIGN_*`; empty: none), and every other `${VAR}` is an error too.",
    "",
    "Datetimes are ISO 8601 with `Z` or an offset (`2026-07-11T09:00:00-07:00`). The API",
    "writes them as `YYYY-MM-DDTHH:MM:SS.mmmZ`, so a datetime must fall, in UTC, within the",
    "years 1000 to 9999 (`0999-07-11T09:00:00Z` is an error, and so is",
    "`9999-12-31T23:00:00-05:00`, which is year 10000 in UTC).",
    "",
    'An optional value written `""` means what `null` means (a datetime or an email too);',
    "`name`, `id`, `contact_list` and `prune_scope` must not be empty.",
    "",
    "`validate` warns, without failing, about what is valid but likely wrong: a campaign",
    "whose `status` is `ready` while the manifests give it no numbers cannot dial",
    "(`file:line: warning: ...` on stderr, exit status 0).",
    "",
    "A campaign field left out (after `defaults`) is **not managed**: plans never change it.",
    "Contact details are managed as a whole: a detail left out means empty.",
    "",
]
_CSV_SECTION = [
    "### `numbers_csv` files",
    "",
    "A contacts file: a `.csv`, `.tsv` or `.txt` text file or a `.xlsx` workbook (the key",
    "keeps its name), with a header row, then one number per row. A file of another name is",
    "refused unread; a workbook named `.csv` (or an Excel 97-2003 `.xls` under either name),",
    "or a CSV file named `.xlsx`, is an error that says so. Errors point at the file's own",
    "lines (`n.csv:7:3`) or cells",
    "(`n.xlsx:Sheet1!C7`), or a whole row as spreadsheets write one (`n.xlsx:Sheet1!7:7`,",
    "for a problem of the row, not of one cell; a sheet name with spaces is quoted:",
    "`'Q3 list'!C7`). Empty rows are skipped; an empty cell is an empty value. A header",
    "cell without a name before the last named one is an error, and so is a cell past",
    "the last named one that holds anything (a header padded with empty cells, `phone,,`).",
    "",
    "Headers say which column fills which contact field, in one of three ways:",
    "",
    "- **The project's own names**: "
    + ", ".join(f"`{c}`" for c in CSV_COLUMNS)
    + " (address parts by bare name), in any order, all but `phone` optional.",
    "  A file of own names is strict: an unknown column is an error (likely a typo).",
    "- **A known export's headers, as saved** (the table below): a HubSpot, Salesforce or",
    "  Google Contacts export validates without renaming a column.",
    "- **An explicit mapping**, `numbers_csv_columns`, next to `numbers_csv`: contact field to",
    "  header, e.g. `{phone: Mobile Phone Number, company: Account}`. It wins over own",
    "  names and aliases.",
    "",
    "Headers match in any case, with punctuation and spaces ignored (`First Name`,",
    "`first_name` and `FirstName` are one name; `E-mail 1 - Value` is `email1value`).",
    "A file read through an alias or a mapping ignores the columns that fill no field",
    "(`Record ID`, `Lead Status`, ...), with a warning naming them. Two columns that could",
    "fill one field are an error naming both and the line to add, e.g. for HubSpot's",
    '`numbers_csv_columns: {phone: "Phone Number"}`; in a `do_not_call_csv`, every',
    "phone column is read instead (and Google's `Phone 2 - Value` ..., Salesforce's",
    "`HomePhone` and `OtherPhone`, and any header that ends in `Phone`, `Phone Number` or",
    "`Mobile`, then perhaps a number, or in `Phone - Work` (`- Home`, `- Mobile`, `- Other`):",
    "Outlook's `Business Phone`, `Home Phone 2`, `Car Phone`, HubSpot's `WhatsApp Phone",
    "Number`, Pipedrive's `Person - Phone - Work`; not a `Phone 1 - Type`, a fax or a",
    "`Phone Extension`): a person opted out on each of their phones.",
    "",
    "**Nothing of a file's content is quoted until it has proven to be a contacts file**:",
    "a contacts-file name and a phone column found by its own name, an alias or the",
    "mapping. Until then an error names the file, row and column number only: a",
    "`numbers_csv` pointed at `.env` or a token file prints none of it. A file with no",
    "phone column is an error giving its column count and showing `numbers_csv_columns`.",
    "Afterwards too, a phone or email cell that does not even look like one is not quoted",
    "(a mapping can make any file whose header its author knows a contacts file).",
    "",
    "| header, as the export writes it | field | export it comes from |",
    "| --- | --- | --- |",
    *(f"| `{a.header}` | `{a.field}` | {a.source} |" for a in ALIASES),
    "",
    "Exports name other columns with our own names already (HubSpot's and Google's",
    "`First Name`, `Last Name`, `Email`, `City`; Salesforce's `FirstName`, `LastName`,",
    "`Title`, `Phone`, `Email`). Google's `Phone 2 - Value` and later ones are ignored",
    "in a `numbers_csv`: map one of them to dial it instead. A cell where Google joined",
    "a contact's phones (`+1 650 ... ::: +1 415 ...`) is an error saying so: keep one",
    "phone per row (a `do_not_call_csv` lists each of them instead).",
    "",
    "Text files are read as they come: the delimiter is the most frequent of `,`, `;` and",
    "tab on the header line (`,` when none is there or on a tie), or the one Excel's first",
    "line `sep=;` names; empty columns at the end of the header (`,,`) and their cells are",
    "ignored, and so are empty cells past the header's last column and blank lines (or a",
    "sheet's blank rows) above the header; a UTF-8 byte order mark is dropped, and UTF-16",
    "with its byte order mark",
    '(Excel\'s "Unicode Text" .txt, older Google Contacts exports) is read too.',
    "Text in another encoding is an error unless the manifest names it beside the file:",
    '`numbers_csv_encoding: windows-1252` (Excel\'s "CSV (Comma delimited)" in western',
    "Europe and the Americas) or `iso-8859-1` (Salesforce Classic's exports); also",
    "`windows-1250` to `-1258`, `iso-8859-2` to `-16`, `mac-roman`, `cp437`, `cp850`,",
    "`koi8-r`, `koi8-u`, `shift_jis`, `cp932`, `euc-jp`, `gb18030`, `gbk`, `big5`, `euc-kr`,",
    "`cp949` (by any name Python gives them), and `do_not_call_csv_encoding` for a",
    "`do_not_call_csv`. A byte that is no character of it is an error naming the line;",
    "a file that starts with a Unicode byte order mark is one too (it is not in that",
    "encoding); a `.xlsx` workbook takes no encoding (it holds Unicode).",
    'Quotes follow RFC 4180 (`""` inside a quoted field); an unterminated quote is an',
    "error naming the line it opened on.",
    "",
    "A `.xlsx` workbook is read through openpyxl in read-only mode: its first sheet, or",
    "`numbers_sheet: NAME`. A hidden first sheet is not read unless named: the first tab",
    "a spreadsheet app shows is another, so the file asks for `numbers_sheet`.",
    "A first sheet that is empty or has no phone column (a `Read me` tab before the table)",
    "is an error that counts the workbook's sheets and shows the `numbers_sheet` line.",
    "A row the sheet hides (by hand, in a collapsed group, by a filter, or at a height",
    "of 0: under 0.75 point, less than a pixel) that holds anything is an error naming",
    "the hidden rows, above the table too",
    "(there it would have been read as the header: the header is the first row shown).",
    "So is a column the sheet hides (or shows at a width of 0: under 0.1 character, a",
    "pixel at most, or the sheet's default width of 0 for a column given none) that is",
    "read as a field and holds anything below the header: nobody reviewing the workbook",
    "sees whom it would dial, so unhide it or delete it (one line for the column: its",
    "cells' own errors, which would quote them, wait until it is shown). So are merged",
    "cells over a column read as a field, from the header's row down, or over a header",
    "cell that names a column: an app shows the first cell's value across them, while",
    "each cell is read as saved (empty, or a value nobody sees); unmerge them and fill",
    "each cell. Merged cells over rows that are all blank (a template's block under the",
    "table) show nothing and read nothing: they are fine. Cells of a column read as a",
    "field whose number format shows nothing of what they hold (`;;;`, the apps' own way",
    "to hide a cell's content; `;0`, whose empty first section hides every positive",
    'number; or a section that writes only a literal such as `"-"` in the value\'s',
    "place), from the header's row down, are an error too. A",
    "`do_not_call_csv` workbook reads its hidden rows and columns, and every cell as",
    "saved, like the others: each is one more person not to call.",
    "Cells stored as numbers lose what Excel drops (a leading `+`",
    "or `0`): a phone cell stored as a number is read as a national number of",
    "`phone_region`, with a warning naming the cells (without `phone_region`, an error);",
    "postal codes and extensions stored as numbers are named in a warning too (`02134`",
    'reads `2134`). A number whose format shows a `+` before its digits (`"+"0`, `+0`,',
    '`"+1 "000-000-0000`: how a sheet keeps a phone\'s `+` on a number) is read as shown,',
    "`+14155550132`, not as a national number (which dialed another country's number).",
    "A cell stored as a date or time (how a spreadsheet app keeps `1-2` or `3/4` as typed)",
    "is an error naming it: no contact field is a date.",
    "A phone written in scientific notation (`1.65E+10`: how a spreadsheet shows a long",
    "number, and how a CSV saved from that view stores it) has lost its last digits; it is",
    "an error that says so, and is never read as a phone. A workbook written by a script",
    "holds formulas without their results; an empty phone cell that holds one is named as",
    "such (open and save the workbook in Excel or LibreOffice, or paste values); one whose",
    'saved result is an empty text (`=IFERROR(VLOOKUP(...),"")`) is an empty cell.',
    "A workbook whose parts would unzip to more than "
    f"{MAX_XLSX_UNZIPPED_BYTES // 1024 // 1024} MB is refused before it",
    "is opened (a zip bomb), and so is one with a part over 1 MB that would unzip to more",
    "than 100 times its compressed size (Apache POI's zip-bomb rule), or whose XML holds",
    "more row elements, or a row",
    "numbered higher, than Excel's 1,048,576 rows: a few kilobytes of crafted XML would",
    "otherwise keep the reader busy for minutes and gigabytes. Reading stops, with the",
    "same refusal, past 67,108,864 cells (each row counted up to its last cell); a cell",
    "beyond the header's last column is counted, not read.",
    "",
    f"A contacts file may be at most {MAX_CSV_BYTES // 1024 // 1024} MB; text files are "
    "read as a stream, so",
    "memory holds their numbers, not the file.",
    "",
    "The path is relative to its manifest and must, after symlinks, lie inside the working",
    "directory (run upcall-sync from the checkout): `../data/q3.csv` is fine, an absolute",
    "path, a `../..` that leaves the checkout or a symlink to elsewhere is an error that",
    "shows none of the file's content. It must be a regular file (not a FIFO, a device or",
    "a directory).",
    "",
]

if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.stdout.write(reference_markdown() if "--docs" in sys.argv else schema_text())
