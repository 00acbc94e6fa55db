"""Progress while the account is read: plan, apply (its plan and convergence check),
export and doctor, through the real CLI against a slowed emulator (issue 25)."""

from __future__ import annotations

import io
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from upcall_sync.client import PageRead
from upcall_sync.emulator import Emulator, Faults
from upcall_sync.emulator.faults import RateLimit
from upcall_sync.output import progress as read_progress
from upcall_sync.output.progress import ReadBar, ReadLines, ReadTally, Snapshot

from .conftest import CONFIRMED, ROOT, TOKEN, run_cli

LINE = re.compile(
    r"(plan|export|doctor|checking convergence): \d[\d,]* (of [\d,]+ pages?|pages?) read, "
    r"[\d,]+ requests? \([\d.,]+/s\)(, about .+ left)?(, .+)?"
)


@pytest.fixture
def slow_api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Emulator]:
    """The examples applied to an emulator with pages of 2, then every request of this
    token limited to 4 per second (429 with Retry-After beyond); the CLI pointed at it."""
    emu = Emulator(
        tokens=[TOKEN],
        confirmed_numbers=list(CONFIRMED),
        max_page_size=2,
        faults=Faults(retry_after=0),
    )
    with emu:
        monkeypatch.setenv("UPCALL_API_URL", emu.base_url)
        monkeypatch.setenv("UPCALL_AUTH_TOKEN", TOKEN)
        monkeypatch.delenv("UPCALL_AUTH_TOKEN_FILE", raising=False)
        monkeypatch.setenv("NO_COLOR", "1")
        shutil.copytree(ROOT / "examples", tmp_path / "examples")
        monkeypatch.chdir(tmp_path / "examples")
        yield emu
    emu.store.close()


def _apply_examples(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run_cli(capsys, "apply", "--auto-approve", "-q", ".")
    assert code == 0, err


def test_a_slow_plan_prints_progress_lines_on_stderr_and_nothing_extra_on_stdout(
    slow_api: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _apply_examples(capsys)
    code, quiet_out, quiet_err = run_cli(capsys, "plan", "--format", "json", "--quiet", ".")
    assert code == 0 and quiet_err == ""
    slow_api.rate_limit = RateLimit(4)
    monkeypatch.setattr(read_progress, "LINE_INTERVAL", 1.0)  # not 10 s: a short test

    code, out, err = run_cli(capsys, "plan", "--format", "json", ".")

    assert code == 0
    assert out == quiet_out and json.loads(out)["empty"] is True  # stdout: the plan alone
    lines = err.splitlines()
    assert len(lines) >= 3, err  # the read takes seconds at 4 requests per second
    assert all(LINE.fullmatch(line) for line in lines[:-1]), err
    assert re.fullmatch(r"plan: [\d,]+ pages? read \([\d,]+ requests?\) in \d+ s", lines[-1])
    # the total comes from links.last: pages read never exceed it
    for line in lines:
        m = re.search(r"(\d+) of (\d+) pages", line)
        assert m is None or int(m[1]) <= int(m[2])


def test_a_fast_plan_prints_no_progress(
    slow_api: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    _apply_examples(capsys)
    code, out, err = run_cli(capsys, "plan", ".")
    assert code == 0 and err == "" and out.startswith("No changes.")


def test_quiet_silences_progress_on_a_slow_plan(
    slow_api: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _apply_examples(capsys)
    slow_api.latency = 0.1
    monkeypatch.setattr(read_progress, "LINE_INTERVAL", 0.2)
    code, _out, err = run_cli(capsys, "plan", "--quiet", ".")
    assert code == 0 and err == ""


@pytest.mark.parametrize(
    ("command", "what"),
    [
        (["export"], "export"),
        (["doctor"], "doctor"),
        (["apply", "--auto-approve", "."], "checking convergence"),
        (["apply", "--auto-approve", "--format", "json", "."], "checking convergence"),
    ],
)
def test_export_doctor_and_the_convergence_check_show_progress(
    slow_api: Emulator,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
    what: str,
) -> None:
    _apply_examples(capsys)
    manifest = Path("campaigns.yaml")
    manifest.write_text(manifest.read_text().replace("Be friendly", "Be kind"))
    slow_api.latency = 0.15
    monkeypatch.setattr(read_progress, "LINE_INTERVAL", 0.3)

    _code, out, err = run_cli(capsys, *command)

    ours = [line for line in err.splitlines() if line.startswith(f"{what}: ")]
    assert ours, err
    assert any(LINE.fullmatch(line) for line in ours), err
    assert re.fullmatch(rf"{what}: [\d,]+ pages? read \(.*\) in \d+ s", ours[-1]), ours
    assert not LINE.search(out) and "pages read" not in out  # stdout: results alone
    if "json" in command:
        assert json.loads(out)["exit_code"] == 0


# -- the tally and the displays -----------------------------------------------------------


def test_the_total_comes_from_links_last_and_is_unknown_while_a_listing_has_none() -> None:
    tally = ReadTally()
    tally(PageRead(1, 3, True))  # a listing of 3 pages
    tally(PageRead(1, 1, False))  # a listing of 1 page
    now = tally.snapshot()
    assert (now.read, now.total) == (2, 4)
    tally(PageRead(2, 3, True))
    tally(PageRead(1, None, True))  # a listing that says nothing of its length
    assert tally.snapshot().total is None
    tally(PageRead(2, None, False))  # ...and ends
    tally(PageRead(3, 3, False))
    now = tally.snapshot()
    assert (now.read, now.total) == (6, None)  # all announced pages read: a count


def test_rate_and_eta_are_computed_from_what_was_read() -> None:
    clock = iter([0.0, 10.0])
    sent = iter([100, 130])
    tally = ReadTally(requests=lambda: next(sent), clock=lambda: next(clock))
    for number in range(1, 11):
        tally(PageRead(number, 40, number < 40))
    now = tally.snapshot()
    assert now == Snapshot(read=10, total=40, requests=30, elapsed=10.0, throttle="")
    assert now.rate == 3.0 and now.eta == 30.0
    assert now.line("plan") == ("plan: 10 of 40 pages read, 30 requests (3.0/s), about 30 s left")


def test_lines_come_every_interval_and_none_for_a_shorter_read() -> None:
    out = io.StringIO()
    ReadLines(out, "plan", ReadTally(), interval=60).close()
    assert out.getvalue() == ""


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_shows_pages_of_the_total_rate_and_throttling() -> None:
    out = _Terminal()

    class Throttled:
        def describe(self) -> str:
            return "server throttling: sending 3.0 req/s"

    bar = ReadBar(out, "plan", ReadTally(requests=lambda: 7, status=Throttled))
    bar(PageRead(1, 4, True))
    bar(PageRead(2, 4, True))
    bar._progress.refresh()
    shown = out.getvalue()
    bar.close()
    assert "plan" in shown and "2 of 4 pages read" in shown
    assert "req/s" in shown and "server throttling" in shown


def test_the_write_probe_shows_its_requests_while_it_runs(
    slow_api: Emulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against a throttled API its 20-odd requests take a while: a line of requests sent
    (it reads no listings to count pages of), and a closing line; stdout holds the report."""
    slow_api.latency = 0.1
    monkeypatch.setattr(read_progress, "LINE_INTERVAL", 0.3)

    code, out, err = run_cli(capsys, "doctor", "--write-probe", "--auto-approve", "-f", "json")

    assert code == 0, err
    ours = [line for line in err.splitlines() if line.startswith("write probe: ")]
    assert ours, err
    ticks = [re.fullmatch(r"write probe: ([\d,]+) requests? \([\d.,]+/s\)(, .+)?", x) for x in ours]
    assert any(ticks), ours
    closing = re.fullmatch(r"write probe: ([\d,]+) requests? in \d+ s", ours[-1])
    assert closing, ours
    sent = [int(m.group(1)) for m in ticks if m]
    assert sent == sorted(sent) and sent[-1] <= int(closing.group(1))
    assert json.loads(out)["ok"] is True  # stdout: the report alone

    code, _out, err = run_cli(capsys, "doctor", "--write-probe", "--auto-approve", "--quiet")
    assert code == 0 and "write probe: " not in err


def test_the_bar_counts_requests_of_work_that_reads_no_listings() -> None:
    """The write probe reads no listing page, the bar's only update: on a terminal its
    requests went uncounted (a bare bar and a clock) until some page was read."""
    out = _Terminal()
    sent = [10]  # counted from the first
    bar = ReadBar(out, "write probe", ReadTally(requests=lambda: sent[0], paged=False))
    sent[0] = 13
    bar._progress.refresh()
    first = out.getvalue()
    sent[0] = 14
    bar._progress.refresh()
    shown = out.getvalue()[len(first) :]
    bar.close()
    assert "write probe" in first and "3 requests" in first, first
    assert "4 requests" in shown and "req/s" in shown, shown
