"""`apply --format json`: one report document on stdout, valid against its schema, on
success, on partial failure, on interrupt, and when apply stops before applying; and the
non-convergence report, which explains each change a fresh plan still shows."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from upcall_sync.client import CampaignAttributes, ContactAttributes, UpcallClient
from upcall_sync.core.changes import AddNumber, CreateCampaign, CreateContact
from upcall_sync.core.model import Contact
from upcall_sync.emulator import Emulator
from upcall_sync.jobs import sync
from upcall_sync.jobs.report import RESULTS
from upcall_sync.output.explain import explain_change

from .conftest import FAST_RETRY, ROOT, TOKEN, run_cli, scan, write_manifest
from .helpers.accounts import no_duplicates
from .helpers.reports import REPORT_SCHEMA, VALIDATOR, report
from .helpers.signals import default_sigint
from .helpers.slow import big_manifest, wait_for_writes

EXAMPLES = str(ROOT / "examples")


def by_address(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["address"]: c for c in doc["changes"]}


def test_the_schema_is_a_valid_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(REPORT_SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate({"format_version": "1"})
    assert REPORT_SCHEMA["properties"]["result"]["enum"] == list(RESULTS)


def test_success_reports_every_change_with_its_live_id(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "apply", "--format", "json", "--auto-approve", EXAMPLES)
    assert code == 0, err
    doc = report(out)
    assert doc["result"] == "converged" and doc["exit_code"] == 0 and doc["error"] is None
    assert doc["convergence"] == {
        "converged": True,
        "remaining": [],
        "summary_line": "No changes. Live state matches the manifests.",
        "duplicates": [],
    }
    assert [c["index"] for c in doc["changes"]] == list(range(len(doc["plan"]["changes"])))
    assert [c["address"] for c in doc["changes"]] == [c["address"] for c in doc["plan"]["changes"]]
    assert {c["status"] for c in doc["changes"]} == {"applied"}
    ids = {r["name"]: str(r["id"]) for r in cli_env.store.sql("SELECT id, name FROM campaigns")}
    changes = by_address(doc)
    survey = changes['campaign["Acme Q3 satisfaction survey"]']
    assert survey["live_id"] == ids["Acme Q3 satisfaction survey"]
    assert survey["source"].endswith("examples/campaigns.yaml:16:5")
    # the campaign is made ready after its numbers: a second step of the same change
    assert survey["set_ready"]["status"] == "applied"
    assert survey["set_ready"]["live_id"] == ids["Acme Q3 satisfaction survey"]
    assert changes['campaign["Acme renewal reminders"]']["set_ready"] is None
    numbers = {str(r["id"]) for r in cli_env.store.sql("SELECT id FROM campaign_numbers")}
    assert {c["live_id"] for c in doc["changes"] if c["kind"] == "add_number"} == numbers
    assert doc["counts"]["applied"]["add_number"] == 10
    assert doc["counts"]["applied"]["set_ready"] == 1
    assert doc["counts"]["operations"] == len(doc["changes"]) + 1
    assert doc["summary_line"].startswith("Apply complete: 3 campaigns created")
    # everything text shows goes to stderr: the plan, one line per change, the summary
    assert "upcall-sync will make these changes:" in err
    assert '   done  set campaign["Acme Q3 satisfaction survey"] status "ready"' in err
    assert "Converged: a fresh plan of what was touched is empty." in err


def test_an_empty_plan_is_a_valid_report(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "apply", "--auto-approve", EXAMPLES)[0] == 0
    code, out, _err = run_cli(capsys, "apply", "-f", "json", "--auto-approve", EXAMPLES)
    assert code == 0
    doc = report(out)
    assert doc["result"] == "no_changes" and doc["plan"]["empty"] is True
    assert doc["changes"] == [] and doc["summary_line"] is None
    assert doc["convergence"]["converged"] is True


BAD_FROM_NUMBER = (
    "version: 1\ncampaigns:\n"
    '  - name: good\n    numbers: [{phone: "+16507991144", first_name: Joey}]\n'
    '  - name: bad\n    from_number: "+16509999999"\n'
    '    numbers: [{phone: "+14155550132", first_name: Priya}]\n'
)


def test_a_refused_change_carries_the_api_field_and_its_manifest_line(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    m = write_manifest(tmp_path / "m.yaml", BAD_FROM_NUMBER)
    code, out, _err = run_cli(capsys, "apply", "--format", "json", "--auto-approve", str(m))
    assert code == 1
    doc = report(out)
    assert doc["result"] == "failed" and doc["exit_code"] == 1
    changes = by_address(doc)
    bad = changes['campaign["bad"]']
    assert bad["status"] == "failed" and bad["live_id"] is None
    assert bad["source"] == f"{m.resolve()}:5:5"
    assert bad["error"] == {
        "http_status": 400,
        "fields": [
            {
                "field": "from_number",
                "message": "Couldn't find that number",
                "source": f"{m.resolve()}:6:18",
            }
        ],
    }
    assert f"{m.resolve()}:6:18: from_number: Couldn't find that number" in bad["message"]
    skipped = changes['campaign["bad"].number["+14155550132 (Priya)"]']
    assert skipped["status"] == "skipped"
    assert skipped["message"] == 'needs create campaign["bad"], which failed'
    good = changes['campaign["good"]']
    assert good["status"] == "applied"
    assert good["live_id"] == str(
        cli_env.store.sql("SELECT id FROM campaigns WHERE name = 'good'")[0]["id"]
    )
    assert doc["counts"]["failed"] == 1 and doc["counts"]["skipped"] == 1
    assert doc["convergence"]["converged"] is None  # not checked: the apply did not finish


def test_partial_failure_under_a_failing_endpoint(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    m = write_manifest(tmp_path / "m.yaml", BAD_FROM_NUMBER.replace("+16509999999", "+16501231234"))
    cli_env.faults.add_rule("500", "POST", r"/campaigns", count=-1)
    code, out, _err = run_cli(
        capsys, "apply", "-f", "json", "--auto-approve", "--max-retry-time", "0.5", str(m)
    )
    assert code == 1
    doc = report(out)
    statuses = {c["address"]: c["status"] for c in doc["changes"]}
    assert statuses['campaign["good"]'] == statuses['campaign["bad"]'] == "failed"
    assert statuses['contact["+16507991144 (Joey)"]'] == "applied"
    assert statuses['campaign["good"].number["+16507991144 (Joey)"]'] == "skipped"
    contact = by_address(doc)['contact["+16507991144 (Joey)"]']
    joey = cli_env.store.sql("SELECT id FROM list_contacts WHERE first_name = 'Joey'")
    assert contact["live_id"] == str(joey[0]["id"])
    failed = by_address(doc)['campaign["good"]']
    assert failed["message"].startswith(f"{m.resolve()}:3:5: ")
    assert cli_env.store.sql("SELECT COUNT(*) n FROM campaigns")[0]["n"] == 0


@pytest.mark.parametrize(("sig", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupted_apply_still_prints_a_valid_report(
    slow_emulator: Emulator, tmp_path: Path, sig: signal.Signals, exit_code: int
) -> None:
    m = big_manifest(tmp_path)
    env = dict(
        os.environ, UPCALL_API_URL=slow_emulator.base_url, UPCALL_AUTH_TOKEN=TOKEN, NO_COLOR="1"
    )
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "upcall_sync.cli", "apply", "--format", "json"),
            *("--auto-approve", "--parallelism", "2", str(m)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=default_sigint,  # noqa: PLW1509 (it only sets a signal handler)
    )
    wait_for_writes(slow_emulator, 20)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    scan(out, "stdout")
    scan(err, "stderr")
    assert proc.returncode == exit_code, err
    doc = report(out)
    assert doc["result"] == "interrupted" and doc["interrupted"] is True
    assert doc["exit_code"] == exit_code
    assert doc["convergence"]["converged"] is None
    statuses = [c["status"] for c in doc["changes"]]
    assert "applied" in statuses and "not_attempted" in statuses
    campaign = by_address(doc)['campaign["big"]']
    assert campaign["status"] == "applied"
    assert campaign["set_ready"]["status"] == "not_attempted"  # never ready half-loaded
    applied = [c for c in doc["changes"] if c["kind"] == "add_number" and c["status"] == "applied"]
    numbers = slow_emulator.store.sql("SELECT COUNT(*) n FROM campaign_numbers")[0]["n"]
    assert len(applied) == numbers
    assert "Stopping: letting in-flight changes finish" in err
    assert "Apply interrupted:" in err and "Traceback" not in err
    assert no_duplicates(slow_emulator)


# -- errors that stop apply before it applies: one line on stderr, and a report -----


def test_no_terminal_refusal_is_the_same_and_reports_the_plan(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "apply", "--format", "json", EXAMPLES)
    assert code == 1
    assert err.splitlines()[-1] == (
        "error: no terminal to confirm on: pass --auto-approve to apply without asking"
    )
    doc = report(out)
    assert doc["result"] == "error" and doc["error"]["type"] == "UsageError"
    assert doc["plan"]["empty"] is False
    assert {c["status"] for c in doc["changes"]} == {"not_attempted"}
    assert doc["counts"]["operations"] == 0
    assert cli_env.store.sql("SELECT COUNT(*) n FROM campaigns")[0]["n"] == 0


def test_an_unsafe_plan_is_refused_with_a_report(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    base = "version: 1\ncampaigns:\n" + "".join(
        f"  - name: c{i}\n    pitch: one\n" for i in range(10)
    )
    m = write_manifest(tmp_path / "m.yaml", base)
    assert run_cli(capsys, "apply", "--auto-approve", str(m))[0] == 0
    write_manifest(m, base.replace("pitch: one", "pitch: two"))
    code, out, err = run_cli(capsys, "apply", "-f", "json", "--auto-approve", str(m))
    assert code == 1
    assert err.splitlines()[-1].startswith("error: unsafe plan: ")
    assert err.splitlines()[-1].endswith("; review the plan and pass --force to apply it")
    doc = report(out)
    assert doc["error"]["type"] == "UnsafePlan" and doc["plan"]["unsafe"]
    assert (
        doc["error"]["message"] == err.splitlines()[-1].removeprefix("error: ").split("; review")[0]
    )
    assert {c["status"] for c in doc["changes"]} == {"not_attempted"}
    assert doc["convergence"]["converged"] is None


def test_a_failed_convergence_check_keeps_the_report_of_what_was_applied(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = sync.apply_plan

    def apply_then_break_reads(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        cli_env.faults.add_rule("500", "GET", r"/campaigns.*", count=-1)
        return result

    monkeypatch.setattr(sync, "apply_plan", apply_then_break_reads)
    m = write_manifest(tmp_path / "m.yaml", MANIFEST)
    code, out, err = run_cli(
        capsys, "apply", "-f", "json", "--auto-approve", "--max-retry-time", "0.3", str(m)
    )
    assert code == 1
    assert err.splitlines()[-1].startswith("error: could not check convergence: GET ")
    doc = report(out)
    assert doc["result"] == "error" and doc["convergence"]["converged"] is None
    assert {c["status"] for c in doc["changes"]} == {"applied"}
    assert doc["summary_line"].startswith("Apply complete: 1 campaign created")


def test_a_bad_manifest_reports_every_problem(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    m = write_manifest(tmp_path / "m.yaml", "version: 1\ncampaigns:\n  - pich: x\n")
    code, out, err = run_cli(capsys, "apply", "-f", "json", "--auto-approve", str(m))
    assert code == 1
    doc = report(out)
    assert doc["plan"] is None and doc["changes"] == []
    assert doc["error"]["type"] == "ManifestError"
    assert doc["error"]["details"] == [line for line in err.splitlines() if line.startswith(str(m))]
    assert len(doc["error"]["details"]) >= 2  # the unknown key and the missing name


def test_a_stale_saved_plan_reports_every_difference(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    m = write_manifest(tmp_path / "m.yaml", "version: 1\ncampaigns:\n  - name: s\n    pitch: a\n")
    assert run_cli(capsys, "apply", "--auto-approve", str(m))[0] == 0
    write_manifest(m, "version: 1\ncampaigns:\n  - name: s\n    pitch: b\n")
    plan_file = tmp_path / "plan.json"
    assert run_cli(capsys, "plan", "--out", str(plan_file), str(m))[0] == 0
    cid = str(cli_env.store.sql("SELECT id FROM campaigns")[0]["id"])
    client = UpcallClient.connect(cli_env.base_url, TOKEN, retry=FAST_RETRY)
    client.update_campaign(cid, CampaignAttributes(pitch="c", language="de"))
    code, out, err = run_cli(capsys, "apply", "-f", "json", str(plan_file))
    assert code == 1
    doc = report(out)
    details = [f'campaign {cid}: language (empty) -> "de"', f'campaign {cid}: pitch "a" -> "c"']
    assert doc["error"]["type"] == "StalePlan" and doc["error"]["details"] == details
    assert err.splitlines()[:2] == details
    assert err.splitlines()[2].startswith("error: the live account changed since the plan")
    assert len(err.splitlines()) == 3


# -- not converged: each remaining change explains itself ----------------------------

MANIFEST = """version: 1
contact_list: conv
campaigns:
  - name: conv
    pitch: Be brief
    numbers:
      - {phone: "+16507991144", first_name: Joey, last_name: Smith, address: {city: Fremont}}
"""


def _meddle_after_apply(monkeypatch: pytest.MonkeyPatch, emulator: Emulator) -> None:
    """Someone edits the account between apply's writes and its convergence check."""
    real = sync.apply_plan

    def apply_then_meddle(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        other = UpcallClient.connect(emulator.base_url, TOKEN, retry=FAST_RETRY)
        campaign = emulator.store.sql("SELECT id FROM campaigns")[0]["id"]
        contact = emulator.store.sql("SELECT id, list_id FROM list_contacts")[0]
        other.update_campaign(str(campaign), CampaignAttributes(pitch="Out of band"))
        other.update_contact(
            str(contact["list_id"]),
            str(contact["id"]),
            ContactAttributes(first_name="Joseph", address={"city": "Berkeley"}),
        )
        return result

    monkeypatch.setattr(sync, "apply_plan", apply_then_meddle)


def test_not_converged_explains_each_remaining_change(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    m = write_manifest(tmp_path / "m.yaml", MANIFEST)
    _meddle_after_apply(monkeypatch, cli_env)
    code, out, err = run_cli(capsys, "apply", "-f", "json", "--auto-approve", str(m))
    assert code == 1, err
    doc = report(out)
    assert doc["result"] == "not_converged" and doc["convergence"]["converged"] is False
    explained = {r["change"]["kind"]: r["explanation"] for r in doc["convergence"]["remaining"]}
    campaign = cli_env.store.sql("SELECT id FROM campaigns")[0]["id"]
    assert explained["update_campaign"] == ['pitch "Out of band" -> "Be brief"']
    # Joey's list contact now says Joseph, in Berkeley: each field, live -> wanted
    assert explained["update_contact"] == [
        'address.city "Berkeley" -> "Fremont"',
        'first_name "Joseph" -> "Joey"',
    ]
    assert len(doc["convergence"]["remaining"]) == 2
    assert doc["convergence"]["remaining"][0]["change"]["live_id"] == str(campaign)
    assert "The account did not converge" in err
    assert '      pitch "Out of band" -> "Be brief"' in err.splitlines()


def test_not_converged_in_text_explains_on_stdout(
    cli_env: Emulator,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    m = write_manifest(tmp_path / "m.yaml", MANIFEST)
    _meddle_after_apply(monkeypatch, cli_env)
    code, out, _ = run_cli(capsys, "apply", "--auto-approve", str(m))
    assert code == 1
    lines = out.splitlines()
    at = lines.index(
        "The account did not converge: a fresh plan of what was touched still shows 2 changes:"
    )
    assert lines[at + 1].startswith('  ~ campaign["conv"] (id ')
    assert lines[at + 2] == '      pitch "Out of band" -> "Be brief"'
    assert lines[at + 4 : at + 6] == [
        '      address.city "Berkeley" -> "Fremont"',
        '      first_name "Joseph" -> "Joey"',
    ]
    assert "Converged" not in out


def test_a_missing_object_explains_what_was_looked_for() -> None:
    joey = Contact(phone="+16507991144", extension="12", first_name="Joey", last_name="Smith")
    add = AddNumber(address="n", campaign="Q3", live_id="877", contact=joey)
    assert explain_change(add) == [
        'no number in campaign 877 is this person; looked for phone "+16507991144", '
        'extension "12", first_name "Joey", last_name "Smith"'
    ]
    create = CreateContact(address="c", contact=joey._replace(extension="", last_name=""))
    assert explain_change(create) == [
        'no list contact is this person; looked for phone "+16507991144", first_name "Joey"'
    ]
    campaign = CreateCampaign(address="c", campaign="Q3", values={"name": "Q3"})
    assert explain_change(campaign) == ['no live campaign is named "Q3"']


def test_on_a_terminal_the_prompt_goes_to_stderr_and_the_report_to_stdout(
    emulator: Emulator, tmp_path: Path
) -> None:
    """`apply --format json > report.json` on a terminal: the plan and the question
    show on the terminal (stderr), the answer comes from it, stdout is the report."""
    primary, secondary = pty.openpty()
    env = dict(os.environ, UPCALL_API_URL=emulator.base_url, UPCALL_AUTH_TOKEN=TOKEN)
    env.update(TERM="xterm-256color", COLUMNS="120")
    env.pop("NO_COLOR", None)
    report_file = tmp_path / "report.json"
    with report_file.open("w") as stdout:
        proc = subprocess.Popen(
            [sys.executable, "-m", "upcall_sync.cli", "apply", "--format", "json", EXAMPLES],
            stdin=secondary,
            stdout=stdout,
            stderr=secondary,
            env=env,
            close_fds=True,
        )
    os.close(secondary)
    terminal = b""
    answered = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if select.select([primary], [], [], 0.1)[0]:
            try:
                terminal += os.read(primary, 65536)
            except OSError:
                break
            if not answered and b"Enter a value:" in terminal:
                os.write(primary, b"yes\n")
                answered = True
    proc.wait(timeout=30)
    os.close(primary)
    text = terminal.decode("utf-8", "replace")
    scan(text, "the terminal")
    assert proc.returncode == 0, text
    assert "Do you want to apply these changes?" in text
    assert "upcall-sync will make these changes:" in text
    doc = report(report_file.read_text())
    assert doc["result"] == "converged"
