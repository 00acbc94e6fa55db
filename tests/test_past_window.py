"""A campaign whose window is over can never dial: a plan that creates one, or makes one
ready, warns with file:line (issue 25). "Now" is the suite's frozen clock
(`conftest.FROZEN_NOW`, 2026-06-01T12:00Z), injected once for the command line."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from upcall_sync.core.changes import CreateCampaign
from upcall_sync.core.model import LiveState
from upcall_sync.core.notices import past_window_notices
from upcall_sync.emulator import Emulator

from .conftest import FROZEN_NOW, ROOT, TOKEN, run_cli, write_manifest

READY = """version: 1
phone_region: US
campaigns:
  - name: Spring
    status: ready
    start_datetime: {start}
    end_datetime: {end}
    numbers:
      - {{phone: "(650) 799-1144", first_name: Joey}}
"""


def test_creating_a_ready_campaign_whose_window_ended_warns_at_its_end_line(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    m = write_manifest(
        tmp_path / "m.yaml", READY.format(start="2016-07-11T09:00:00Z", end="2016-07-12T17:00:00Z")
    )

    code, out, err = run_cli(capsys, "plan", str(m))

    assert code == 0, err
    assert (
        f'  ! {m}:7:19: warning: end_datetime: the plan creates campaign "Spring", whose window '
        "ended 2016-07-12T17:00:00Z: it can never dial; move its end_datetime into the future\n"
    ) in out
    code, out, _ = run_cli(capsys, "plan", "--format", "markdown", str(m))
    assert "> [!WARNING]\n> " in out and "whose window ended 2016-07-12T17:00:00Z" in out


def test_a_window_after_the_frozen_now_does_not_warn(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """2026-07 is after the suite's frozen now (2026-06-01) but before the day this was
    written (2026-12): the warning reads the injected clock, not the system's."""
    assert datetime.now(UTC) > datetime(2026, 7, 12, 17, tzinfo=UTC) > FROZEN_NOW
    m = write_manifest(
        tmp_path / "m.yaml", READY.format(start="2026-07-11T09:00:00Z", end="2026-07-12T17:00:00Z")
    )
    code, out, _ = run_cli(capsys, "plan", "--format", "json", str(m))
    assert code == 0 and json.loads(out)["notices"] == []


def test_setting_ready_a_live_campaign_whose_live_end_passed_warns_at_status(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cli_env.store.seed(
        cli_env.accounts[TOKEN],
        campaigns=[
            {
                "name": "Old",
                "status": "paused",
                "start_datetime": "2016-01-01T00:00:00.000Z",
                "end_datetime": "2016-02-01T00:00:00.000Z",
            }
        ],
    )
    m = write_manifest(
        tmp_path / "m.yaml", "version: 1\ncampaigns:\n  - name: Old\n    status: ready\n"
    )

    code, out, _ = run_cli(capsys, "plan", "--format", "json", str(m))

    assert code == 0
    [notice] = [n for n in json.loads(out)["notices"] if "can never dial" in n["message"]]
    assert notice["kind"] == "warning" and notice["campaign"] == "Old"
    assert notice["message"].startswith(f"{m}:4:13: warning: status: the plan sets ready")
    assert "ended 2016-02-01T00:00:00Z (its live end)" in notice["message"]


def test_a_created_campaign_warns_even_pending_and_only_once_its_end_passed() -> None:
    change = CreateCampaign(
        address='campaign["x"]',
        campaign="x",
        values={"name": "x", "end_datetime": datetime(2016, 1, 1, tzinfo=UTC)},
    )
    # created: warned even when pending (it can never dial once made ready)
    assert len(past_window_notices([change], LiveState(), FROZEN_NOW)) == 1
    assert past_window_notices([change], LiveState(), datetime(2015, 1, 1, tzinfo=UTC)) == []


def test_the_examples_windows_stay_in_the_future() -> None:
    """The examples are copied as they are: their windows must not be over for years."""
    text = (ROOT / "examples" / "campaigns.yaml").read_text()
    years = [
        int(line.split(":", 1)[1].strip()[:4]) for line in text.splitlines() if "_datetime:" in line
    ]
    assert years and min(years) >= 2030
