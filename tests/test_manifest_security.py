"""Hostile manifests: `${...}` may not read credentials, `numbers_csv` may not read
outside the checkout, and no error shows a file's content (issue 10, items 1 and 2)."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest

from .conftest import TOKEN, run_cli

MANIFEST = "version: 1\ncampaigns:\n  - name: a\n{extra}"


def _write(path: Path, extra: str) -> Path:
    path.write_text(MANIFEST.format(extra=extra))
    return path


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkout as the working directory, with the token in the environment as in CI."""
    root = tmp_path / "checkout"
    (root / "campaigns").mkdir(parents=True)
    (root / "data").mkdir()
    monkeypatch.chdir(root)
    monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
    return root


@pytest.mark.parametrize(
    "name", ["UPCALL_AUTH_TOKEN", "UPCALL_AUTH_TOKEN_FILE", "GITHUB_TOKEN", "DB_PASSWORD"]
)
def test_interpolating_a_credential_is_refused_naming_the_line(
    checkout: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv("UPCALL_AUTH_TOKEN_FILE", str(checkout / "token.secret"))
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_notreal")
    monkeypatch.setenv("DB_PASSWORD", "hunter2")
    path = _write(checkout / "m.yaml", f'    pitch: "say ${{{name}}}"\n')

    code, out, err = run_cli(capsys, "validate", str(path))

    assert code == 1 and out == ""
    assert err.splitlines()[0] == (
        f"m.yaml:4:12: ${{{name}}} is refused: a manifest may not read credentials "
        "(its values are printed in plans and PR comments)"
    )
    assert "hunter2" not in err and "ghs_notreal" not in err and "token.secret" not in err


@pytest.mark.parametrize(
    ("name", "value", "why"),
    [
        ("PGPASSWORD", "hunter2", "a manifest may not read credentials"),
        ("GPG_PASSPHRASE", "hunter2", "a manifest may not read credentials"),
        ("STRIPE_KEY", "sk_live_hunter2", "a manifest may not read credentials"),
        ("GH_PAT", "ghp_hunter2", "a manifest may not read credentials"),
        (
            "SLACK_WEBHOOK_URL",
            "https://hooks.example/hunter2",
            "a manifest may not read credentials",
        ),
        ("SENTRY_DSN", "https://hunter2@sentry.example/1", "a manifest may not read credentials"),
        (
            "DATABASE_URL",
            "postgres://app:hunter2@db.internal/prod",
            "its value is a URL with credentials",
        ),
        (
            "REPO_REMOTE",
            "https://ghp_hunter2@github.com/o/r",
            "its value is a URL with credentials",
        ),
        ("SSH_KEYS", "hunter2", "a manifest may not read credentials"),
        ("AWS_CREDS", "hunter2", "a manifest may not read credentials"),
        # AUTH as a word was refused, these read (helper b66)
        ("HTTP_AUTHORIZATION", "Basic aHVudGVyMg==", "a manifest may not read credentials"),
        ("NETRC", "machine x login y password hunter2", "a manifest may not read credentials"),
        ("SSH_PRIVATE", "hunter2", "a manifest may not read credentials"),
        ("WEBHOOK_HMAC", "hunter2", "a manifest may not read credentials"),
        # GitLab's job identity token, and any signed or well-known token under any name
        ("CI_JOB_JWT_V2", "eyJhbGciOi.hunter2xyz.sig", "a manifest may not read credentials"),
        (
            "ID_FOR_VAULT",
            "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJodW50ZXIyIn0.c2lnbmF0dXJl",
            "its value looks like a credential",
        ),
        (
            "DEPLOY_PEM",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nhunter2\n",
            "its value looks like a credential",
        ),
        ("REPO_ACCESS", "ghp_hunter2hunter2hunter2hunter2", "its value looks like a credential"),
        ("GITLAB_RO", "glpat-hunter2hunter2hunter2", "its value looks like a credential"),
        ("BOT", "xoxb-1234-hunter2hunter2", "its value looks like a credential"),
        ("AWS_ID", "AKIAHUNTER2HUNTER2XY", "its value looks like a credential"),
    ],
)
def test_secrets_ci_jobs_commonly_hold_are_refused(
    checkout: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    value: str,
    why: str,
) -> None:
    """A CI job's environment holds more secrets than the names with TOKEN or PASSWORD as a
    word; a pull request's manifest must not print them in the plan comment."""
    monkeypatch.setenv(name, value)
    monkeypatch.setenv("STAGE", "staging")
    path = _write(checkout / "m.yaml", f'    pitch: "${{STAGE}} ${{{name}}}"\n')

    code, out, err = run_cli(capsys, "validate", str(path))

    assert code == 1 and out == ""
    assert err.splitlines()[0].startswith(f"m.yaml:4:12: ${{{name}}} is refused: {why}")
    assert "hunter2" not in err


def test_a_variable_holding_the_token_is_refused(
    checkout: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INNOCENT", f"prefix {TOKEN}")
    path = _write(checkout / "m.yaml", '    pitch: "${INNOCENT}"\n')

    code, _out, err = run_cli(capsys, "validate", str(path))

    assert code == 1
    assert "m.yaml:4:12: ${INNOCENT} is refused: its value holds the auth token" in err


def test_a_csv_cell_cannot_read_the_token(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (checkout / "data" / "n.csv").write_text("phone,company\n+16507991144,${UPCALL_AUTH_TOKEN}\n")
    path = _write(checkout / "campaigns" / "m.yaml", "    numbers_csv: ../data/n.csv\n")

    code, _out, err = run_cli(capsys, "validate", str(path))

    assert code == 1
    assert err.splitlines()[0].startswith(
        "data/n.csv:2:2: ${UPCALL_AUTH_TOKEN} is refused: a manifest may not read credentials"
    )


def test_plan_output_never_holds_an_interpolated_token(
    checkout: Path, capsys: pytest.CaptureFixture[str], cli_env: object
) -> None:
    path = _write(checkout / "m.yaml", '    pitch: "${UPCALL_AUTH_TOKEN}"\n')
    for fmt in ("text", "json", "markdown"):
        code, _out, err = run_cli(capsys, "plan", "--format", fmt, str(path))  # scans for TOKEN
        assert code == 1
        assert "is refused" in err


def test_a_sibling_directory_csv_inside_the_checkout_is_fine(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (checkout / "data" / "q3.csv").write_text("phone,first_name\n+16507991144,Joey\n")
    path = _write(checkout / "campaigns" / "m.yaml", "    numbers_csv: ../data/q3.csv\n")

    code, out, _err = run_cli(capsys, "validate", str(path))

    assert code == 0
    assert out == "1 file, 1 campaign, 1 number: valid\n"


def _outside_secret(tmp_path: Path) -> Path:
    secret = tmp_path / "outside.csv"
    secret.write_text("SECRET_HEADER_CONTENT,more\n+16507991144,x\n")
    return secret


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("/etc/passwd", "is an absolute path; write it relative to this manifest"),
        ("/proc/self/environ", "is an absolute path; write it relative to this manifest"),
        ("../../outside.csv", "is outside the working directory"),
        ("../../../../../../../../proc/self/environ", "is outside the working directory"),
        ("link.csv", "is outside the working directory"),
    ],
)
def test_csv_paths_outside_the_checkout_are_refused_without_content(
    checkout: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    written: str,
    reason: str,
) -> None:
    secret = _outside_secret(tmp_path)
    (checkout / "campaigns" / "link.csv").symlink_to(secret)
    path = _write(checkout / "campaigns" / "m.yaml", f"    numbers_csv: {written}\n")

    code, out, err = run_cli(capsys, "validate", str(path))

    assert code == 1 and out == ""
    [line] = err.splitlines()[:1]
    assert line.startswith(f'campaigns/m.yaml:4:18: campaigns[0].numbers_csv: "{written}" {reason}')
    for content in ("SECRET_HEADER_CONTENT", "root:", TOKEN, "PATH="):
        assert content not in err


def test_a_symlink_to_a_file_inside_the_checkout_is_fine(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (checkout / "data" / "q3.csv").write_text("phone\n+16507991144\n")
    (checkout / "campaigns" / "q3.csv").symlink_to(checkout / "data" / "q3.csv")
    path = _write(checkout / "campaigns" / "m.yaml", "    numbers_csv: q3.csv\n")
    assert run_cli(capsys, "validate", str(path))[0] == 0


@pytest.mark.parametrize("kind", ["fifo", "directory", "device"])
def test_a_csv_that_is_not_a_regular_file_is_refused_without_hanging(
    checkout: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    target = checkout / "campaigns" / "n.csv"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "directory":
        target.mkdir()
    else:
        target.symlink_to("/dev/zero")  # outside the checkout: the test moves the root to /
    path = _write(checkout / "campaigns" / "m.yaml", "    numbers_csv: n.csv\n")
    result: list[tuple[int, str, str]] = []
    args = ["validate", str(path)]

    def run() -> None:
        from upcall_sync.manifest import load_manifests

        try:
            load_manifests([path], root="/" if kind == "device" else None)
            result.append((0, "", ""))
        except Exception as exc:
            result.append((1, "", str(exc)))

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(5)
    assert result, "loading hung"
    code, _out, err = result[0]
    assert code == 1
    if kind == "device":  # its name says it is no contacts file: it is not even opened
        assert '"n.csv" is not a contacts file: numbers_csv reads .csv' in err
        return
    wanted = "is a directory" if kind == "directory" else "is not a regular file"
    assert f'"campaigns/n.csv" {wanted}; a numbers_csv must be a CSV file' in err
    code, _out, err = run_cli(capsys, *args)
    assert code == 1 and wanted in err


def test_an_unknown_column_quotes_only_a_short_excerpt(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header = "phone,PATH=/usr/local/sbin:/usr/local/bin HOME=/root " + "X" * 500
    (checkout / "campaigns" / "n.csv").write_text(header + "\n+16507991144,x\n")
    path = _write(checkout / "campaigns" / "m.yaml", "    numbers_csv: n.csv\n")

    code, _out, err = run_cli(capsys, "validate", str(path))

    assert code == 1
    [line] = [x for x in err.splitlines() if "unknown column" in x]
    quoted = re.search(r'unknown column "([^"]*)"', line)
    assert quoted is not None and len(quoted.group(1)) <= 33
    assert "HOME=/root" not in err and "X" * 40 not in err
    # /proc/self/environ's NUL-separated form: the file is refused whole, nothing quoted
    (checkout / "campaigns" / "n.csv").write_text(header.replace(" ", "\0") + "\n+16507991144,x\n")
    code, _out, err = run_cli(capsys, "validate", str(path))
    assert code == 1 and "holds NUL bytes" in err and "PATH" not in err


def test_a_directory_scan_does_not_follow_a_symlink_out_of_the_directory(
    checkout: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = tmp_path / "hosts.yml"
    secret.write_text("version: 1\noauth_token: SECRET_VALUE_IN_OTHER_FILE\n")
    _write(checkout / "campaigns" / "m.yaml", "")
    (checkout / "campaigns" / "evil.yaml").symlink_to(secret)
    (checkout / "campaigns" / "ok.yaml").symlink_to(checkout / "campaigns" / "m.yaml")

    code, out, err = run_cli(capsys, "validate", "campaigns")

    assert code == 1 and out == ""
    assert err.splitlines()[0] == (
        "campaigns/evil.yaml: is a symlink out of campaigns; a manifest found in a directory "
        "must lie inside it (name the file it leads to, to read that on purpose)"
    )
    assert "SECRET_VALUE" not in err and "oauth_token" not in err


def test_a_manifest_symlink_that_leads_nowhere_is_an_error_not_a_skip(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A committed `eu.yaml -> eu/campaigns.yaml` whose target was renamed: its campaigns
    must not silently drop out of the plan (where `--prune` would archive them)."""
    _write(checkout / "campaigns" / "m.yaml", "")
    (checkout / "campaigns" / "eu.yaml").symlink_to("eu/campaigns.yaml")
    (checkout / "campaigns" / "gone.yml").symlink_to("/nonexistent/m.yml")

    for command in (["validate"], ["plan"]):
        code, out, err = run_cli(capsys, *command, "campaigns")
        assert code == 1 and out == "", err
        assert err.splitlines() == [
            f"campaigns/{name}: is a symlink to a file that does not exist, so no manifest "
            "is read from it; point it at the manifest, or remove it"
            for name in ("eu.yaml", "gone.yml")
        ] + ["error: 2 problems found in the manifests"]


def test_a_symlinked_directory_of_manifests_is_an_error_not_a_skip(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`campaigns/eu -> ../regions/eu`: a directory scan does not follow it, so its
    campaigns dropped out of the plan unseen (and into --prune's reach). A symlinked
    folder of CSV files, one to a folder the scan reads anyway, or one whose folder is
    named too, is fine."""
    _write(checkout / "campaigns" / "m.yaml", "")
    (checkout / "regions" / "eu").mkdir(parents=True)
    (checkout / "regions" / "eu" / "b.yml").write_text("version: 1\ncampaigns:\n  - name: EU\n")
    (checkout / "data" / "q3.csv").write_text("phone\n+16507991144\n")
    (checkout / "campaigns" / "eu").symlink_to("../regions/eu", target_is_directory=True)
    (checkout / "campaigns" / "csv").symlink_to("../data", target_is_directory=True)
    (checkout / "campaigns" / "self").symlink_to(".", target_is_directory=True)
    for command in (["validate"], ["plan"]):
        code, out, err = run_cli(capsys, *command, "campaigns")
        assert code == 1 and out == "", err
        assert err == (
            "campaigns/eu: is a symlink to a directory holding manifests (or too big to search "
            "for them), which upcall-sync does not follow (they would not be read, and "
            "--prune could archive their campaigns): name that directory too, or move the "
            "manifests here\n"
        )
    code, out, err = run_cli(capsys, "validate", "campaigns", "regions")
    assert code == 0 and out.startswith("2 files, "), err


def test_a_symlink_up_over_the_directories_named_is_fine(
    checkout: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`campaigns/up -> ..` reaches campaigns/ itself and regions/eu: once both are named,
    every manifest it leads to is read, and it was refused all the same (b51). One it
    leads to that no named directory holds is still an error."""
    _write(checkout / "campaigns" / "m.yaml", "")
    (checkout / "regions" / "eu").mkdir(parents=True)
    (checkout / "regions" / "eu" / "b.yml").write_text("version: 1\ncampaigns:\n  - name: EU\n")
    (checkout / "campaigns" / "up").symlink_to("..", target_is_directory=True)
    code, out, err = run_cli(capsys, "validate", "campaigns", "regions/eu")
    assert code == 0 and out.startswith("2 files, "), err
    code, out, err = run_cli(capsys, "validate", "campaigns")
    assert code == 1 and err.startswith("campaigns/up: is a symlink to a directory"), err
    (checkout / "regions" / "us").mkdir()
    (checkout / "regions" / "us" / "c.yml").write_text("version: 1\ncampaigns:\n  - name: US\n")
    code, out, err = run_cli(capsys, "validate", "campaigns", "regions/eu")
    assert code == 1 and err.startswith("campaigns/up: is a symlink to a directory"), err


def test_a_directory_it_cannot_list_is_an_error_not_a_skip(
    checkout: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`chmod 000 campaigns/eu` (as another user than root): its manifests must not
    silently drop out of a run that reports the rest valid."""
    _write(checkout / "campaigns" / "m.yaml", "")
    (checkout / "campaigns" / "eu").mkdir()
    _write(checkout / "campaigns" / "eu" / "n.yaml", "")
    listing = os.scandir

    def scandir(where: str) -> object:
        if Path(where).name == "eu":
            raise PermissionError(13, "Permission denied", where)
        return listing(where)

    monkeypatch.setattr(os, "scandir", scandir)
    code, out, err = run_cli(capsys, "validate", "campaigns")
    assert code == 1 and out == "", err
    assert err.splitlines()[0] == (
        "campaigns/eu: cannot read directory: Permission denied; its manifests would not be read"
    )


@pytest.mark.parametrize("named", ["elsewhere", "elsewhere/", "./elsewhere/sub", "campaigns/far"])
def test_a_manifest_directory_reached_through_a_symlink_out_of_the_checkout_is_refused(
    checkout: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], named: str
) -> None:
    """A committed `elsewhere -> /outside` must not make validate read (and quote) the
    files out there: one line naming the path, exit 1, nothing of their content."""
    outside = tmp_path / "outside"
    (outside / "sub").mkdir(parents=True)
    for where in (outside, outside / "sub"):
        (where / "m.yaml").write_text("version: 1\ncampaigns:\n  - name: x\n    pitch: 1\n")
        (where / "n.yaml").write_text("version: 1\nSECRET_KEY_IN_OTHER_FILE: 1\n")
    (checkout / "elsewhere").symlink_to(outside, target_is_directory=True)
    (checkout / "campaigns" / "far").symlink_to(outside, target_is_directory=True)

    for command in (["validate"], ["plan"]):
        code, out, err = run_cli(capsys, *command, named)
        assert code == 1 and out == "", err
        assert err == (
            f"{named}: is a directory reached through a symlink out of the checkout "
            f"({checkout.resolve()}); manifests must lie inside the checkout upcall-sync "
            "runs in\n"
        )


@pytest.mark.parametrize("named", ["main.yaml", "campaigns/far/m.yaml", "elsewhere/n.yaml"])
def test_a_manifest_file_reached_through_a_symlink_out_of_the_checkout_is_refused(
    checkout: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], named: str
) -> None:
    """The CI config names `main.yaml`; a pull request that makes it (or a directory on
    its way) a symlink to a file outside must not make plan read (and quote) that file."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "m.yaml").write_text("version: 1\nSECRET_KEY_IN_OTHER_FILE: 1\n")
    (outside / "n.yaml").write_text("version: 1\nSECRET_KEY_IN_OTHER_FILE: 1\n")
    (checkout / "main.yaml").symlink_to(outside / "m.yaml")
    (checkout / "elsewhere").symlink_to(outside, target_is_directory=True)
    (checkout / "campaigns" / "far").symlink_to(outside, target_is_directory=True)

    for command in (["validate"], ["plan"]):
        code, out, err = run_cli(capsys, *command, named)
        assert code == 1 and out == "", err
        assert err == (
            f"{named}: is a file reached through a symlink out of the checkout "
            f"({checkout.resolve()}); manifests must lie inside the checkout upcall-sync "
            "runs in (name the file it leads to, to read that on purpose)\n"
        )
    code, _out, err = run_cli(capsys, "validate", str(outside / "m.yaml"))
    assert code == 1 and "SECRET_KEY_IN_OTHER_FILE" in err  # named on purpose: read


def test_a_directory_named_outside_the_checkout_on_purpose_is_still_read(
    checkout: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only a symlink that leads out is refused: a path the user wrote out is theirs."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "m.yaml").write_text("version: 1\ncampaigns:\n  - name: x\n")
    code, _out, err = run_cli(capsys, "validate", str(outside))
    assert code == 0, err


def test_a_url_is_refused_for_its_credentials_not_for_being_a_url() -> None:
    from upcall_sync.manifest.envvars import refused_variable

    for value in (
        "https://example.com/q3",
        "ssh://git@github.com/o/r",
        "mailto:a@b.example",
        # an address in a query or fragment is no user part: there is no path before it
        "https://book.example?email=ops@acme.example",
        "https://book.example#ops@acme.example",
        # a port, then a path holding an @: no password (helper b72)
        "https://medium.example:443/@acme",
        "https://book.example:8443?email=ops@acme.example",
    ):
        assert refused_variable("LINK", {"LINK": value}) is None, value
    for value in (
        "https://ghp_x@github.com/o/r",
        "postgres://app:pw@db/prod",
        "postgres://app:p?w#d@db/prod",  # a password written unescaped is still one
        "https://ghp_x:@github.com/o/r",  # a token as the user, its password empty
        "https://tok_x:@api.example/v1",
        # a base64 password written unescaped holds a / (helper b72: printed in the plan)
        "postgres://app:Zm9v/YmFy+cXV4@db.internal:5432/app",
        "redis://:a/b@cache:6379",
    ):
        assert refused_variable("LINK", {"LINK": value}) is not None, value


def test_a_symlinked_folder_too_big_to_search_is_refused_unsearched(
    checkout: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A committed `campaigns/root -> /` made every run walk the whole disk for manifests
    (b51: 0.65 s here only because /usr holds YAML early; a disk without any walks it all)."""
    from upcall_sync.manifest import load

    monkeypatch.setattr(load, "MAX_LINKED_ENTRIES", 50)
    _write(checkout / "campaigns" / "m.yaml", "")
    (checkout / "big").mkdir()
    for i in range(60):
        (checkout / "big" / f"{i}.csv").write_text("phone\n")
    (checkout / "campaigns" / "big").symlink_to("../big", target_is_directory=True)
    code, _out, err = run_cli(capsys, "validate", "campaigns")
    assert code == 1 and err.startswith("campaigns/big: is a symlink to a directory holding "), err
    monkeypatch.setattr(load, "MAX_LINKED_ENTRIES", 100)  # small enough to search: CSVs only
    code, _out, err = run_cli(capsys, "validate", "campaigns")
    assert code == 0, err


def test_ordinary_values_are_not_taken_for_credentials() -> None:
    """The value checks look for a credential's shape, not for words that resemble one."""
    from upcall_sync.manifest.envvars import refused_variable

    for value in (
        "Q3 renewal: ask for the decision maker",
        "eyJ is how a JWT starts",
        "ghp_short",
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc",  # a test key: no live money
        "3f2b7c1e-9a4d-4e6b-8f0a-2c5d7e9b1a3c",
        "AKIA",
        "-----BEGIN CERTIFICATE-----",
    ):
        assert refused_variable("LINK", {"LINK": value}) is None, value


def test_upcall_manifest_env_is_the_only_list_of_variables_a_manifest_may_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A list of secret-looking names always misses one (SONAR_LOGIN, SALT, VAULT_ROLE_ID:
    helper b66), and a GitLab job holds every project variable. The job can name the
    variables a manifest may read; a pull request cannot, since it is not in the manifest."""
    from upcall_sync.cli import main
    from upcall_sync.manifest.envvars import refused_variable

    env = {"UPCALL_MANIFEST_ENV": "STAGE, CAMPAIGN_*", "SONAR_LOGIN": "squ_x"}
    assert refused_variable("STAGE", env) is None
    assert refused_variable("CAMPAIGN_LIST", env) is None
    why = refused_variable("SONAR_LOGIN", env)
    assert why is not None and "UPCALL_MANIFEST_ENV" in why and "squ_x" not in why
    assert refused_variable("STAGE", {"UPCALL_MANIFEST_ENV": ""}) is not None  # none
    assert refused_variable("PITCH", {"UPCALL_MANIFEST_ENV": "STAGE;PITCH"}) is None
    assert refused_variable("SONAR_LOGIN", {"SONAR_LOGIN": "squ_x"}) is None  # unset: as before
    assert refused_variable("GITHUB_TOKEN", {"UPCALL_MANIFEST_ENV": "*"}) is not None

    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        'version: 1\ncampaigns:\n  - name: "Q3 ${STAGE}"\n    pitch: "${SONAR_LOGIN}"\n'
    )
    monkeypatch.setenv("STAGE", "staging")
    monkeypatch.setenv("SONAR_LOGIN", "squ_0123456789abcdef")
    monkeypatch.setenv("UPCALL_MANIFEST_ENV", "STAGE")
    assert main(["validate", str(manifest)]) == 1
    err = capsys.readouterr().err
    assert "m.yaml:4:12: ${SONAR_LOGIN} is refused: it is not among the variables" in err, err
    assert "squ_0123456789abcdef" not in err


def test_a_long_text_aliased_many_times_is_an_alias_bomb(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 1 MB text aliased 4,000 times counted 4,000 values: validate took 35 s and 7.8 GB,
    and fmt --check a minute (helper b75). A text now counts one value per 64 characters,
    in the manifest reader and in fmt alike; both refuse it at once."""
    from upcall_sync.cli import main

    big = "a" * 100_000
    numbers = "".join(
        f'      - {{phone: "+1415555{i:04d}", first_name: *s, company: *s}}\n' for i in range(400)
    )
    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        f"version: 1\ncampaigns:\n  - name: x\n    pitch: &s {big}\n    numbers:\n{numbers}"
    )
    assert main(["validate", str(manifest)]) == 1
    err = capsys.readouterr().err
    assert "aliases expand to more than 1,000,000 values (a text counting one per 64" in err
    assert main(["fmt", "--check", str(manifest)]) == 0  # named, left as it is
    err = capsys.readouterr().err
    assert "left as it is: its aliases expand to more than 1,000,000 values" in err, err
    # short texts aliased as often are no bomb
    manifest.write_text(manifest.read_text().replace(big, "Be friendly"))
    assert main(["validate", str(manifest)]) == 0
