"""The manifest YAML builder against PyYAML's own `safe_load` (issue 11, item 7).

Both read the same libyaml events; the builder makes its own values (to keep
line numbers and refuse hostile input). Over the public YAML test suite and
generated scalars, it must give what `safe_load` gives, or an error where
`safe_load` gives one, except for these documented differences:

- timestamps stay text (the manifest model parses them);
- mapping keys are text: `1: x` gives the key "1", `yes: x` "true", `~: x` "null";
- only plain data tags are accepted (`!!set`, `!!omap`, `!!pairs`, `!!binary`
  and custom tags are errors);
- a duplicate key is an error (`safe_load` keeps the last value);
- an empty file is an error (`safe_load` gives None);
- an anchor may be defined again, and later aliases take the new value, as YAML
  1.2 says (`safe_load` refuses a duplicate anchor).
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from upcall_sync.manifest.yamlload import YamlError, parse_yaml

from .conftest import FIXTURES

SUITE = FIXTURES / "yaml-test-suite"  # a copy of the shared corpus (shared/corpora/)
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_TIMESTAMP = "tag:yaml.org,2002:timestamp"

#: messages of the builder's documented refusals (where safe_load gives a value)
DOCUMENTED = re.compile(r"duplicate key|YAML tag .* is not allowed|binary values|file is empty")


def reference(text: str) -> Any:
    return yaml.load(text, Loader=yaml.CSafeLoader)  # safe_load, on the builder's parser


def _timestamp(text: str) -> Any:
    node = yaml.ScalarNode(_TIMESTAMP, text)
    try:
        return _CONSTRUCTOR.construct_yaml_timestamp(node)
    except (ValueError, TypeError, AttributeError):
        return None


def _key(ref_key: Any, ours: dict[str, Any]) -> str | None:
    if isinstance(ref_key, bool):
        return str(ref_key).lower()
    if ref_key is None:
        return "null"
    if isinstance(ref_key, (date, datetime)):
        return next((k for k in ours if _timestamp(k) == ref_key), None)
    if isinstance(ref_key, int | float | str):
        return str(ref_key)
    return None  # a key the builder cannot have: no match


def same(ref: Any, ours: Any) -> bool:
    """Whether the builder's value is safe_load's, modulo the documented differences."""
    if isinstance(ref, (date, datetime)):
        return isinstance(ours, str) and _timestamp(ours) == ref
    if isinstance(ref, dict):
        if not isinstance(ours, dict) or len(ref) != len(ours):
            return False
        keys = {_key(k, ours): v for k, v in ref.items()}
        return set(keys) == set(ours) and all(same(v, ours[k]) for k, v in keys.items())
    if isinstance(ref, list):
        return (
            isinstance(ours, list)
            and len(ref) == len(ours)
            and all(same(a, b) for a, b in zip(ref, ours, strict=True))
        )
    if isinstance(ref, float) and math.isnan(ref):
        return isinstance(ours, float) and math.isnan(ours)
    return type(ref) is type(ours) and bool(ref == ours)


def compare(text: str) -> str | None:
    """None when the builder agrees with safe_load; else what differs."""
    try:
        expected: Any = reference(text)
        ref_error = None
    except Exception as exc:  # safe_load raises ValueError too (e.g. `!!int abc`)
        expected, ref_error = None, exc
        if "found duplicate anchor" in str(exc):
            return None  # documented: the builder lets a later anchor override
    try:
        ours, problems = parse_yaml(text, "case.yaml", environ={})
    except YamlError as exc:
        if ref_error is not None or DOCUMENTED.search(exc.message):
            return None
        return f"builder refused what safe_load reads ({exc.message}); safe_load: {expected!r}"
    if ref_error is not None:
        return f"builder read what safe_load refuses ({ref_error!r}): {ours!r}"
    if problems or "${" in text:  # `${VAR}` expansion is the manifest's own feature
        return None
    if not same(expected, ours):
        return f"builder gave {ours!r}, safe_load {expected!r}"
    return None


def test_the_copied_suite_is_the_shared_corpus() -> None:
    # shared/ lies beside the checkout here and in CI; a stranger's clone has only the copy
    shared = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "yaml-test-suite"
    if not shared.is_dir():
        pytest.skip("the shared corpus is not beside this checkout")
    ours = {p.name for p in SUITE.iterdir()} - {"SOURCE.md"}
    assert ours == {p.name for p in shared.iterdir()}


def test_builder_agrees_with_safe_load_over_the_yaml_test_suite() -> None:
    cases = sorted(SUITE.glob("*.yaml"))
    assert len(cases) > 400
    differences = {}
    for path in cases:
        text = path.read_bytes().decode("utf-8", "replace")
        diff = compare(text)
        if diff:
            differences[path.stem] = diff
    assert differences == {}


def test_the_two_known_divergences_are_gone() -> None:
    for text in ("name: =", "pitch: <<", "- <<", "[a, =]"):
        with pytest.raises(YamlError, match="quote it"):
            parse_yaml(text, "m.yaml")
    assert compare("name: =") is None and compare("pitch: <<") is None
    assert parse_yaml('"<<": {a: 1}', "m.yaml")[0] == {"<<": {"a": 1}}  # quoted: plain text
    assert parse_yaml("=: x", "m.yaml")[0] == {"=": "x"}  # as a key, `=` is text (PyYAML too)
    assert compare('"<<": {a: 1}') is None


_SPECIAL = [
    "~", "null", "Null", "NULL", "", "y", "Yes", "on", "OFF", "true", "False", "<<", "=",
    ".inf", "-.Inf", ".NaN", "0o17", "017", "0x1F", "0b101", "1_000", "1:20", "190:20:30.15",
    "+12", "-0", "1e3", "1.5e+3", "6.8523015e+5", "2001-12-14", "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10", "12:30", "0.", ".5", "+.5", "1__0", "0xG", "!", "-",
]  # fmt: skip
_ALPHABET = [*"0123456789.+-_eExXoObB:~nNyYtTfFlLsS=<$ ", "Z"]
_scalars = st.one_of(
    st.sampled_from(_SPECIAL),
    st.text(st.sampled_from(_ALPHABET), max_size=10),
    st.text(max_size=8),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_scalars, st.sampled_from(["plain", "single", "double", "flow", "key"]))
def test_builder_agrees_with_safe_load_on_generated_scalars(scalar: str, form: str) -> None:
    quoted = {
        "plain": f"v: {scalar}\n",
        "single": "v: '" + scalar.replace("'", "''") + "'\n",
        "double": 'v: "' + scalar.replace("\\", "\\\\").replace('"', '\\"') + '"\n',
        "flow": f"v: [{scalar}, x]\n",
        "key": f"{scalar}: v\n",
    }[form]
    assert compare(quoted) is None, quoted
