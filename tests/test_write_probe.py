"""`upcall-sync doctor --write-probe` names each write-side reading the emulator plays.

Against the default emulator and under each switch, through the real command: the
reading found is the one played, the probe campaign ends archived, no PATCH ever
asks for `ready`, and Ctrl-C still archives it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from upcall_sync.emulator import Emulator, Modes

from .conftest import TOKEN, run_cli
from .helpers.signals import default_sigint

DEFAULT = {
    "patch": "merge",
    "names": "stored as sent",
    "datetimes": "exact",
    "content-type": "application/vnd.api+json, application/json, text/json",
    "number-type": "numbers",
    "duplicate-number": "HTTP 400",
    "numbers-show-contact": "live",
    "contact-patch": "merge",
    "create-status": "as sent",
}
#: each switch, and the readings it changes
PLAYED: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
    "default": ({}, {}),
    "patch-replace": ({"patch_replace": True}, {"patch": "replace"}),
    "contact-patch-replace": ({"contact_patch_replace": True}, {"contact-patch": "replace"}),
    "create-ready": ({"create_ready": True}, {"create-status": "ignored"}),
    "normalize-names": ({"normalize_names": True}, {"names": "normalized"}),
    "naive-datetimes": ({"naive_datetimes": True}, {"datetimes": "no offset"}),
    "page-size-limit": ({"page_size_limit": 20}, {}),
    "numbers-copy-contacts": ({"numbers_copy_contacts": True}, {"numbers-show-contact": "copy"}),
    "all": (
        {
            "patch_replace": True,
            "contact_patch_replace": True,
            "create_ready": True,
            "normalize_names": True,
            "naive_datetimes": True,
            "page_size_limit": 20,
            "numbers_copy_contacts": True,
        },
        {
            "patch": "replace",
            "contact-patch": "replace",
            "create-status": "ignored",
            "names": "normalized",
            "datetimes": "no offset",
            "numbers-show-contact": "copy",
        },
    ),
}


def _statuses_sent(emu: Emulator) -> list[Any]:
    """Record the status of every campaign PATCH the emulator is sent."""
    sent: list[Any] = []
    for i, (method, pattern, handler) in enumerate(emu.api.routes):
        if method != "PATCH" or "contacts" in pattern.pattern:
            continue

        def recording(api: Any, req: Any, acct: int, match: Any, _h: Any = handler) -> Any:
            body = json.loads(req.body or b"{}")
            sent.append(body.get("data", {}).get("attributes", {}).get("status"))
            return _h(api, req, acct, match)

        emu.api.routes[i] = (method, pattern, recording)
    return sent


def _campaign_statuses(emu: Emulator) -> list[str]:
    return [r["status"] for r in emu.store.sql("SELECT status FROM campaigns")]


@pytest.mark.parametrize("reading", list(PLAYED))
def test_the_probe_names_the_reading_played(
    reading: str, capsys: pytest.CaptureFixture[str], cli_env: Emulator
) -> None:
    modes, changed = PLAYED[reading]
    cli_env.api.modes = Modes(**modes)
    sent = _statuses_sent(cli_env)
    code, out, err = run_cli(capsys, "doctor", "--write-probe", "--auto-approve", "-f", "json")
    report = json.loads(out)
    assert code == 0, out
    assert {r["name"]: r["reading"] for r in report["readings"]} == {**DEFAULT, **changed}
    assert "It will write, in this account:" in err and "+12125550142" in err
    assert report["ok"] and report["cleanup"].endswith("archived")
    assert _campaign_statuses(cli_env) == ["archived"]
    assert sent and "ready" not in sent and set(sent[:-1]) == {"pending"}
    assert sent[-1] == "archived"
    assert len(sent) - 1 <= 6, sent  # as many PATCHes as the list of writes says, at most
    lists = cli_env.store.sql("SELECT name FROM lists")
    assert len(lists) == 1 and lists[0]["name"].startswith("upcall-sync write-probe ")


def test_text_output_says_what_upcall_sync_does(
    capsys: pytest.CaptureFixture[str], cli_env: Emulator
) -> None:
    cli_env.api.modes = Modes(patch_replace=True)
    code, out, _err = run_cli(capsys, "doctor", "--write-probe", "--auto-approve")
    assert code == 0
    assert out.index("It will write") < out.index("FOUND")
    assert "replace: a PATCH of pitch and status cleared name" in out
    assert "set `patch: replace` in the manifests" in out
    assert "Cleanup: campaign 1 archived." in out


def test_the_probe_asks_first(capsys: pytest.CaptureFixture[str], cli_env: Emulator) -> None:
    """Without a terminal and without --auto-approve: one line, nothing written."""
    code, out, err = run_cli(capsys, "doctor", "--write-probe")
    assert code == 1 and "pass --auto-approve" in err
    assert "It will write" in out
    assert not [r for r in cli_env.requests if r.method != "GET"]
    code, _out, err = run_cli(capsys, "doctor", "--auto-approve")
    assert code == 1 and "go with --write-probe" in err


def test_a_failed_step_still_archives(
    capsys: pytest.CaptureFixture[str], cli_env: Emulator
) -> None:
    """The contact list cannot be created (no /lists): the probe stops, says why, and
    archives its campaign."""
    cli_env.api.modes = Modes(no_lists=True)
    code, out, _err = run_cli(capsys, "doctor", "--write-probe", "--auto-approve", "-f", "json")
    report = json.loads(out)
    assert code == 1 and not report["ok"]
    assert "POST /lists" in report["error"] and report["cleanup"].endswith("archived")
    assert _campaign_statuses(cli_env) == ["archived"]


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_archives_the_probe_campaign(sig: signal.Signals, code: int) -> None:
    """SIGINT or SIGTERM while the probe runs (each request slowed down): it stops
    probing, archives its campaign, and exits 130 (143 for SIGTERM, as every command)."""
    with Emulator(tokens=[TOKEN], latency_ms=150) as emu:
        env = {**os.environ, "UPCALL_API_URL": emu.base_url, "UPCALL_AUTH_TOKEN": TOKEN}
        env.pop("UPCALL_AUTH_TOKEN_FILE", None)
        proc = subprocess.Popen(
            [sys.executable, "-m", "upcall_sync.cli", "doctor", "--write-probe", "--auto-approve"],
            env=env,
            preexec_fn=default_sigint,  # noqa: PLW1509 (it only sets a signal handler)
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 20
        while not emu.store.sql("SELECT id FROM campaigns") and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == code, out + err
        assert "archiving the probe campaign first" in err
        assert "Interrupted" in out and "archived" in out
        assert _campaign_statuses(emu) == ["archived"]
        assert TOKEN not in out + err
        emu.store.close()


def test_a_confirmed_from_number_goes_with_the_probe_campaign(
    capsys: pytest.CaptureFixture[str], cli_env: Emulator
) -> None:
    """--from-number: the probe campaign is created with it and keeps it to the end, even
    where a PATCH replaces the campaign (every PATCH of the probe sends it again)."""
    cli_env.api.modes = Modes(patch_replace=True)
    code, out, err = run_cli(
        capsys, "doctor", "--write-probe", "--auto-approve", "--from-number", "(650) 123-1234"
    )
    assert code == 1 and "has no country code" in err  # a usage error, nothing written
    assert not [r for r in cli_env.requests if r.method != "GET"]
    code, out, _err = run_cli(
        capsys, "doctor", "--write-probe", "--auto-approve", "--from-number", "+1 650 123 1234"
    )
    assert code == 0 and "with from_number +16501231234" in out
    rows = cli_env.store.sql("SELECT status, from_number FROM campaigns")
    assert [(r["status"], r["from_number"]) for r in rows] == [("archived", "+16501231234")]


def test_a_probe_campaign_made_by_a_post_without_an_answer_is_archived(
    capsys: pytest.CaptureFixture[str], cli_env: Emulator
) -> None:
    """The POST that creates the probe campaign landed but its answer was lost (a reset,
    a 502): the probe stopped, said 'nothing to archive: no campaign was created', and
    left it pending. It is found by its name and archived."""
    cli_env.faults.add_rule("lost-write", "POST", "/campaigns", count=1)
    code, out, _err = run_cli(capsys, "doctor", "--write-probe", "--auto-approve", "-f", "json")
    report = json.loads(out)
    assert code == 1 and "POST /campaigns" in report["error"], report
    assert report["cleanup"].endswith("archived"), report
    assert _campaign_statuses(cli_env) == ["archived"]


def test_an_api_that_refuses_the_whole_contact_patch_is_a_fail(
    capsys: pytest.CaptureFixture[str], cli_env: Emulator
) -> None:
    """Apply sends every contact PATCH whole, phone included; the probe sent the company
    alone, so an API that refuses a PATCH carrying the phone passed as `merge`, and every
    contact update of an apply failed. It now sends the whole contact too, as apply does."""
    for i, (method, pattern, handler) in enumerate(cli_env.api.routes):
        if method != "PATCH" or "contacts" not in pattern.pattern:
            continue

        def no_phone(api: Any, req: Any, acct: int, match: Any, _h: Any = handler) -> Any:
            attrs = json.loads(req.body or b"{}").get("data", {}).get("attributes", {})
            if "phone" in attrs:
                from upcall_sync.emulator.exchange import bad

                raise bad("phone", "cannot be changed")
            return _h(api, req, acct, match)

        cli_env.api.routes[i] = (method, pattern, no_phone)
    code, out, _err = run_cli(capsys, "doctor", "--write-probe", "--auto-approve", "-f", "json")
    report = json.loads(out)
    assert code == 1, out
    [finding] = [r for r in report["readings"] if r["name"] == "contact-patch"]
    assert finding["reading"] == "refuses the whole contact" and not finding["ok"], finding
    assert "HTTP 400 (phone: cannot be changed)" in finding["evidence"]
    assert report["cleanup"].endswith("archived")
