"""`matching`: identity of campaigns and numbers, target selection, what pruning needs;
and that a plan matches once (the reader's matches reach the planner)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import upcall_sync.core.matching
import upcall_sync.core.planner
import upcall_sync.state.reader
from upcall_sync.client import CampaignAttributes, UpcallClient
from upcall_sync.core.matching import (
    match_campaigns,
    phones_needing_contacts,
    plan_scope,
    select_targets,
    unsatisfied_by_equality,
)
from upcall_sync.core.model import (
    Contact,
    DesiredCampaign,
    DesiredNumber,
    DesiredState,
    LiveCampaign,
    LiveNumber,
)
from upcall_sync.emulator import Emulator
from upcall_sync.errors import Location, PlanError, UsageError
from upcall_sync.jobs.sync import PlanOptions, plan_paths

from .conftest import run_cli, write_manifest

HERE = Location("m.yaml", 1, 1)


def campaign(name: str, *phones: str, id: str | None = None) -> DesiredCampaign:
    numbers = tuple(DesiredNumber(Contact(p), HERE) for p in phones)
    return DesiredCampaign(name, HERE, id=id, numbers=numbers)


def state(*campaigns: DesiredCampaign, prune_scope: str | None = None) -> DesiredState:
    return DesiredState(tuple(campaigns), prune_scope=prune_scope, files=("m.yaml",))


# -- campaigns -------------------------------------------------------------------------


def test_a_campaign_matches_by_name_and_an_active_one_wins_over_archived() -> None:
    live = [
        LiveCampaign("7", "a", status="archived"),
        LiveCampaign("9", "a", status="ready"),
        LiveCampaign("3", "b"),
    ]
    pairs = match_campaigns([campaign("a"), campaign("c")], live).pairs
    assert [(d.name, lc.id if lc else None) for d, lc in pairs] == [("a", "9"), ("c", None)]


def test_a_pinned_id_wins_over_the_name_and_must_exist() -> None:
    live = [LiveCampaign("5", "old name"), LiveCampaign("6", "a")]
    [(_d, lc)] = match_campaigns([campaign("a", id="5")], live).pairs
    assert lc is not None and lc.id == "5"
    with pytest.raises(PlanError, match="no campaign with that id"):
        match_campaigns([campaign("a", id="404")], live)


def test_every_ambiguity_is_named_at_once() -> None:
    live = [
        LiveCampaign("1", "twin"),
        LiveCampaign("2", "twin"),
        LiveCampaign("3", "solo"),
    ]
    with pytest.raises(PlanError) as caught:
        match_campaigns([campaign("twin"), campaign("solo"), campaign("other", id="3")], live)
    messages = " | ".join(p.message for p in caught.value.problems)
    assert len(caught.value.problems) == 2
    assert "2 active live campaigns are named" in messages
    assert "both match live campaign 3" in messages


def test_of_archived_twins_the_newest_is_matched() -> None:
    """Each do-not-call resume (archive, apply: created anew) leaves an archived campaign
    behind: a second resume must not stop at "pin one with id:", which stops a resume."""
    live = [
        LiveCampaign("10", "x", status="archived"),
        LiveCampaign("9", "x", status="archived"),
        LiveCampaign("2", "x", status="archived"),
    ]
    [(_d, lc)] = match_campaigns([campaign("x")], live).pairs
    assert lc is not None and lc.id == "10"


# -- targets and pruning: one check ------------------------------------------------------


def test_targets_are_exact_names_or_globs_and_an_unknown_one_is_refused() -> None:
    desired = state(campaign("Acme east"), campaign("Acme west"), campaign("[x]"))
    assert [c.name for c in select_targets(desired, ["Acme *"])] == ["Acme east", "Acme west"]
    assert [c.name for c in select_targets(desired, ["[x]"])] == ["[x]"]  # exact wins
    assert len(select_targets(desired, None)) == 3
    with pytest.raises(UsageError, match='target "nope", "zz\\*": no campaign'):
        select_targets(desired, ["nope", "zz*"])


@pytest.mark.parametrize(
    ("prune_scope", "targets", "message"),
    [
        ("*", ["a"], "pruning cannot be combined with targets"),
        (None, None, "pruning needs prune_scope"),
    ],
)
def test_plan_scope_holds_the_rules_of_pruning(
    prune_scope: str | None, targets: list[str] | None, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        plan_scope(state(campaign("a"), prune_scope=prune_scope), targets, prune=True)
    assert [c.name for c in plan_scope(state(campaign("a")), targets, prune=False)] == ["a"]


def test_prune_with_a_target_is_refused_before_any_request(
    cli_env: Emulator, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    m = write_manifest(
        tmp_path / "m.yaml", 'version: 1\nprune_scope: "*"\ncampaigns:\n  - name: a\n'
    )
    before = len(cli_env.requests)
    code, _out, err = run_cli(capsys, "plan", "--prune", "--target", "a", str(m))
    assert code == 1
    assert err.strip() == "error: pruning cannot be combined with targets"
    assert len(cli_env.requests) == before


# -- numbers -----------------------------------------------------------------------------


def test_numbers_present_with_identical_details_need_nothing() -> None:
    d = campaign("a", "+16505550001", "+16505550002", "+16505550002")
    live = [LiveNumber("1", Contact("+16505550002")), LiveNumber("2", Contact("+16505550003"))]
    missing, left = unsatisfied_by_equality(d, live)
    assert [n.contact.phone for n in missing] == ["+16505550001", "+16505550002"]
    assert dict(left) == {Contact("+16505550002"): 0, Contact("+16505550003"): 1}


def test_contacts_are_read_only_for_the_phones_still_missing() -> None:
    d1, d2 = campaign("a", "+16505550001", "+16505550002"), campaign("b", "+16505550009")
    matches = match_campaigns([d1, d2], [LiveCampaign("1", "a")])
    numbers = {"1": [LiveNumber("n", Contact("+16505550001"))]}
    assert phones_needing_contacts(matches, numbers) == {"+16505550002", "+16505550009"}


# -- a plan matches once -------------------------------------------------------------------


def test_a_plan_selects_and_matches_once(
    client: UpcallClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reader matches to know which numbers to read; the planner uses its matches."""
    calls: list[str] = []

    def counted(name: str, real: Any) -> Any:
        def spy(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return real(*args, **kwargs)

        return spy

    for module in (upcall_sync.state.reader, upcall_sync.core.planner, upcall_sync.core.matching):
        for name in ("match_campaigns", "select_targets"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, counted(name, getattr(module, name)))
    client.create_campaign(CampaignAttributes(name="a"))
    m = write_manifest(
        tmp_path / "m.yaml", "version: 1\ncampaigns:\n  - name: a\n  - name: b\n  - name: c\n"
    )
    planned = plan_paths([str(m)], client, PlanOptions(targets=("a", "b")))
    assert sorted(calls) == ["match_campaigns", "select_targets"]
    assert planned.live.matches is not None
    assert [d.name for d, _lc in planned.live.matches.pairs] == ["a", "b"]
    assert {c.campaign for c in planned.plan.changes} == {"b"}  # a exists; c not targeted


def _by_counting(
    d: DesiredCampaign, live: list[LiveNumber]
) -> tuple[list[str], dict[Contact, int]]:
    """What `unsatisfied_by_equality` means, spelled out: multiset difference both ways."""
    remaining = Counter(n.contact for n in live)
    missing = []
    for n in d.numbers:
        if remaining[n.contact] > 0:
            remaining[n.contact] -= 1
        else:
            missing.append(n.contact.phone)
    return missing, {c: k for c, k in remaining.items() if k > 0}


@given(
    st.lists(st.sampled_from(["+16505550001", "+16505550002", "+16505550003"]), max_size=6),
    st.lists(st.sampled_from(["+16505550001", "+16505550002", "+16505550004"]), max_size=6),
    st.booleans(),
)
def test_numbers_in_step_or_not_match_as_multisets(
    want: list[str], have: list[str], same_order: bool
) -> None:
    """The in-step fast path (same details, same order) and the counting path agree."""
    if same_order:
        have = list(want)
    d = campaign("a", *want)
    live = [LiveNumber(str(i), Contact(p)) for i, p in enumerate(have)]
    missing, left = unsatisfied_by_equality(d, live)
    assert ([n.contact.phone for n in missing], {c: k for c, k in left.items() if k > 0}) == (
        _by_counting(d, live)
    )
