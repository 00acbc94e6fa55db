"""Hints, pure: plain model values in, notices out (through `plan`, as the CLI uses it)."""

from __future__ import annotations

from datetime import UTC, datetime

from upcall_sync.core.model import DesiredState, LiveCampaign, LiveState
from upcall_sync.core.planner import plan

from .helpers.models import camp, desired, live

START = datetime(2026, 4, 1, 16, tzinfo=UTC)


def _renamed(want: DesiredState, have: LiveState) -> list[str]:
    result = plan(want, have)
    return [n.message for n in result.notices if n.kind == "renamed"]


def test_a_lookalike_under_another_name_gets_a_hint() -> None:
    want = desired(camp("New", pitch="P", start_datetime=START), camp("Other", pitch="Q"))
    have = live(LiveCampaign("7", "Old", pitch="P  ", start_datetime=START))
    [hint] = _renamed(want, have)
    assert hint.startswith('campaign "New" looks renamed from or to "Old" (id 7), in the manifest')


def test_no_hint_without_the_complete_listing() -> None:
    want = desired(camp("New", pitch="P", start_datetime=START))
    have = live(LiveCampaign("7", "Old", pitch="P", start_datetime=START), complete=False)
    assert _renamed(want, have) == []


def test_no_hint_on_a_language_alone_or_other_dates() -> None:
    have = live(LiveCampaign("7", "Old", language="en", start_datetime=START))
    assert _renamed(desired(camp("New", language="en")), have) == []
    later = datetime(2026, 4, 2, tzinfo=UTC)
    assert _renamed(desired(camp("New", language="en", start_datetime=later)), have) == []


def test_no_hint_when_two_new_campaigns_look_like_one_live_one() -> None:
    want = desired(camp("A", pitch="P"), camp("B", pitch="P"))
    assert _renamed(want, live(LiveCampaign("7", "Old", pitch="P"))) == []


def test_no_hint_for_a_campaign_a_manifest_pins() -> None:
    want = desired(camp("New", pitch="P"), camp("Pinned", id="7", pitch="X"))
    assert _renamed(want, live(LiveCampaign("7", "Old", pitch="P"))) == []
