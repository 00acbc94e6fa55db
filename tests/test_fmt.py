"""`upcall-sync fmt` (issue 24, item 4): layout only, like `terraform fmt`.

Over examples/ and every file of the YAML test suite it accepts: the manifest loader
reads the same values before and after, every comment is kept, and a second run
changes nothing. validate's output and the plan's changes are unchanged, file:line
positions aside.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
from pathlib import Path

import pytest
import yaml
from ruamel.yaml import YAML

from upcall_sync.emulator import Emulator
from upcall_sync.manifest.fmt import comments, format_file, format_text
from upcall_sync.manifest.yamlload import YamlError, parse_yaml

from . import figures
from .conftest import FIXTURES, ROOT, run_cli

SUITE = sorted((FIXTURES / "yaml-test-suite").glob("*.yaml"))


def messy(text: str) -> str:
    """The same YAML in another layout: indented by 4, spaces after comments, no final newline."""
    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.indent(mapping=4, sequence=6, offset=4)
    rt.width = 1_000_000
    out = io.StringIO()
    rt.dump(rt.load(text), out)

    def spaced(line: str) -> str:  # not inside a block scalar, where spaces are content
        return line + "  " if "#" in line or not line.strip() else line

    return "\n".join(spaced(line) for line in out.getvalue().splitlines())


def no_positions(text: str) -> str:
    return re.sub(r"\.yaml:\d+(:\d+)?", ".yaml:L", text)


def read(text: str) -> object:
    try:
        return ("ok", parse_yaml(text, "f.yaml"))
    except YamlError as exc:
        return ("error", re.sub(r"\d+", "N", str(exc)))


def test_fmt_round_trips_the_examples(
    cli_env: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # a numbers_csv must lie inside the working directory
    ex = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", ex)
    manifest = ex / "campaigns.yaml"
    original = manifest.read_text()
    assert run_cli(capsys, "fmt", "--check", str(ex))[0] == 0  # the examples are formatted
    _, validated, _ = run_cli(capsys, "validate", str(ex))
    code, planned, err = run_cli(capsys, "plan", "--format", "json", str(ex))
    assert code == 0, err

    manifest.write_text(messy(original))
    code, out, err = run_cli(capsys, "fmt", "--check", "--diff", str(ex))
    assert code == 1 and out.splitlines()[0] == str(manifest)
    assert f"--- a/{manifest}" in out and "1 file would be reformatted" in err
    assert manifest.read_text() == messy(original)  # --check wrote nothing
    assert run_cli(capsys, "fmt", str(ex))[:2] == (0, f"{manifest}\n")
    after = manifest.read_text()
    assert after != messy(original) and after.endswith("\n") and "  \n" not in after
    assert comments(after) == comments(original) and len(comments(after)) > 10
    assert run_cli(capsys, "fmt", "--check", str(ex))[0] == 0  # a second run changes nothing
    assert no_positions(run_cli(capsys, "validate", str(ex))[1]) == no_positions(validated)
    code, out, err = run_cli(capsys, "plan", "--format", "json", str(ex))
    assert code == 0, err
    replanned = json.loads(out)
    before, again = json.loads(planned)["changes"], replanned["changes"]
    assert no_positions(json.dumps(again)) == no_positions(json.dumps(before))
    assert json.dumps(again) != json.dumps(before)  # the positions did move: a real check


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("start_datetime: null\n", "start_datetime: null\n"),
        ("a: ~\nb: NULL  # none\nc:\n", "a: ~\nb: NULL  # none\nc:\n"),
        ("-   null\n- x\n", "  - null\n  - x\n"),
        ("a: &n null\nb: *n\n", "a: null\nb: null\n"),  # an anchored null: as before
    ],
)
def test_a_null_keeps_its_spelling(text: str, expected: str) -> None:
    """ruamel writes a null in a block as nothing: `start_datetime: null` lost its word."""
    assert format_text(text) == (expected, "")


def test_an_export_passes_fmt_check(
    cli_env: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The adoption flow: export, commit, and CI's `fmt --check` (the Action's default
    for validate) must pass on what export wrote, a campaign without dates included."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.yaml").write_text(
        "version: 1\ncampaigns:\n  - name: Acme no dates\n    pitch: hi\n    status: pending\n"
    )
    assert run_cli(capsys, "apply", "--auto-approve", "-q", "m.yaml")[0] == 0
    code, out, err = run_cli(capsys, "export", "-q", "--out", "out")
    assert code == 0, err
    assert "start_datetime: null" in (tmp_path / "out" / "acme-no-dates.yaml").read_text()
    code, out, err = run_cli(capsys, "fmt", "--check", "out")
    assert (code, out) == (0, ""), err


def test_fmt_keeps_meaning_and_comments_over_the_yaml_test_suite() -> None:
    formatted = left = invalid = 0
    for path in SUITE:
        text = path.read_text()
        try:
            result = format_file(path)
        except Exception:
            invalid += 1
            continue
        if result.refused:
            left += 1
            continue
        formatted += 1
        assert read(result.after) == read(text), path.name
        assert comments(result.after) == comments(text), path.name
        assert format_text(result.after) == (result.after, ""), path.name  # idempotent
    figures.add("fmt_suite_formatted", formatted)
    assert formatted > 150 and formatted + left + invalid == len(SUITE)


def test_fmt_names_a_file_that_is_not_yaml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\nb: 3\n")
    code, out, err = run_cli(capsys, "fmt", str(bad))
    assert code == 1 and out == ""
    assert re.match(rf"{re.escape(str(bad))}:\d+:\d+: not valid YAML", err), err
    assert bad.read_text() == "a: [1, 2\nb: 3\n"


def test_a_file_that_is_not_yaml_does_not_stop_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first file that did not load ended the run: the files after it were neither
    checked nor formatted (a Helm template staged beside a manifest left the manifest as
    it was), and a second bad file was told only once the first was fixed."""
    (tmp_path / "a.yaml").write_text("version:    1\n")
    (tmp_path / "b.yaml").write_text("version: [\n")
    (tmp_path / "c.yaml").write_text("a: b: c\n")
    (tmp_path / "d.yaml").write_text("version:    1\n")
    code, out, err = run_cli(capsys, "fmt", "--check", str(tmp_path))
    assert code == 1
    assert out.splitlines() == [str(tmp_path / "a.yaml"), str(tmp_path / "d.yaml")]
    lines = err.splitlines()
    assert lines[0] == "error: 2 files would be reformatted (run `upcall-sync fmt` on them)"
    assert lines[1].startswith(f"{tmp_path / 'b.yaml'}:2:1: not valid YAML"), err
    assert lines[2].startswith(f"{tmp_path / 'c.yaml'}:1:5: not valid YAML"), err
    code, out, err = run_cli(capsys, "fmt", str(tmp_path))
    assert code == 1
    assert (tmp_path / "d.yaml").read_text() == "version: 1\n"
    assert (tmp_path / "b.yaml").read_text() == "version: [\n"


#: what a GitHub runner reads as a workflow command: a line whose first non-blank
#: characters are `::` (the Action echoes fmt's and validate's output to the job log)
_WORKFLOW_COMMAND = re.compile(r"^\s*::", re.M)


def test_file_names_cannot_start_a_workflow_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pull request's file names reach the job log: neither a line break in one nor a
    name that starts `::` may make a line the runner reads as `::error ...`."""
    monkeypatch.chdir(tmp_path)
    names = [
        "x\n::error title=Security::token leaked.yaml",
        "::error title=Security::token leaked.yaml",
        " ::stop-commands::pwned.yaml",
    ]
    for name in names:
        (tmp_path / name).write_text("version:    1\ncampaigns:\n  - name: c\n    pich: x\n")
    code, out, err = run_cli(capsys, "fmt", "--check", "--diff", ".")
    assert code == 1
    assert len(out.splitlines()) >= 3 * len(names)  # the names, and each diff's header
    assert not _WORKFLOW_COMMAND.search(out + err), out + err
    code, out, err = run_cli(capsys, "validate", ".")
    assert code == 1 and err.count("unknown key") == len(names)
    assert not _WORKFLOW_COMMAND.search(out + err), out + err
    assert "./::error title=Security::token leaked.yaml:4:5:" in err


def test_a_diff_on_a_github_runner_cannot_issue_workflow_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`fmt --diff` prints a pull request's file content: on a GitHub runner, a context
    line such as `  ::error::...` from a block scalar would be read as a workflow
    command, so the diff goes out between `::stop-commands::` and its one-time token."""
    monkeypatch.chdir(tmp_path)
    text = "campaigns:\n  - name: c\n    pitch: |\n      ::error title=X::y\nversion:    1\n"
    (tmp_path / "m.yaml").write_text(text)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    code, plain, _ = run_cli(capsys, "fmt", "--check", "--diff", ".")
    assert code == 1 and "\n       ::error title=X::y\n" in plain  # the raw context line
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    code, out, _ = run_cli(capsys, "fmt", "--check", "--diff", ".")
    assert code == 1
    commands = [line.strip() for line in out.splitlines() if line.lstrip().startswith("::")]
    stop = re.fullmatch(r"::stop-commands::([0-9a-f]{32})", commands[0])
    assert stop is not None, out
    assert commands == [commands[0], "::error title=X::y", f"::{stop[1]}::"]
    lines = out.splitlines()
    assert lines.index(commands[0]) < lines.index("       ::error title=X::y")
    assert lines[-1] == f"::{stop[1]}::"
    again = run_cli(capsys, "fmt", "--check", "--diff", ".")[1]
    assert again.splitlines()[1] != lines[1]  # a new token each time


def test_a_symlink_out_of_the_folder_is_refused_and_a_link_inside_stays_a_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """As for validate and plan: a committed `campaigns/x.yaml -> ~/.config/gh/hosts.yml`
    must not make `fmt --diff` print that file, nor `fmt` copy it into the checkout."""
    outside = tmp_path / "home"
    outside.mkdir()
    secret = outside / "hosts.yml"
    secret.write_text("github.com:\n    oauth_token:    gho_notarealtoken\n")
    checkout = tmp_path / "checkout"
    (checkout / "campaigns").mkdir(parents=True)
    monkeypatch.chdir(checkout)
    (checkout / "campaigns" / "hosts.yaml").symlink_to(secret)
    for args in (["--check", "--diff"], []):
        code, out, err = run_cli(capsys, "fmt", *args, "campaigns")
        assert code == 1 and "gho_notarealtoken" not in out + err
        assert "campaigns/hosts.yaml: is a symlink out of campaigns" in err
    assert (checkout / "campaigns" / "hosts.yaml").is_symlink()
    assert secret.read_text() == "github.com:\n    oauth_token:    gho_notarealtoken\n"
    # a link to a file inside the folder: the file is formatted, the link stays a link
    (checkout / "campaigns" / "hosts.yaml").unlink()
    (checkout / "campaigns" / "b.yaml").write_text("version:    1\ncampaigns: []\n")
    (checkout / "campaigns" / "a-link.yaml").symlink_to("b.yaml")
    code, out, err = run_cli(capsys, "fmt", "campaigns")
    assert code == 0, err
    assert (checkout / "campaigns" / "a-link.yaml").is_symlink()
    assert (checkout / "campaigns" / "b.yaml").read_text() == "version: 1\ncampaigns: []\n"


def test_the_token_that_resumes_workflow_commands_starts_its_own_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that does not end with a line break (trailing blanks fmt drops) made the
    diff's last line end without one: the resume token was glued to it (`-   ::<token>::`),
    so the runner kept workflow commands stopped for the rest of the step (its
    `::add-mask::` included). The diff says `\\ No newline at end of file`, as git does."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.yaml").write_text("version: 1\ncampaigns: []\n   ")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    code, out, _ = run_cli(capsys, "fmt", "--check", "--diff", ".")
    assert code == 1
    stop = re.search(r"^::stop-commands::([0-9a-f]{32})$", out, re.MULTILINE)
    assert stop is not None, out
    lines = out.splitlines()
    assert lines[-2:] == ["\\ No newline at end of file", f"::{stop[1]}::"], out


def test_crlf_line_endings_are_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A checkout with CRLF endings (git's autocrlf on Windows) is not rewritten line by
    line: a formatted file stays byte for byte, and one that needs formatting keeps CRLF."""
    tidy = (ROOT / "examples" / "campaigns.yaml").read_text(encoding="utf-8")
    assert format_text(tidy) == (tidy, "")  # the example is formatted as it is
    crlf = tmp_path / "tidy.yaml"
    crlf.write_bytes(tidy.replace("\n", "\r\n").encode())
    assert run_cli(capsys, "fmt", "--check", str(crlf))[0] == 0
    assert crlf.read_bytes() == tidy.replace("\n", "\r\n").encode()

    untidy = tmp_path / "untidy.yaml"
    untidy.write_bytes(messy(tidy).replace("\n", "\r\n").encode())
    formatted, refused = format_text(messy(tidy))  # as the same file with LF endings
    assert not refused and formatted != messy(tidy)
    assert run_cli(capsys, "fmt", "--check", str(untidy))[0] == 1
    assert run_cli(capsys, "fmt", str(untidy))[0] == 0
    assert untidy.read_bytes() == formatted.replace("\n", "\r\n").encode()

    # by the first line's ending: a file of LF lines, one of them CRLF, becomes all LF
    mixed = tmp_path / "mixed.yaml"
    mixed.write_bytes(tidy.replace("\n", "\r\n", 2).replace("\r\n", "\n", 1).encode())
    assert run_cli(capsys, "fmt", str(mixed))[0] == 0
    assert mixed.read_bytes() == tidy.encode()


def test_crlf_a_lone_cr_before_a_line_break_keeps_its_meaning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """YAML reads a lone CR as a line break: in a CRLF file, CR CR LF is two breaks (an
    empty line in a literal block). Replacing only CRLF before formatting made it one CRLF,
    and the checks judged that text, not the file: the value lost its empty line."""
    text = 'campaigns: |\r\n  x\r\r\n  y\r\nsafety:   "p\rq"\r\n'  # a manifest's keys
    path = tmp_path / "cr.yaml"
    path.write_bytes(text.encode())
    assert yaml.safe_load(text) == {"campaigns": "x\n\ny\n", "safety": "p q"}
    assert run_cli(capsys, "fmt", str(path))[0] == 0
    after = path.read_bytes().decode()
    assert yaml.safe_load(after) == yaml.safe_load(text)
    assert after == 'campaigns: |\r\n  x\r\n\r\n  y\r\nsafety: "p q"\r\n'  # every line CRLF
    assert run_cli(capsys, "fmt", "--check", str(path))[0] == 0


def test_cr_line_endings_are_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file of lone CR endings (old Mac OS; YAML reads CR as a line break) stays CR, as a
    CRLF one stays CRLF: it was rewritten to LF, except where ruamel took a CR for part of
    a comment, which left a file of mixed endings."""
    path = tmp_path / "mac.yaml"
    path.write_bytes(b"# top\rversion:   1\rsafety: 'x\r\r  y'  # end\r")
    assert run_cli(capsys, "fmt", str(path))[0] == 0
    after = path.read_bytes()
    assert after == b"# top\rversion: 1\rsafety: 'x\r\r  y'  # end\r"
    assert yaml.safe_load(after) == yaml.safe_load(b"version: 1\nsafety: 'x\n\n  y'\n")
    assert comments(after.decode()) == ["# top", "# end"]
    assert run_cli(capsys, "fmt", "--check", str(path))[0] == 0


def test_a_diff_of_a_cr_file_ends_each_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--diff` of a file of lone CR endings ends every line with LF too: a terminal
    returns to the start of the line at a lone CR, and the next diff line overwrote it."""
    path = tmp_path / "mac.yaml"
    path.write_bytes(b"version:   1\rsafety: 2\r")
    code, out, _err = run_cli(capsys, "fmt", "--check", "--diff", str(path))
    assert code == 1
    assert "-version:   1\r\n+version: 1\r\n" in out, repr(out)
    assert re.search(r"\r(?!\n)", out) is None, repr(out)


def test_an_empty_file_stays_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`fmt --check` passes an empty YAML file (a placeholder) and `fmt` leaves it empty;
    it was given a line break, and the check failed it."""
    path = tmp_path / "empty.yaml"
    path.write_bytes(b"")
    assert run_cli(capsys, "fmt", "--check", str(path))[0] == 0
    assert run_cli(capsys, "fmt", str(path))[0] == 0
    assert path.read_bytes() == b""


@pytest.mark.parametrize("flag", [[], ["--check"], ["--diff"]])
def test_fmt_of_a_fifo_or_a_device_is_one_line_not_a_hang(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    flag: list[str],
) -> None:
    """`fmt` read with `read_bytes()`: a FIFO no one writes to hung it, and `/dev/zero`
    was read until memory ran out (found by review b58)."""
    monkeypatch.chdir(tmp_path)
    os.mkfifo("f.yaml")
    for named in ("f.yaml", "/dev/zero"):
        code, out, err = run_cli(capsys, "fmt", *flag, named)
        assert (code, out) == (1, "") and err == (
            f"{named}: cannot read file: not a regular file (a FIFO, a socket or a device)\n"
        ), err


WORKFLOW = "on: push\njobs:\n    test:\n        runs-on: ubuntu-latest\n        steps:\n        -   run: make\n"
PLAYBOOK = "-   hosts: all\n    tasks:\n    -   ping:\n"


def test_yaml_that_is_not_a_manifest_is_left_as_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The pre-commit hook names every staged YAML file, and the Action's validate runs
    `fmt --check` on the manifests' folder: a workflow, a compose file or a playbook there
    is not upcall-sync's to lay out (validate skips it too), named or found in a folder."""
    folder = tmp_path / "campaigns"
    folder.mkdir()
    (folder / "ci.yml").write_text(WORKFLOW)
    playbook = tmp_path / "site.yml"  # named, as the hook names it: validate would refuse it
    playbook.write_text(PLAYBOOK)
    manifest = folder / "q3.yaml"
    manifest.write_text("version: 1\ncampaigns:\n-   name: Q3\n    pitch: hi\n")
    typo = tmp_path / "typo.yaml"  # a slip of `campaigns:` is still a manifest's
    typo.write_text("version: 1\ncampains:\n-   name: Q4\n")

    code, out, err = run_cli(capsys, "fmt", "--check", str(folder), str(typo), str(playbook))
    assert code == 1
    assert out.splitlines() == [str(manifest), str(typo)]
    assert (
        f"note: skipped {folder / 'ci.yml'}: not a manifest (no campaigns: key, nor a manifest's keys alone)"
        in err
    )
    assert f"note: skipped {playbook}: not a manifest" in err

    code, out, err = run_cli(capsys, "fmt", str(folder / "ci.yml"), str(playbook), str(manifest))
    assert (code, out) == (0, f"{manifest}\n"), err
    assert (folder / "ci.yml").read_text() == WORKFLOW
    assert playbook.read_text() == PLAYBOOK
    assert manifest.read_text() == "version: 1\ncampaigns:\n  - name: Q3\n    pitch: hi\n"
    assert run_cli(capsys, "fmt", "--check", str(folder))[0] == 0
    assert run_cli(capsys, "validate", str(folder))[0] == 0  # the same files, the same reading


def test_yaml_of_tags_of_its_own_is_skipped_as_not_a_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """GitLab CI's `!reference` and CloudFormation's `!Sub` did not load with the safe
    loader, so such a file was taken for a manifest and told "left as it is: formatting
    would change what it means" instead of the note every other YAML of no manifest gets."""
    gitlab = tmp_path / ".gitlab-ci.yml"
    gitlab.write_text("stages: [a]\njob:\n    script:\n    - !reference [.setup, script]\n")
    stack = tmp_path / "stack.yaml"
    stack.write_text("Resources:\n    B:\n        Properties:\n            N: !Sub '${X}-y'\n")
    before = {p: p.read_text() for p in (gitlab, stack)}
    code, out, err = run_cli(capsys, "fmt", "--check", str(gitlab), str(stack))
    assert (code, out) == (0, "")
    assert err.splitlines() == [
        f"note: skipped {gitlab}: not a manifest (no campaigns: key, nor a manifest's keys alone)",
        f"note: skipped {stack}: not a manifest (no campaigns: key, nor a manifest's keys alone)",
    ]
    assert {p: p.read_text() for p in (gitlab, stack)} == before


def test_mkdocs_python_tags_are_skipped_and_a_bad_standard_tag_is_no_internal_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """mkdocs.yml's `!!python/name:` (a global tag the safe loader has no constructor
    for) made fmt take it for a manifest, "left as it is: formatting would change what it
    means", where validate skips it; `!!int abc` or `!!timestamp x` in any YAML file
    ended fmt with `error: internal error: ValueError` (found by helper b73)."""
    mkdocs = tmp_path / "mkdocs.yml"
    mkdocs.write_text(
        "site_name: x   \nmarkdown_extensions:\n  - pymdownx.superfences:\n"
        "      custom_fences:\n        - name: mermaid\n"
        "          format: !!python/name:pymdownx.superfences.fence_code_format\n"
    )
    bad = [tmp_path / "int.yaml", tmp_path / "stamp.yaml"]
    bad[0].write_text("a: !!int abc\n")
    bad[1].write_text("a: !!timestamp abc\n")
    before = {p: p.read_text() for p in (mkdocs, *bad)}
    code, out, err = run_cli(capsys, "fmt", "--check", str(mkdocs), *map(str, bad))
    assert (code, out) == (0, ""), err
    lines = err.splitlines()
    assert lines[0] == (
        f"note: skipped {mkdocs}: not a manifest (no campaigns: key, nor a manifest's keys alone)"
    )
    assert [line.split(": left as it is")[0] for line in lines[1:]] == list(map(str, bad))
    assert "internal error" not in err
    assert {p: p.read_text() for p in (mkdocs, *bad)} == before
    # a manifest holding one: the error validate gives, with its line, exit 1
    manifest = tmp_path / "manifest.yaml"
    manifest.write_text("version: 1\ncampaigns:\n  - name: a\n    pitch: !!int abc\n")
    code, out, err = run_cli(capsys, "fmt", "--check", str(manifest))
    assert code == 1 and err.strip() == f"{manifest}:4:12: cannot read 'abc' as int", err


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("compose.yml", 'version: "3.8"\nservices:\n    web:\n        image: nginx\n'),
        (".readthedocs.yaml", "version: 2\nbuild:\n    os: ubuntu-22.04\n"),
        (
            ".circleci/config.yml",
            "version: 2.1\njobs:\n    b:\n        docker:\n        -   image: x\n",
        ),
        ("dependabot.yml", "version: 2\nupdates:\n-   package-ecosystem: pip\n    directory: /\n"),
        ("Chart.yaml", "apiVersion: v2\nname: web\nversion:    0.1.0\n"),
        (
            "ci.yml",
            "on: push\ndefaults:\n    run:\n        shell: bash\njobs:\n    t:\n        steps: []\n",
        ),
        # keys alone near a manifest's (contact_list, patch), none of them one
        (".github/ISSUE_TEMPLATE/config.yml", "contact_links:\n-   name: Help\n    url: x\n"),
        ("kustomization.yaml", "patches:\n-   path: p.yaml\n"),
        ("paths.yaml", "paths:\n    /a:\n        get: {}\n"),
    ],
)
def test_yaml_sharing_a_manifest_key_is_not_taken_for_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str
) -> None:
    """Other tools' YAML shares `version:` or `defaults:` with a manifest (found by helper
    b63): fmt takes a file for a manifest only by a `campaigns:` key or a manifest's keys
    alone, stricter than validate (which errs on the side of reading a slip)."""
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    code, out, err = run_cli(capsys, "fmt", str(path))
    assert (code, out) == (0, ""), err
    assert path.read_text() == text
    assert (
        err
        == f"note: skipped {path}: not a manifest (no campaigns: key, nor a manifest's keys alone)\n"
    )
    settings = tmp_path / "settings.yaml"  # a manifest of settings alone is still one
    settings.write_text("version: 1\nsafety:\n    max_update_percent: 50\n")
    assert run_cli(capsys, "fmt", str(settings))[:2] == (0, f"{settings}\n")


def test_an_alias_bomb_is_left_as_it_is_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A "billion laughs" manifest of 1 KB took `fmt --check` (run by the Action's
    validate on every pull request) past 7 GB of memory in a minute, and on: the meaning
    check wrote every alias out. validate refuses it at once; fmt now leaves it, saying
    why. This one expands to 1.6 million values only (helper b66)."""
    lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for prev, name in zip("abcd", "bcde", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 10)}]")
    lines.append(f"f: [{', '.join(['*e'] * 15)}]")
    path = tmp_path / "bomb.yaml"
    path.write_text("version:   1\ncampaigns: []\n" + "\n".join(lines) + "\n")
    before = path.read_text()
    code, _out, err = run_cli(capsys, "fmt", str(path))
    assert code == 0 and path.read_text() == before
    assert err.strip() == (
        f"{path}: left as it is: its aliases expand to more than 1,000,000 values "
        "(a text counting one per 64 characters; a YAML alias bomb?)"
    ), err


def test_a_big_manifest_without_aliases_is_no_alias_bomb(monkeypatch: pytest.MonkeyPatch) -> None:
    """246f73d counted every value against the alias budget: an 11 MB manifest of 210,000
    numbers (under the reader's 20 MB) that fmt would lay out was 'its aliases expand
    to more than 1,000,000 values (a YAML alias bomb?)', and left as it was. Only what
    an alias writes out again counts (the budget made small here)."""
    from upcall_sync.manifest import fmt

    monkeypatch.setattr(fmt, "MAX_ALIAS_EXPANSION", 100)
    numbers = "".join(f'  - {{phone: "+1415555{i:04d}", first_name: P{i}}}\n' for i in range(60))
    assert fmt.meaning(f"version: 1\nnumbers:\n{numbers}")  # 300 values, none an alias's
    bomb = 'a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]\n'
    bomb += f"b: [{', '.join(['*a'] * 10)}]\n"  # 110 values written out again
    with pytest.raises(fmt.AliasBomb):
        fmt.meaning(bomb)
