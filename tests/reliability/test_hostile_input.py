"""Hostile and broken input: generated manifests, the YAML test suite, wrong options.

The property: `validate` never crashes or hangs, and accepts a manifest
exactly when the committed JSON Schema accepts it and the few rules a schema
cannot express hold (checked here independently: phones are possible
numbers, datetimes are real dates, end after start, names unique (unless every entry
of a name pins an id), nobody
twice in a campaign, one set of details per person).
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import phonenumbers
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from upcall_sync.errors import ManifestError
from upcall_sync.manifest import load_manifests

from .. import figures
from ..conftest import FIXTURES, ROOT

SCHEMA = json.loads((ROOT / "schema" / "manifest.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
SUITE = FIXTURES / "yaml-test-suite"
EXAMPLES = 2000
#: the examples run as this many tests of EXAMPLES // SHARDS each, so that pytest-xdist
#: spreads them over the cores (the total, and the figures line, stay the same)
SHARDS = 4

# -- the oracle: rules a JSON Schema cannot express -----------------------------------


def _phone(value: Any, region: str | None) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = phonenumbers.parse(value.strip(), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _when(value: Any) -> datetime | None:
    text = value.strip()
    text = text[:-1] + "+00:00" if text[-1:] in "Zz" else text
    try:
        return datetime.fromisoformat(text).replace(microsecond=0)
    except ValueError:
        return None


def semantic_ok(doc: dict[str, Any]) -> bool:
    region = doc.get("phone_region")
    defaults = doc.get("defaults") or {}
    names: set[str] = set()
    all_pinned: dict[str, bool] = {}
    ids: set[str] = set()
    people: dict[tuple[str, ...], tuple[str, ...]] = {}
    for holder in [defaults, *doc.get("campaigns", [])]:
        if "from_number" in holder and _phone(holder["from_number"], region) is None:
            return False
        for key in ("start_datetime", "end_datetime"):
            if holder.get(key) is not None and _when(holder[key]) is None:
                return False
    for camp in doc.get("campaigns", []):
        name = camp["name"].rstrip()
        pinned = camp.get("id") is not None
        # a name may repeat only where every entry of it pins a live campaign by id
        if name in names and not (pinned and all_pinned[name]):
            return False
        names.add(name)
        all_pinned[name] = all_pinned.get(name, True) and pinned
        if camp.get("id") is not None:
            if str(camp["id"]) in ids:
                return False
            ids.add(str(camp["id"]))
        start = camp.get("start_datetime", defaults.get("start_datetime"))
        end = camp.get("end_datetime", defaults.get("end_datetime"))
        if start is not None and end is not None and _when(end) <= _when(start):  # type: ignore[operator]
            return False
        seen: set[tuple[str, ...]] = set()
        for number in camp.get("numbers", []):
            phone = _phone(number["phone"], region)
            if phone is None:
                return False

            def t(k: str, src: dict[str, Any] = number) -> str:
                return (src.get(k) or "").rstrip()

            key = (phone, t("extension"), t("first_name"), t("last_name"))
            address = number.get("address") or {}
            parts = ("recipient", "line1", "line2", "city", "region", "postal_code", "country")
            details = (t("title"), t("company"), t("email"), *(t(k, address) for k in parts))
            if key in seen:
                return False
            seen.add(key)
            if people.setdefault(key, details) != details:
                return False
    return True


# -- the generator: mostly plausible, sometimes wrong in one way or several ---------------

_junk = st.one_of(
    st.integers(-5, 5),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False, width=16),
    st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers(), max_size=1),
)
_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=8)
_good_phones = st.sampled_from(
    ["+16507991144", "+1 650 799 1145", "+442071838750", "+16501231234", "+61 2 9374 4000"]
)
_bad_phones = st.sampled_from(["(650) 799-1144", "+1 555", "call me", "", "0049 30 1234"])
_good_dt = st.sampled_from(
    ["2026-07-11T09:00:00-07:00", "2026-07-12T17:00:00Z", "2026-07-11T09:00:00.5+02:00"]
)
_bad_dt = st.sampled_from(
    [
        "2026-07-11T09:00:00",
        "2026-13-01T00:00:00Z",
        "tomorrow",
        "2026-02-30T00:00:00Z",
        "2026-07-11 09:00Z",
    ]
)


def _sometimes(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Nine times in ten a plausible value; else a wrong one, or junk of another type."""
    return st.integers(0, 19).flatmap(lambda n: good if n < 18 else (bad if n == 18 else _junk))


def _with_typo(
    base: st.SearchStrategy[dict[str, Any]], key: str
) -> st.SearchStrategy[dict[str, Any]]:
    """Now and then, a misspelled key next to the real ones."""
    return st.tuples(base, st.integers(0, 24), _text).map(
        lambda t: {**t[0], key: t[2]} if t[1] == 0 else t[0]
    )


_plain = _sometimes(_text, _junk)
_address = _with_typo(
    st.fixed_dictionaries(
        {}, optional={k: _plain for k in ("recipient", "line1", "city", "postal_code", "country")}
    ),
    "zip",
)
_number = _with_typo(
    st.fixed_dictionaries(
        {"phone": _sometimes(_good_phones, _bad_phones)},
        optional={
            "first_name": _plain,
            "last_name": _plain,
            "title": _plain,
            "extension": _sometimes(st.sampled_from(["", "204", "9"]), _junk),
            "email": _sometimes(
                st.sampled_from(["joey@safeway.com", "a@b.co"]),
                st.sampled_from(["bad", "x@y", "a b@c.de"]),
            ),
            "address": _sometimes(_address, _junk),
        },
    ),
    "frist_name",
)
_fields = {
    "pitch": _plain,
    "instructions": _plain,
    "language": _plain,
    "status": _sometimes(
        st.sampled_from(["pending", "ready", "paused", "completed", "archived"]),
        st.sampled_from(["running", "", "READY"]),
    ),
    "from_number": _sometimes(_good_phones, _bad_phones),
    "start_datetime": _sometimes(_good_dt, _bad_dt),
    "end_datetime": _sometimes(_good_dt, _bad_dt),
}
_campaign = _with_typo(
    st.fixed_dictionaries(
        {
            "name": _sometimes(
                st.sampled_from(["Q3", "Q4", "Q3 ", "Renewals", "Win-back"]),
                st.sampled_from([" ", ""]),
            )
        },
        optional={
            **_fields,
            "id": _sometimes(st.sampled_from(["876", 877, "878"]), st.sampled_from(["abc", "-1"])),
            "numbers": _sometimes(st.lists(_number, max_size=3), _junk),
        },
    ),
    "pich",
)
_manifest = _with_typo(
    st.fixed_dictionaries(
        {"version": _sometimes(st.just(1), st.sampled_from([2, "1", True, 1.0]))},
        optional={
            "contact_list": _sometimes(st.sampled_from(["acme", "upcall-sync"]), st.just("")),
            "phone_region": _sometimes(
                st.sampled_from(["US", "GB"]), st.sampled_from(["USA", "us"])
            ),
            "prune_scope": _sometimes(st.sampled_from(["acme-*", "*"]), st.just("")),
            "defaults": _sometimes(st.fixed_dictionaries({}, optional=_fields), _junk),
            "safety": _sometimes(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "max_update_percent": st.sampled_from([0, 30, 30.5, 100]),
                        "min_existing": st.sampled_from([0, 10, 5.0]),
                    },
                ),
                st.fixed_dictionaries({"max_update_percent": st.sampled_from([150, -1, "30"])}),
            ),
            "campaigns": _sometimes(st.lists(_campaign, max_size=4), _junk),
        },
    ),
    "campaing",
)


@settings(
    max_examples=EXAMPLES // SHARDS,
    deadline=2000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(_manifest)
def _validate_agrees_with_schema(doc: dict[str, Any]) -> None:
    figures.add("hypothesis_examples")
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.yaml"
        path.write_text(text, encoding="utf-8")
        started = time.perf_counter()
        try:
            load_manifests([path])
            accepted = True
        except ManifestError as exc:
            accepted = False
            for problem in exc.problems:
                assert problem.location.file.endswith("m.yaml") and problem.location.line >= 1
                assert "\n" not in str(problem)
        assert time.perf_counter() - started < 2
    expected = VALIDATOR.is_valid(doc) and semantic_ok(doc)
    figures.add("hypothesis_valid" if accepted else "hypothesis_invalid")
    if accepted != expected:
        figures.add("schema_disagreements")
    assert accepted == expected, text


# Hypothesis warns when it formats a big example for its own report; that is not a finding.
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")
@pytest.mark.parametrize("shard", range(SHARDS))
def test_validate_accepts_exactly_what_the_schema_and_rules_accept(shard: int) -> None:
    before = dict(figures.counts)
    _validate_agrees_with_schema()
    ran = {
        k: figures.counts[k] - before.get(k, 0)
        for k in ("hypothesis_examples", "hypothesis_valid", "hypothesis_invalid")
    }
    print(f"hypothesis: {ran}")
    assert ran["hypothesis_examples"] >= EXAMPLES // SHARDS
    # both sides of the property are exercised, not just the easy one (a fifth each: the
    # valid side ranged 124-184 of 500 a shard in the eleventh session, and a quarter
    # failed a CI-like run once at 124)
    assert ran["hypothesis_valid"] >= EXAMPLES // SHARDS // 5
    assert ran["hypothesis_invalid"] >= EXAMPLES // SHARDS // 5


# -- the public YAML test suite ------------------------------------------------------------

CASES = [line.split("\t") for line in (SUITE / "cases.tsv").read_text().splitlines() if line]


def test_yaml_test_suite_cases_end_cleanly() -> None:
    failures = []
    for case, _expect in CASES:
        figures.add("yaml_suite_cases")
        path = SUITE / f"{case}.yaml"
        started = time.perf_counter()
        try:
            load_manifests([path])
        except ManifestError as exc:
            bad = [
                str(p)
                for p in exc.problems
                if not p.location.file.endswith(f"{case}.yaml")
                or p.location.line < 1
                or "\n" in str(p)
            ]
            if bad:
                failures.append((case, bad))
                continue
        except Exception as exc:  # a crash: exactly what must not happen
            failures.append((case, [repr(exc)]))
            continue
        if time.perf_counter() - started > 1:
            failures.append((case, ["took over a second"]))
            continue
        figures.add("yaml_suite_clean")
    assert failures == []
    assert len(CASES) > 400
