"""Never the wrong call (issue 23): renames are contact updates, a do-not-call list keeps
numbers out and pauses campaigns that hold them, and drift the API cannot apply is
counted. End to end through the real CLI against the emulator, under both readings of
campaign numbers (live details, or a copy taken when added)."""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from upcall_sync.emulator import Emulator, Faults

from .conftest import CONFIRMED, ROOT, TOKEN, connect, run_cli
from .helpers.reports import report

JOEY_PHONE = "+16507991144"


@contextlib.contextmanager
def _serving(monkeypatch: pytest.MonkeyPatch, **modes: Any) -> Iterator[Emulator]:
    emu = Emulator(
        tokens=[TOKEN], confirmed_numbers=list(CONFIRMED), faults=Faults(retry_after=0), **modes
    )
    monkeypatch.setenv("UPCALL_API_URL", emu.base_url)
    monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
    monkeypatch.delenv("UPCALL_AUTH_TOKEN_FILE", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    with emu:
        yield emu
    emu.store.close()


@pytest.fixture(params=["live", "copy"])
def reading(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    with _serving(monkeypatch, numbers_copy_contacts=request.param == "copy") as emu:
        yield emu


@pytest.fixture
def examples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of examples/ in the working directory (numbers_csv must stay inside it)."""
    monkeypatch.chdir(tmp_path)
    copy = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", copy, ignore=shutil.ignore_patterns("ci"))
    return copy


def _edit(path: Path, old: str, new: str, count: int) -> None:
    text = path.read_text()
    assert text.count(old) == count, f"expected {count} of {old!r} in {path}"
    path.write_text(text.replace(old, new))


def _people(emu: Emulator) -> dict[str, list[tuple[str, str]]]:
    """Campaign name -> (phone, first name) of each number, as the API shows them."""
    client = connect(emu)
    return {
        c.name: sorted((n.phone or "", n.first_name or "") for n in client.list_numbers(c.id))
        for c in client.list_campaigns()
    }


def _contacts(emu: Emulator) -> list[tuple[str, str, str]]:
    rows = emu.store.sql("SELECT phone, first_name, email FROM list_contacts ORDER BY id")
    return [(r["phone"], r["first_name"], r["email"]) for r in rows]


def _plan_json(capsys: pytest.CaptureFixture[str], examples: Path) -> dict[str, Any]:
    code, out, err = run_cli(capsys, "plan", "--format", "json", str(examples))
    assert code == 0, err
    doc: dict[str, Any] = json.loads(out)
    return doc


# -- 1. renames are renames -------------------------------------------------------------


def test_joey_to_joseph_applies_as_a_contact_rename(
    reading: Emulator, examples: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The fix of a name typo on a shared phone renames the contact: every campaign that
    held Joey holds one Joseph (live reading) or keeps its copy (copy reading, one
    counted difference); Janie is untouched; nobody is added; the next plan is empty."""
    assert run_cli(capsys, "apply", "--auto-approve", str(examples))[0] == 0
    before = _people(reading)
    held_joey = sorted(k for k, v in before.items() if (JOEY_PHONE, "Joey") in v)
    assert len(held_joey) == 2
    janie = [c for c in _contacts(reading) if c[1] == "Janie"]
    _edit(examples / "campaigns.yaml", "first_name: Joey", "first_name: Joseph", 2)

    code, out, err = run_cli(capsys, "plan", str(examples))
    assert code == 0, err
    assert "rename +16507991144 (Joey Smith) -> +16507991144 (Joseph Smith)" in out
    assert "0 numbers to add, 0 contacts to create, 1 to update" in out
    for name in held_joey:
        assert f'"{name}"' in out.split("rename", 1)[1]  # the edit names what it touches

    code, out, err = run_cli(capsys, "apply", "--auto-approve", str(examples))
    assert code == 0, out + err
    after = _people(reading)
    assert sum(map(len, after.values())) == sum(map(len, before.values()))  # nobody added
    copy = reading.api.modes.numbers_copy_contacts
    for name in held_joey:
        at_phone = [p for p in after[name] if p[0] == JOEY_PHONE]
        shown = "Joey" if copy else "Joseph"
        assert at_phone.count((JOEY_PHONE, shown)) == 1, after[name]
        assert (JOEY_PHONE, "Joey" if shown == "Joseph" else "Joseph") not in at_phone
    assert [c for c in _contacts(reading) if c[1] == "Janie"] == janie
    assert [c[1] for c in _contacts(reading) if c[0] == JOEY_PHONE].count("Joseph") == 1

    code, out, err = run_cli(capsys, "plan", "--detailed-exitcode", str(examples))
    assert code == 0, out + err
    doc = _plan_json(capsys, examples)
    assert doc["changes"] == []
    if copy:
        assert "No changes that the API can make; 1 number differs (see notices)" in out
        assert doc["unapplied_differences"] == 1
        renames = [n for n in doc["notices"] if n["kind"] == "unapplied_rename"]
        assert len(renames) == 1 and sorted(renames[0]["items"]) == held_joey
    else:
        assert "No changes. Live state matches the manifests." in out
        assert doc["unapplied_differences"] == 0


# -- 2. the do-not-call list ---------------------------------------------------------------

SURVEY = "Acme Q3 satisfaction survey"
PRIYA = "+14155550132"


def _status(emu: Emulator, name: str) -> str:
    [row] = emu.store.sql("SELECT status FROM campaigns WHERE name = ?", (name,))
    return str(row["status"])


def _dnc(examples: Path, entries: str) -> int:
    """Append a do_not_call list to the example; the line of its first entry."""
    path = examples / "campaigns.yaml"
    first = len(path.read_text().splitlines()) + 2
    with path.open("a") as f:
        f.write(f"do_not_call:\n{entries}")
    return first


def test_a_listed_campaign_number_fails_validate_with_file_and_line(
    examples: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = _dnc(examples, '  - "(312) 555-0176"\n  - "+1 415 555 0132 x999"\n')
    marcus = 1 + next(
        i
        for i, line in enumerate((examples / "campaigns.yaml").read_text().splitlines())
        if "Marcus" in line
    )
    code, _out, err = run_cli(capsys, "validate", str(examples))
    assert code == 1
    lines = [line for line in err.splitlines() if "do-not-call" in line]
    assert len(lines) == 1, err  # x999 is another extension: Priya (x204) is not listed
    assert lines[0].startswith(f"examples/campaigns.yaml:{marcus}:")  # Marcus Bell's entry
    assert "+13125550176 (Marcus Bell)" in lines[0]
    assert f"examples/campaigns.yaml:{entry}:5" in lines[0]  # the list entry
    assert "Traceback" not in err


def test_a_listed_number_in_a_csv_list_adds_up_across_files(
    examples: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (examples / "optouts.csv").write_text("phone,extension\n+1 415 555 0132,\n")
    (examples / "optouts.yaml").write_text("version: 1\ndo_not_call_csv: optouts.csv\n")
    _dnc(examples, '  - "+1 312 555 0176"\n')
    code, _out, err = run_cli(capsys, "validate", str(examples))
    assert code == 1
    assert "+14155550132 x204 (Priya Raman)" in err and "examples/optouts.csv:2" in err
    assert "+13125550176 (Marcus Bell)" in err


def test_apply_pauses_a_ready_campaign_holding_a_listed_number_and_keeps_it_paused(
    reading: Emulator, examples: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "apply", "--auto-approve", str(examples))[0] == 0
    assert _status(reading, SURVEY) == "ready"
    numbers = sum(map(len, _people(reading).values()))
    _dnc(examples, '  - "+1 415 555 0132"\n')  # Priya, every extension

    code, out, err = run_cli(capsys, "plan", str(examples))
    assert code == 0, err
    assert f'~ campaign["{SURVEY}"]' in out
    assert 'status  "ready" -> "paused"' in out
    assert "paused: it holds +14155550132 x204 (Priya Raman), on the do-not-call list" in out
    assert "warning: +14155550132 x204 (Priya Raman) is on the do-not-call list" in out
    assert "not in the manifests" not in out
    doc = _plan_json(capsys, examples)
    [pause] = [c for c in doc["changes"] if c["kind"] == "update_campaign"]
    assert pause["after"] == {"status": "paused"} and "do-not-call" in pause["reason"]

    assert run_cli(capsys, "apply", "--auto-approve", str(examples))[0] == 0
    assert _status(reading, SURVEY) == "paused"
    code, out, err = run_cli(capsys, "apply", "--auto-approve", str(examples))
    assert code == 0, out + err
    assert _status(reading, SURVEY) == "paused"  # the manifest's "ready" is held back
    code, out, err = run_cli(capsys, "plan", "--detailed-exitcode", str(examples))
    assert code == 0, out + err
    assert f'campaign "{SURVEY}" (id' in out and "stays paused, not ready" in out
    assert "recreate it without the number" in out
    # the number is in the manifests, left out by the do-not-call list: not "unmanaged"
    assert "not in the manifests" not in out
    assert "No changes that the API can make; 1 number differs (see notices)" in out
    assert sum(map(len, _people(reading).values())) == numbers


def test_a_pause_outside_the_targets_under_patch_replace_says_it_carries_the_caller_id(
    examples: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under `patch: replace` the pause of a campaign outside --target carries the
    manifests' from_number (the live one is never returned; a PATCH without it clears
    it). A manifest that moved the caller ID set it so, though no plan of that campaign
    was applied, and the pause's line said only 'paused'. It says so now."""
    with _serving(monkeypatch, patch_replace=True) as emu:
        path = examples / "campaigns.yaml"
        path.write_text(path.read_text().replace("version: 1", "version: 1\npatch: replace", 1))
        assert run_cli(capsys, "apply", "--auto-approve", str(examples))[0] == 0
        _dnc(examples, '  - "+1 415 555 0132"\n')  # Priya: only in the survey
        _edit(path, 'from_number: "+1 650 123 1234"', 'from_number: "+1 415 555 0100"', 1)
        target = ["--target", "Acme renewal reminders"]
        code, out, err = run_cli(capsys, "apply", "--auto-approve", *target, str(examples))
        assert code == 0, out + err
        assert "outside --target, paused all the same" in out
        assert "under `patch: replace` it carries the manifests' from_number" in out, out
        [row] = emu.store.sql("SELECT status, from_number FROM campaigns WHERE name = ?", (SURVEY,))
        assert (row["status"], row["from_number"]) == ("paused", "+14155550100")


def test_a_targeted_apply_still_pauses_a_ready_campaign_outside_its_targets(
    examples: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--target` narrows what a plan changes, but an opt-out is a legal stop: a ready
    campaign the targets leave out that holds a listed number is paused all the same
    (its status alone), by a plan, a saved plan and apply. It stayed ready, dialing."""
    with _serving(monkeypatch) as emu:
        assert run_cli(capsys, "apply", "--auto-approve", str(examples))[0] == 0
        assert _status(emu, SURVEY) == "ready"
        _dnc(examples, '  - "+1 415 555 0132"\n')  # Priya: only in the survey
        _edit(examples / "campaigns.yaml", "pitch: Be friendly", "pitch: Be kind", 1)
        target = ["--target", "Acme renewal reminders"]

        code, out, err = run_cli(capsys, "plan", *target, str(examples))
        assert code == 0, err
        assert f'~ campaign["{SURVEY}"]' in out
        assert "outside --target, paused all the same" in out
        assert "Be kind" not in out  # the rest of it is outside the targets
        plan_file = examples.parent / "targeted.plan"
        code, _out, err = run_cli(
            capsys, "plan", "-q", *target, "--out", str(plan_file), str(examples)
        )
        assert code == 0, err

        code, out, err = run_cli(capsys, "apply", str(plan_file))
        assert code == 0, out + err
        assert _status(emu, SURVEY) == "paused"
        [row] = emu.store.sql("SELECT pitch FROM campaigns WHERE name = ?", (SURVEY,))
        assert row["pitch"] != "Be kind"
        code, out, err = run_cli(capsys, "plan", "--detailed-exitcode", *target, str(examples))
        assert code == 0, out + err


def test_the_convergence_check_of_an_apply_without_targets_reads_what_it_touched(
    examples: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check is a plan targeted at the campaigns the apply touched: with a
    do-not-call list it read the numbers of every other ready campaign too, for guard
    pauses an apply of every campaign had already made (a campaign of thousands of
    numbers read again after a one-line edit elsewhere)."""
    with _serving(monkeypatch) as emu:
        _dnc(examples, '  - "+1 212 555 0199"\n')  # in no campaign
        assert run_cli(capsys, "apply", "--auto-approve", str(examples))[0] == 0
        _edit(examples / "campaigns.yaml", "pitch: Remind customers", "pitch: Tell customers", 1)
        [survey] = emu.store.sql("SELECT id FROM campaigns WHERE name = ?", (SURVEY,))
        start = len(emu.requests)
        code, out, err = run_cli(capsys, "apply", "--auto-approve", str(examples))
        assert code == 0 and "Converged" in out, out + err
        requests = emu.requests[start:]
        last_write = max(i for i, r in enumerate(requests) if r.method != "GET")
        check = [r.path for r in requests[last_write + 1 :]]
        assert check and not [p for p in check if f"/campaigns/{survey['id']}/" in p], check


def _plan_then_opt_out(examples: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """Apply `examples`, save a plan of a pitch edit, then list Priya (in the survey)
    as opted out: the saved plan is stale, and the survey holds a listed number."""
    assert run_cli(capsys, "apply", "--auto-approve", str(examples))[0] == 0
    plan_file = examples.parent / "before.plan"
    _edit(examples / "campaigns.yaml", "pitch: Be friendly", "pitch: Be kind", 1)
    assert run_cli(capsys, "plan", "-q", "--out", str(plan_file), str(examples))[0] == 0
    _dnc(examples, '  - "+1 415 555 0132"\n')
    return plan_file


def test_a_refused_apply_still_stops_the_calls_unsafe_or_a_stale_saved_plan(
    examples: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Apply refuses an unsafe plan (without --force) and a stale saved plan; the pause
    of a campaign holding a listed number was refused with the rest, so the person who
    asked not to be called kept being dialed. It goes alone now (status only); the
    refusal still fails the run, and nothing else is applied."""
    with _serving(monkeypatch) as emu:
        plan_file = _plan_then_opt_out(examples, capsys)

        code, out, err = run_cli(capsys, "apply", str(plan_file))
        assert code == 1 and "the manifests changed since the plan was made" in err, out + err
        assert "do-not-call stops go all the same" in out
        assert _status(emu, SURVEY) == "paused"
        [row] = emu.store.sql("SELECT pitch FROM campaigns WHERE name = ?", (SURVEY,))
        assert row["pitch"] == "Be friendly"  # the pause alone

        emu.store.sql("UPDATE campaigns SET status = 'ready' WHERE name = ?", (SURVEY,))
        path = examples / "campaigns.yaml"
        path.write_text(
            path.read_text().replace(
                "version: 1", "version: 1\nsafety: {min_existing: 1, max_update_percent: 10}", 1
            )
        )
        _edit(path, "pitch: Remind customers", "pitch: Tell customers", 1)  # 1 of 3: over 10%
        code, out, err = run_cli(capsys, "apply", "--auto-approve", str(examples))
        assert code == 1 and "unsafe plan" in err, out + err
        assert "do-not-call stops go all the same" in out
        assert _status(emu, SURVEY) == "paused"
        [row] = emu.store.sql("SELECT pitch FROM campaigns WHERE name = ?", (SURVEY,))
        assert row["pitch"] == "Be friendly"
        [row] = emu.store.sql("SELECT pitch FROM campaigns WHERE name LIKE 'Acme renewal%'")
        assert row["pitch"].startswith("Remind customers")

        # a manifest that retires it: the stop made outside an applied plan is still a
        # pause (it can be undone); archiving waits for the plan itself
        emu.store.sql("UPDATE campaigns SET status = 'ready' WHERE name = ?", (SURVEY,))
        _edit(path, "    status: ready ", "    status: archived ", 1)
        code, out, err = run_cli(capsys, "apply", "--auto-approve", str(examples))
        assert code == 1 and "unsafe plan" in err, out + err
        assert "paused (to be archived once the plan is applied)" in out
        assert _status(emu, SURVEY) == "paused"
        code, out, err = run_cli(capsys, "apply", "--auto-approve", "--force", str(examples))
        assert code == 0, out + err
        assert _status(emu, SURVEY) == "archived"


def test_the_json_report_of_a_refused_apply_lists_the_stops_it_made(
    examples: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`apply --format json` refusing a stale saved plan: the stops it made all the same
    are in the report (`stops`), not only on stderr, so CI sees a campaign was paused."""
    with _serving(monkeypatch) as emu:
        plan_file = _plan_then_opt_out(examples, capsys)
        code, out, err = run_cli(capsys, "apply", "--format", "json", str(plan_file))
        assert code == 1, err
        doc = report(out)
        assert doc["result"] != "applied" and doc["changes"] == []
        [stop] = doc["stops"]
        assert (stop["campaign"], stop["status"], stop["kind"]) == (
            SURVEY,
            "applied",
            "update_campaign",
        )
        assert _status(emu, SURVEY) == "paused"
        code, out, _err = run_cli(
            capsys, "apply", "--format", "json", "--auto-approve", str(examples)
        )
        assert report(out)["stops"] == []


@pytest.mark.parametrize(("signame", "exit_code"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_ctrl_c_during_the_stops_keeps_those_made_in_the_json_report(
    signame: str,
    exit_code: int,
    examples: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Ctrl-C while a refused apply made its stops ended it at once, and the JSON report
    said nothing of the pause already made. Now the stop in flight finishes, none more
    starts, and the report lists it; the exit code is 130 (143 for SIGTERM: it was a quiet
    130 for both, the stops' own handler having kept the signal from the command line's)
    and stderr ends saying so, as for a signal at any other time."""
    import signal

    # as on a terminal: a suite started in the background runs with SIGINT ignored, and
    # apply leaves a signal it was started ignoring ignored
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    term = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        _interrupt_the_first_stop(examples, capsys, monkeypatch, getattr(signal, signame))
    finally:
        signal.signal(signal.SIGINT, before)
        signal.signal(signal.SIGTERM, term)


def _interrupt_the_first_stop(
    examples: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    signum: int,
) -> None:
    import os
    import signal

    with _serving(monkeypatch) as emu:
        plan_file = _plan_then_opt_out(examples, capsys)
        interrupted: list[str] = []
        for i, (method, pattern, handler) in enumerate(emu.api.routes):
            if method != "PATCH" or "contacts" in pattern.pattern:
                continue

            def ctrl_c(api: Any, req: Any, acct: int, match: Any, _h: Any = handler) -> Any:
                if not interrupted:  # the first stop: Ctrl-C while it is in flight
                    interrupted.append(req.path)
                    os.kill(os.getpid(), signum)
                return _h(api, req, acct, match)

            emu.api.routes[i] = (method, pattern, ctrl_c)
        code, out, err = run_cli(capsys, "apply", "--format", "json", str(plan_file))
        expected = 143 if signum == signal.SIGTERM else 130
        assert interrupted and code == expected, err
        assert err.rstrip().endswith("error: interrupted"), err
        # the refusal is not lost to the interrupt: said first, and kept as the error
        assert (
            "error: the manifests changed since the plan was made"
            in err.split("error: interrupted")[0]
        ), err
        doc = report(out)
        assert doc["exit_code"] == expected
        assert doc["interrupted"] is True and doc["result"] == "interrupted"
        assert doc["error"]["type"] == "StalePlan", doc["error"]
        [stop] = doc["stops"]
        assert (stop["campaign"], stop["status"]) == (SURVEY, "applied"), doc["stops"]
        assert _status(emu, SURVEY) == "paused"


@contextlib.contextmanager
def _ctrl_c_as_on_a_terminal() -> Iterator[None]:
    import signal

    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def test_ctrl_c_while_an_apply_that_cannot_plan_reads_for_its_stops_keeps_the_refusal(
    examples: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No plan can be made (a twin campaign), and the account is read again for the
    do-not-call stops: a Ctrl-C during that read lost the refusal (stderr said only
    "interrupted", the JSON report's error was KeyboardInterrupt with result error), as
    it keeps it during the stops themselves."""
    import os
    import signal

    from upcall_sync.client import CampaignAttributes
    from upcall_sync.jobs import sync

    reads = sync.stops_for_plan_error

    def ctrl_c_then_read(*args: Any) -> Any:
        os.kill(os.getpid(), signal.SIGINT)  # as the read starts
        return reads(*args)

    with _serving(monkeypatch) as emu, _ctrl_c_as_on_a_terminal():
        assert run_cli(capsys, "apply", "--auto-approve", str(examples))[0] == 0
        renewal = "Acme renewal reminders"
        connect(emu).create_campaign(CampaignAttributes(name=renewal, status="pending"))
        _dnc(examples, '  - "+1 415 555 0132"\n')  # Priya, in the survey
        monkeypatch.setattr(sync, "stops_for_plan_error", ctrl_c_then_read)
        code, out, err = run_cli(
            capsys, "apply", "--auto-approve", "--format", "json", str(examples)
        )
        assert code == 130, err
        said, _, last = err.rpartition("error: interrupted")
        assert last.strip() == "" and f'2 active live campaigns are named "{renewal}"' in said
        doc = report(out)
        assert doc["exit_code"] == 130
        assert doc["interrupted"] is True and doc["result"] == "interrupted"
        assert doc["error"]["type"] == "PlanError", doc["error"]


def test_ctrl_c_during_an_unsafe_plans_stops_says_the_refusal_as_it_would_be_said(
    examples: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refusal said before "interrupted" is the one a run without the signal says:
    with its hint (it was its first line alone: no hint, no StalePlan differences, one
    problem of several)."""
    with _serving(monkeypatch) as emu, _ctrl_c_as_on_a_terminal():
        assert run_cli(capsys, "apply", "--auto-approve", str(examples))[0] == 0
        _dnc(examples, '  - "+1 415 555 0132"\n')  # Priya, in the survey
        path = examples / "campaigns.yaml"
        safety = "version: 1\nsafety: {min_existing: 1, max_update_percent: 10}"
        _edit(path, "version: 1", safety, 1)
        _edit(path, "pitch: Remind customers", "pitch: Tell customers", 1)  # over 10%
        _interrupt_first_patch(emu)
        code, _out, err = run_cli(capsys, "apply", "--auto-approve", str(examples))
        assert code == 130, err
        said, _, last = err.rpartition("error: interrupted")
        assert last.strip() == "", err
        assert "unsafe plan:" in said and "review the plan and pass --force" in said, err
        assert _status(emu, SURVEY) == "paused"


def _interrupt_first_patch(emu: Emulator) -> None:
    import os
    import signal

    sent: list[str] = []
    for i, (method, pattern, handler) in enumerate(emu.api.routes):
        if method != "PATCH" or "contacts" in pattern.pattern:
            continue

        def ctrl_c(api: Any, req: Any, acct: int, match: Any, _h: Any = handler) -> Any:
            if not sent:
                sent.append(req.path)
                os.kill(os.getpid(), signal.SIGINT)
            return _h(api, req, acct, match)

        emu.api.routes[i] = (method, pattern, ctrl_c)


def test_an_apply_that_cannot_plan_still_stops_the_calls(
    examples: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two active campaigns of one name (a concurrent apply's twin) stop every plan; the
    pause of another campaign that holds a listed number stopped with it."""
    from upcall_sync.client import CampaignAttributes

    with _serving(monkeypatch) as emu:
        assert run_cli(capsys, "apply", "--auto-approve", str(examples))[0] == 0
        renewal = "Acme renewal reminders"
        connect(emu).create_campaign(CampaignAttributes(name=renewal, status="pending"))
        _dnc(examples, '  - "+1 415 555 0132"\n')  # Priya, in the survey
        code, out, err = run_cli(capsys, "apply", "--auto-approve", str(examples))
        assert code == 1 and f'2 active live campaigns are named "{renewal}"' in err, out + err
        assert "no plan could be made" in out
        assert _status(emu, SURVEY) == "paused"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_an_apply_whose_manifests_do_not_validate_still_stops_the_calls(
    examples: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    """An opt-out added in a file of its own while another file holds a mistake (found by
    a break-it review, b42): apply stopped at the manifest error and the survey kept
    dialing Priya. What validates counts for the stops: each entry of the list that reads
    as a phone (one that does not is reported, and the rest still stop), and each
    campaign entry that validates."""
    with _serving(monkeypatch) as emu:
        assert run_cli(capsys, "apply", "--auto-approve", str(examples))[0] == 0
        assert _status(emu, SURVEY) == "ready"
        dnc = examples / "do-not-call.yaml"
        dnc.write_text('version: 1\ndo_not_call:\n  - "+1 415 555 0132"\n  - "+1 555"\n')
        (examples / "later.yaml").write_text(
            'version: 1\ncampaigns:\n  - name: Later\n    numbers:\n      - {phone: "+1 555"}\n'
        )
        code, out, err = run_cli(capsys, "apply", "--format", fmt, "--auto-approve", str(examples))
        assert code == 1 and "later.yaml" in err and "do-not-call.yaml:4" in err, out + err
        assert "do-not-call stops go" in err + out
        assert _status(emu, SURVEY) == "paused"
        if fmt == "json":
            doc = report(out)
            assert "do-not-call.yaml:4" in doc["error"]["message"] and doc["changes"] == []
            assert [(s["campaign"], s["status"]) for s in doc["stops"]] == [(SURVEY, "applied")]


@pytest.mark.parametrize("mistake", ["list", "defaults"])
def test_a_stop_of_manifests_that_do_not_validate_keeps_the_caller_id_under_replace(
    examples: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    mistake: str,
) -> None:
    """A mistake in the file that sets `patch: replace` (a do-not-call entry that is not
    a phone, or another field of its defaults) dropped all its settings from the stops of
    the refused apply: the pause went as under `merge`, without the defaults'
    from_number, and the replacing PATCH silently cleared the survey's caller ID (found
    by a break-it review, b43). Each setting (and default) that validates alone counts."""
    with _serving(monkeypatch, patch_replace=True) as emu:
        path = examples / "campaigns.yaml"
        path.write_text(path.read_text().replace("version: 1", "version: 1\npatch: replace", 1))
        assert run_cli(capsys, "apply", "--auto-approve", str(examples))[0] == 0
        if mistake == "list":
            _dnc(examples, '  - "+1 415 555 0132"\n  - "+1 555"\n')  # Priya, and a mistake
        else:
            _dnc(examples, '  - "+1 415 555 0132"\n')  # Priya
            _edit(path, "  language: en\n", "  language: en\n  bogus: 1\n", 1)
        code, out, err = run_cli(capsys, "apply", "--auto-approve", str(examples))
        assert code == 1 and "do-not-call stops go" in out, out + err
        [row] = emu.store.sql("SELECT status, from_number FROM campaigns WHERE name = ?", (SURVEY,))
        assert (row["status"], row["from_number"]) == ("paused", "+16501231234")


@pytest.mark.parametrize(
    "where",
    [
        "settings",  # beside a setting that does not validate
        "entry",  # in a campaign entry that does not validate
    ],
)
def test_a_manifest_holding_the_token_where_it_does_not_validate_refuses_the_stops_too(
    examples: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """The token check refuses everything; of manifests that do not validate it saw only
    what validates, so the token typed into an entry or setting with a mistake let the
    stops of the refused apply go (found by a break-it review, b43)."""
    with _serving(monkeypatch) as emu:
        assert run_cli(capsys, "apply", "--auto-approve", str(examples))[0] == 0
        (examples / "dnc.yaml").write_text('version: 1\ndo_not_call:\n  - "+1 415 555 0132"\n')
        held = (
            f'version: 1\ncontact_list: "{TOKEN}"\nsafety: 3\n'
            if where == "settings"
            else f'version: 1\ncampaigns:\n  - name: Later\n    pitch: "{TOKEN}"\n    status: on\n'
        )
        (examples / "later.yaml").write_text(held)
        try:
            code, out, err = run_cli(capsys, "apply", "--auto-approve", str(examples))
        finally:  # it holds the token on purpose: the session's file scan skips it
            (examples / "later.yaml").unlink()
        assert code == 1 and "do-not-call stops go" not in out, out + err
        assert _status(emu, SURVEY) == "ready"


@pytest.mark.parametrize(
    ("mistake", "status"),
    [
        ("    bogus_key: 1\n", "paused"),  # beside its name: it still guards its campaign
        ('    id: "not an id"\n', "ready"),  # its pin: which campaign it means is unknown
    ],
)
def test_a_campaign_entry_with_a_mistake_still_guards_the_campaign_it_names(
    examples: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    mistake: str,
    status: str,
) -> None:
    """Priya opted out while the survey's own entry was edited with a mistake: of
    manifests that do not validate only the campaign entries that validate counted, so
    the survey kept dialing her (found by a break-it review, b43). An entry whose name
    (and id:, and from_number) validate still guards the campaign it names."""
    with _serving(monkeypatch) as emu:
        assert run_cli(capsys, "apply", "--auto-approve", str(examples))[0] == 0
        _dnc(examples, '  - "+1 415 555 0132"\n')  # Priya: only in the survey
        _edit(examples / "campaigns.yaml", "    pitch: Be friendly\n", mistake, 1)
        code, out, err = run_cli(capsys, "apply", "--auto-approve", str(examples))
        assert code == 1 and "campaigns[0]" in err, out + err
        assert _status(emu, SURVEY) == status


def test_a_stale_saved_plan_that_cannot_be_planned_again_still_stops_the_calls(
    examples: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stale saved plan's stops come from a fresh plan of its manifests; when that
    plan fails too (a twin of another campaign made since), the stops were dropped
    (the survey kept dialing Priya) where apply of the manifests themselves makes them."""
    from upcall_sync.client import CampaignAttributes

    with _serving(monkeypatch) as emu:
        plan_file = _plan_then_opt_out(examples, capsys)
        renewal = "Acme renewal reminders"
        connect(emu).create_campaign(CampaignAttributes(name=renewal, status="pending"))
        code, out, err = run_cli(capsys, "apply", str(plan_file))
        assert code == 1 and "the manifests changed since the plan was made" in err, out + err
        assert "no plan could be made" in out
        assert _status(emu, SURVEY) == "paused"


def _unsafe_under_replace(examples: Path, capsys: pytest.CaptureFixture[str], caller: str) -> None:
    """`examples` applied under `patch: replace`; then Priya (in the survey) opted out,
    safety limits that make the next plan unsafe, and the caller ID moved to `caller`."""
    path = examples / "campaigns.yaml"
    path.write_text(path.read_text().replace("version: 1", "version: 1\npatch: replace", 1))
    assert run_cli(capsys, "apply", "--auto-approve", str(examples))[0] == 0
    _dnc(examples, '  - "+1 415 555 0132"\n')  # Priya, in the survey
    safety = "version: 1\nsafety: {min_existing: 1, max_update_percent: 10}"
    _edit(path, "version: 1", safety, 1)
    _edit(path, 'from_number: "+1 650 123 1234"', f'from_number: "{caller}"', 1)


def test_a_refused_plan_stop_under_patch_replace_keeps_a_caller_id(
    examples: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under `patch: replace` a refused (unsafe) plan's stop of a campaign whose
    from_number the manifests change sent no from_number (its live one cannot be read),
    so the replacing PATCH cleared the caller ID; the manifest's goes, as in a guard
    pause."""
    with _serving(monkeypatch, patch_replace=True) as emu:
        _unsafe_under_replace(examples, capsys, "+1 415 555 0100")
        code, out, err = run_cli(capsys, "apply", "--auto-approve", str(examples))
        assert code == 1 and "unsafe plan" in err, out + err
        [row] = emu.store.sql(
            "SELECT status, from_number, pitch FROM campaigns WHERE name = ?", (SURVEY,)
        )
        assert (row["status"], row["pitch"]) == ("paused", "Be friendly")
        assert row["from_number"] == "+14155550100"


def test_a_stop_whose_caller_id_is_refused_is_made_alone_and_reported_done(
    examples: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under `patch: replace` the stop of an unsafe plan carries the manifest's new
    from_number; the API refuses that caller ID, and the pause goes alone. The stop was
    then reported `failed` (its other changes were not made: it has none), so anything
    reading the JSON `stops` thought the listed person might still be called. The pause
    was the whole stop: it is `applied`, its message saying how."""
    with _serving(monkeypatch, patch_replace=True) as emu:
        _unsafe_under_replace(examples, capsys, "+1 415 555 0000")  # not confirmed
        code, out, err = run_cli(
            capsys, "apply", "--auto-approve", "--format", "json", str(examples)
        )
        assert code == 1 and "unsafe plan" in err, out + err
        [stop] = report(out)["stops"]
        assert (stop["campaign"], stop["status"]) == (SURVEY, "applied"), stop
        assert "paused alone after the API refused it as sent" in stop["message"]
        assert "from_number: Couldn't find that number" in stop["message"]
        assert _status(emu, SURVEY) == "paused"


def test_a_stop_under_patch_replace_without_a_caller_id_says_it_clears_it(
    examples: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under `patch: replace` a campaign whose manifest sets no from_number cannot be
    updated (plan refuses), yet its pause for the do-not-call list goes: a listed person
    is not called. The replacing PATCH clears the caller ID (write-only, never read
    back); the stop said nothing of it, and now its line does."""
    with _serving(monkeypatch, patch_replace=True) as emu:
        path = examples / "campaigns.yaml"
        assert run_cli(capsys, "apply", "--auto-approve", str(examples))[0] == 0
        [row] = emu.store.sql("SELECT from_number FROM campaigns WHERE name = ?", (SURVEY,))
        assert row["from_number"] == "+16501231234"
        _edit(path, "version: 1", "version: 1\npatch: replace", 1)
        _edit(path, '  from_number: "+1 650 123 1234"  # must', "  # no from_number  # must", 1)
        _dnc(examples, '  - "+1 415 555 0132"\n')  # Priya, in the survey
        code, out, err = run_cli(capsys, "apply", "--auto-approve", str(examples))
        assert code == 1 and "needs from_number in the manifests" in err, out + err
        assert "no plan could be made" in out
        assert "this PATCH clears its caller ID" in out, out
        [row] = emu.store.sql(
            "SELECT status, from_number, pitch FROM campaigns WHERE name = ?", (SURVEY,)
        )
        assert (row["status"], row["pitch"], row["from_number"]) == ("paused", "Be friendly", None)


def test_a_listed_number_is_never_added_and_the_rest_is_planned(
    examples: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with _serving(monkeypatch) as emu:
        _dnc(examples, '  - "(650) 799-1144"\n')  # Joey and Janie's shared phone
        code, out, err = run_cli(capsys, "apply", "--auto-approve", str(examples))
        assert code == 0, out + err
        people = _people(emu)
        assert all(p[0] != JOEY_PHONE for held in people.values() for p in held)
        assert (PRIYA, "Priya") in people[SURVEY]
        assert _status(emu, SURVEY) == "ready"


# -- 3. adopted people --------------------------------------------------------------------

ADOPTED = """\
version: 1
contact_list: acme-outbound
{extra}campaigns:
  - name: Adopted
    status: paused
    numbers:
      - {{phone: "+16507991144", first_name: Joey, last_name: Smith, email: {email}}}
"""


def _adopt(emu: Emulator) -> None:
    """A campaign whose number was added from a list upcall-sync does not own."""
    from upcall_sync.client import CampaignAttributes, ContactAttributes

    client = connect(emu)
    dashboard = client.create_list("dashboard")
    joey = client.create_contact(
        dashboard.id,
        ContactAttributes(
            phone=JOEY_PHONE, first_name="Joey", last_name="Smith", email="joey@safeway.com"
        ),
    )
    campaign = client.create_campaign(CampaignAttributes(name="Adopted", status="paused"))
    client.add_number(campaign.id, joey.id)


def test_a_changed_detail_of_an_adopted_person_is_drift_never_no_changes(
    reading: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    _adopt(reading)
    manifest = tmp_path / "adopted.yaml"
    manifest.write_text(ADOPTED.format(extra="", email="joey@safeway.com"))
    assert run_cli(capsys, "plan", "--detailed-exitcode", str(manifest))[:2] == (
        0,
        "No changes. Live state matches the manifests.\n",
    )
    manifest.write_text(ADOPTED.format(extra="", email="joseph@safeway.com"))
    code, out, err = run_cli(capsys, "plan", "--detailed-exitcode", str(manifest))
    assert code == 0, err
    assert "No changes that the API can make; 1 number differs (see notices)" in out
    assert "manage_other_lists: true" in out

    manifest.write_text(
        ADOPTED.format(extra="manage_other_lists: true\n", email="joseph@safeway.com")
    )
    code, out, err = run_cli(capsys, "plan", str(manifest))
    assert code == 0, err
    assert 'contact_list["dashboard"].contact["+16507991144 (Joey Smith)"]' in out
    assert 'email  "joey@safeway.com" -> "joseph@safeway.com"' in out
    assert 'campaign "Adopted" show this contact' in out
    code, out, err = run_cli(capsys, "apply", "--auto-approve", str(manifest))
    assert code == 0, out + err
    assert ("+16507991144", "Joey", "joseph@safeway.com") in _contacts(reading)
    assert len(_contacts(reading)) == 1  # updated in its own list, nothing created
    code, out, err = run_cli(capsys, "plan", "--detailed-exitcode", str(manifest))
    assert code == 0, out + err
    if reading.api.modes.numbers_copy_contacts:
        assert "No changes that the API can make; 1 number differs (see notices)" in out
    else:
        assert "No changes. Live state matches the manifests." in out


def test_a_bad_do_not_call_entry_is_one_line_each_with_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_text(
        "version: 1\ndo_not_call:\n  - abc\n  - 16505551234\ndo_not_call_csv: nothere.csv\n"
        'manage_other_lists: "yes"\ncampaigns: []\n'
    )
    code, _out, err = run_cli(capsys, "validate", "bad.yaml")
    assert code == 1
    assert 'bad.yaml:3:5: do_not_call[0]: "abc" is not a valid phone number' in err
    assert "bad.yaml:4:5: do_not_call[1]: expected text" in err
    assert 'bad.yaml:5:18: do_not_call_csv: "nothere.csv" does not exist' in err
    assert 'bad.yaml:6:21: manage_other_lists: expected true or false, got text "yes"' in err
    assert "Traceback" not in err


def test_a_pause_goes_through_when_the_api_refuses_another_field_of_its_update(
    reading: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """The pause rode in one PATCH with the manifest's other edits: a caller ID the
    account has not confirmed made the API refuse it all, and the campaign stayed
    ready, dialing the listed person. The pause now goes alone; the change still fails."""
    monkeypatch.chdir(tmp_path)
    manifest = tmp_path / "m.yaml"
    manifest.write_text(
        "version: 1\ncampaigns:\n  - name: Held\n    status: ready\n    pitch: hello\n"
        "    numbers:\n"
        '      - {phone: "+16507991144", first_name: Joey}\n'
        '      - {phone: "+14155550132", first_name: Priya}\n'
    )
    assert run_cli(capsys, "apply", "--auto-approve", str(manifest))[0] == 0
    manifest.write_text(
        'version: 1\ndo_not_call: ["+1 650 799 1144"]\ncampaigns:\n'
        "  - name: Held\n    status: ready\n    pitch: hello again\n"
        '    from_number: "+1 415 555 0000"\n    numbers:\n'
        '      - {phone: "+14155550132", first_name: Priya}\n'
    )
    code, out, err = run_cli(capsys, "apply", "--auto-approve", str(manifest))
    assert code == 1, out + err
    assert "Couldn't find that number" in out and "paused all the same" in out
    assert "will not fix (HTTP 400)" in out
    [campaign] = connect(reading).list_campaigns(name="Held")
    assert (campaign.status, campaign.pitch) == ("paused", "hello")


def _refuse_pitch(monkeypatch: pytest.MonkeyPatch, pitch: str, message: str) -> None:
    """From now on the emulator refuses a campaign PATCH carrying `pitch` (a 400 naming
    the pitch), as an API that no longer takes a value would."""
    from upcall_sync.emulator.exchange import bad
    from upcall_sync.emulator.store import Store

    update = Store.update_campaign

    def refuse(self: Store, account: int, cid: int, values: dict[str, Any]) -> Any:
        if values.get("pitch") == pitch:
            raise bad("pitch", message)
        return update(self, account, cid, values)

    monkeypatch.setattr(Store, "update_campaign", refuse)


HELD = """\
version: 1
patch: replace
{dnc}campaigns:
  - name: Held
    status: ready
    pitch: hello
    from_number: "{caller}"
    numbers:
      - {{phone: "+14155550132", first_name: Priya}}
{joey}  - name: Other
    status: paused
    pitch: {pitch}
    from_number: "+16501231234"
"""


def test_a_pause_alone_keeps_a_caller_id_the_refusal_is_not_about(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """Under `patch: replace`, an update refused for another field (a pitch the API will
    not take) still pauses the campaign alone; its caller ID, unchanged and not what was
    refused, goes with the pause, so the replacing PATCH keeps it (a pause that dropped
    every from_number cleared it here too)."""
    monkeypatch.chdir(tmp_path)
    manifest = tmp_path / "m.yaml"
    joey = '      - {phone: "+16507991144", first_name: Joey}\n'
    with _serving(monkeypatch, patch_replace=True) as emu:
        manifest.write_text(HELD.format(dnc="", caller="+16501231234", joey=joey, pitch="x"))
        assert run_cli(capsys, "apply", "--auto-approve", str(manifest))[0] == 0
        _refuse_pitch(monkeypatch, "too long", "is too long")
        edited = HELD.format(
            dnc='do_not_call: ["+1 650 799 1144"]\n', caller="+16501231234", joey="", pitch="x"
        ).replace("pitch: hello", "pitch: too long")
        manifest.write_text(edited)
        code, out, err = run_cli(capsys, "apply", "--auto-approve", str(manifest))
        assert code == 1, out + err
        assert "is too long" in out and "paused all the same" in out, out
        assert "paused without from_number" not in out
        [held] = emu.store.sql(
            "SELECT status, pitch, from_number FROM campaigns WHERE name = 'Held'"
        )
        assert (held["status"], held["pitch"], held["from_number"]) == (
            "paused",
            "hello",
            "+16501231234",
        )


@pytest.mark.parametrize("targeted", [False, True], ids=["whole-plan", "outside-target"])
def test_a_pause_alone_under_patch_replace_goes_without_the_refused_caller_id(
    targeted: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """Under `patch: replace` a pause carries the manifest's from_number (it cannot be
    read back). When the API refused that caller ID, the pause sent alone carried it
    again and was refused again: a campaign outside --target (or under an unsafe plan
    or a stale saved plan) stayed ready, dialing a listed person. And in a whole plan
    the pause alone cleared the caller ID while saying 'its other changes were not
    made'. The pause now goes without from_number, and says the caller ID is cleared."""
    monkeypatch.chdir(tmp_path)
    manifest = tmp_path / "m.yaml"
    joey = '      - {phone: "+16507991144", first_name: Joey}\n'
    first = HELD.format(dnc="", caller="+16501231234", joey=joey, pitch="x")
    with _serving(monkeypatch, patch_replace=True) as emu:
        manifest.write_text(first)
        assert run_cli(capsys, "apply", "--auto-approve", str(manifest))[0] == 0
        manifest.write_text(
            HELD.format(
                dnc='do_not_call: ["+1 650 799 1144"]\n',
                caller="+1 415 555 0000",
                joey="",
                pitch="y",
            )
        )
        target = ["--target", "Other"] if targeted else []
        code, out, err = run_cli(
            capsys, "apply", "--auto-approve", "--quiet", *target, str(manifest)
        )
        # the whole plan fails (Held's caller ID is refused); outside --target the stop is
        # the whole change, made by the pause alone: done, with a warning even with --quiet
        assert code == (0 if targeted else 1), out + err
        cleared = "paused without from_number (under `patch: replace` that PATCH clears"
        if targeted:
            [held_id] = emu.store.sql("SELECT id FROM campaigns WHERE name = 'Held'")
            said = f'campaign["Held"] (id {held_id["id"]}): paused alone after the API refused'
            assert said in err and "Couldn't find that number" in err and cleared in err, err
        else:
            assert "Couldn't find that number" in out and "paused all the same" in out
            assert cleared in out, out
        [held] = emu.store.sql(
            "SELECT status, pitch, from_number FROM campaigns WHERE name = 'Held'"
        )
        assert (held["status"], held["pitch"], held["from_number"]) == ("paused", "hello", None)


def test_a_pause_alone_refused_too_says_the_campaign_still_dials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """The update is refused (a caller ID not confirmed) and so is the pause sent alone
    (the live pitch it carries back, which the API no longer takes): the campaign stays
    ready, holding a listed number. The failure said only the pause's refusal, as any
    field error, never that the listed person is still being called."""
    monkeypatch.chdir(tmp_path)
    manifest = tmp_path / "m.yaml"
    joey = '      - {phone: "+16507991144", first_name: Joey}\n'
    with _serving(monkeypatch) as emu:
        manifest.write_text(HELD.format(dnc="", caller="+16501231234", joey=joey, pitch="x"))
        assert run_cli(capsys, "apply", "--auto-approve", str(manifest))[0] == 0
        _refuse_pitch(monkeypatch, "hello", "is no longer accepted")
        edited = HELD.format(
            dnc='do_not_call: ["+1 650 799 1144"]\n', caller="+14155550000", joey="", pitch="x"
        ).replace("pitch: hello", "pitch: hello again")
        manifest.write_text(edited)
        code, out, err = run_cli(capsys, "apply", "--auto-approve", str(manifest))
        assert code == 1, out + err
        [held] = emu.store.sql("SELECT status FROM campaigns WHERE name = 'Held'")
        assert held["status"] == "ready"
        assert "Couldn't find that number" in out, out
        assert "is no longer accepted" in out, out
        assert "NOT paused" in out and "pause it in Upcall now" in out, out
        assert "paused all the same" not in out, out


def test_an_unsafe_plans_stop_says_it_sets_the_manifests_caller_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """Under `patch: replace` the stop of an unsafe plan carries the manifest's new
    from_number (one without it would clear the caller ID): the caller ID changed from
    +16501231234 to +14155550100 while the plan was refused, its line saying only
    "paused", and the next plan no longer showed the change. The stop now says so."""
    monkeypatch.chdir(tmp_path)
    manifest = tmp_path / "m.yaml"
    joey = '      - {phone: "+16507991144", first_name: Joey}\n'
    unsafe = "safety: {min_existing: 1}\n"
    with _serving(monkeypatch, patch_replace=True) as emu:
        manifest.write_text(
            unsafe + HELD.format(dnc="", caller="+16501231234", joey=joey, pitch="x")
        )
        assert run_cli(capsys, "apply", "--auto-approve", str(manifest))[0] == 0
        manifest.write_text(
            unsafe
            + HELD.format(
                dnc='do_not_call: ["+1 650 799 1144"]\n', caller="+14155550100", joey="", pitch="y"
            )
        )
        code, out, err = run_cli(capsys, "apply", "--auto-approve", str(manifest))
        assert code == 1 and "unsafe plan" in err, out + err
        [held] = emu.store.sql("SELECT status, from_number FROM campaigns WHERE name = 'Held'")
        assert (held["status"], held["from_number"]) == ("paused", "+14155550100")
        [stop] = [line for line in out.splitlines() if 'campaign["Held"] (paused' in line]
        assert "done" in stop and 'from_number "+14155550100"' in stop, stop
        assert "the campaign's caller ID from now on" in stop, stop


def test_a_do_not_call_csv_with_a_bad_row_still_stops_the_calls_of_its_good_rows(
    examples: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Priya opted out in a CRM export whose other row a spreadsheet mangled: the apply
    that the bad row refuses paused nothing (a file with a problem listed no phone),
    while one bad `do_not_call:` entry leaves the others' stops (found by helper b68)."""
    with _serving(monkeypatch) as emu:
        assert run_cli(capsys, "apply", "--auto-approve", str(examples))[0] == 0
        (examples / "optouts.csv").write_text("Phone Number\n00 1 555\n+1 (415) 555-0132\n")
        with (examples / "campaigns.yaml").open("a") as f:
            f.write("do_not_call_csv: optouts.csv\n")
        code, out, err = run_cli(capsys, "validate", str(examples))
        assert code == 1
        assert "optouts.csv:2:1: phone: " in err and "on the do-not-call list" in err, err
        code, out, err = run_cli(capsys, "apply", "--auto-approve", str(examples))
        assert code == 1 and "optouts.csv:2:1: phone: " in err, out + err
        assert "no plan could be made" in out, out
        assert _status(emu, SURVEY) == "paused"


@pytest.mark.parametrize(
    "row",
    [
        "+1 (415) 555-0132,,asked on 3/4",  # a note in a cell the header does not name
        "+1 (415) 555-0132",  # the extension left out without its comma
    ],
)
def test_a_do_not_call_csv_row_of_another_width_still_stops_the_calls_of_its_phone(
    examples: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, row: str
) -> None:
    """A do-not-call row with a cell too many or too few was dropped with its error: the
    apply it refused left Priya's ready campaign dialing her, while a bad phone in
    the same row stopped it (found by helper b70). A row whose phone cell holds no
    phone (a title line) is its one error, not two."""
    with _serving(monkeypatch) as emu:
        assert run_cli(capsys, "apply", "--auto-approve", str(examples))[0] == 0
        (examples / "optouts.csv").write_text(f"Phone,Extension\nOpt-outs\n{row}\n")
        with (examples / "campaigns.yaml").open("a") as f:
            f.write("do_not_call_csv: optouts.csv\n")
        code, out, err = run_cli(capsys, "validate", str(examples))
        assert code == 1 and "on the do-not-call list" in err, err
        assert "optouts.csv:2: row has 1 cell" in err and "optouts.csv:2:1" not in err, err
        code, out, err = run_cli(capsys, "apply", "--auto-approve", str(examples))
        assert code == 1 and "optouts.csv:3: row has" in err, out + err
        assert _status(emu, SURVEY) == "paused"
        # the one-cell row is a phone: not told to delete it as a line of text (b74)
        [said] = [line for line in err.splitlines() if "optouts.csv:3: row has" in line]
        assert "delete it" not in said, said
        if "," not in row:
            assert said.endswith(
                "(a phone, the row's other cells left out: add a comma for each empty one)"
            )


_EXT_HEAD = "version: 1\ncontact_list: ext\ncampaigns:\n  - name: Ext\n    pitch: hi\n"


def _added_by_hand(
    reading: Emulator, capsys: pytest.CaptureFixture[str], manifest: Path, extension: str
) -> tuple[Any, str]:
    """Campaign Ext applied with no numbers, then Priya at +14155550132 and `extension`
    added to it through the API, as an earlier version or the dashboard did."""
    from upcall_sync.client import ContactAttributes

    manifest.write_text(_EXT_HEAD)
    assert run_cli(capsys, "apply", "--auto-approve", "-q", str(manifest))[0] == 0
    client = connect(reading)
    list_id = client.create_list("ext").id
    campaign_id = str(reading.store.sql("SELECT id FROM campaigns")[0]["id"])
    typed = ContactAttributes(phone="+14155550132", extension=extension, first_name="Priya")
    client.add_number(campaign_id, client.create_contact(list_id, typed).id)
    return client, campaign_id


def test_a_number_sent_with_x_in_its_extension_is_not_added_again(
    reading: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Earlier versions sent an extension column's "x204" as typed, and the API keeps it.
    The manifest now reads it as 204 (either spelling): the live "x204" is that number,
    not another line to add and call a second time."""
    manifest, head = tmp_path / "m.yaml", _EXT_HEAD
    client, campaign_id = _added_by_hand(reading, capsys, manifest, "x204")
    assert client.list_numbers(campaign_id)[0].extension == "x204"
    for spelled in ("204", "x204", "ext. 204"):
        numbers = f'    numbers:\n      - {{phone: "+14155550132", extension: "{spelled}", '
        manifest.write_text(head + numbers + "first_name: Priya}\n")
        code, out, err = run_cli(capsys, "plan", "--detailed-exitcode", str(manifest))
        assert code == 0, out + err


TWELVE = "\u0661\u0662"  # 12 in Arabic-Indic digits


def test_an_extension_in_another_script_s_digits_is_its_ascii_digits(
    reading: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """An extension typed in Arabic-Indic digits (U+0661 U+0662, kept so by phonenumbers inside a
    phone too) escaped a do-not-call `x12` and was added to a ready campaign, and "x" before them
    was not read as they were: a live one was added again (found by helper b70)."""
    manifest, head = tmp_path / "m.yaml", _EXT_HEAD
    _added_by_hand(reading, capsys, manifest, TWELVE)
    for spelled in ("12", f"x{TWELVE}", TWELVE):
        numbers = f'    numbers:\n      - {{phone: "+14155550132", extension: "{spelled}", '
        manifest.write_text(head + numbers + "first_name: Priya}\n")
        code, out, err = run_cli(capsys, "plan", "--detailed-exitcode", str(manifest))
        assert code == 0, out + err
    listed = head.replace("  - name: Ext\n", "  - name: New\n    status: ready\n")
    for written in (
        f'phone: "+14155550133", extension: "{TWELVE}"',
        f'phone: "+1 415 555 0133 x{TWELVE}"',
    ):
        manifest.write_text(
            listed.replace("campaigns:", 'do_not_call: ["+14155550133 x12"]\ncampaigns:')
            + f"    numbers:\n      - {{{written}, first_name: Ana}}\n"
        )
        code, out, err = run_cli(capsys, "plan", str(manifest))
        assert "+14155550133 x12 (Ana) is on the do-not-call list" in out, out + err
        assert "; 0 numbers to add," in out, out


def test_an_extension_in_another_script_s_digits_inside_a_phone_is_its_ascii_digits(
    reading: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """beb8f51 read an extension field's Arabic-Indic digits as ASCII, not one written inside
    a phone (phonenumbers keeps them as typed): a do-not-call "x" and U+0661 U+0662 did not
    cover a number's extension 12, which was added, and such a phone with extension "12"
    was 'has extension ..., but extension is "12"'."""
    manifest = tmp_path / "m.yaml"
    head = "version: 1\ncontact_list: ext\n"
    campaign = "campaigns:\n  - name: New\n    pitch: hi\n    numbers:\n"
    manifest.write_text(
        head
        + f'do_not_call: ["+14155550133 x{TWELVE}"]\n'
        + campaign
        + '      - {phone: "+14155550133", extension: "12", first_name: Ana}\n'
    )
    code, out, err = run_cli(capsys, "plan", str(manifest))
    assert "+14155550133 x12 (Ana) is on the do-not-call list" in out, out + err
    assert "; 0 numbers to add," in out, out
    manifest.write_text(
        head
        + campaign
        + f'      - {{phone: "+1 415 555 0133 x{TWELVE}", extension: "12", first_name: Ana}}\n'
    )
    code, out, err = run_cli(capsys, "validate", str(manifest))
    assert code == 0, out + err
