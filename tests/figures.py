"""Figures the reliability suite measures, printed in pytest's terminal summary.

docs/reliability.md quotes this summary; the command that reproduces it is
`./scripts/test tests/` (or `python -m pytest tests/ -q`).

Under pytest-xdist every worker counts its own tests; the controller adds the
workers' counters up (tests/helpers/parallel.py) before printing. Nothing counted goes
unprinted: a counter no line below reads is printed under "other figures", and a
worker whose counters never arrived is named.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping

_lock = threading.Lock()
counts: Counter[str] = Counter()
notes: dict[str, str] = {}
missing: list[str] = []  # workers whose counters never arrived


def add(name: str, n: int = 1) -> None:
    with _lock:
        counts[name] += n


def merge(other: Mapping[str, int]) -> None:
    """Add another process's counters (a pytest-xdist worker's) to these."""
    with _lock:
        counts.update(other)


class _Reading(Counter[str]):
    """The counters, remembering which ones were read."""

    def __init__(self, source: Mapping[str, int]) -> None:
        super().__init__(source)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> int:
        self.read.add(key)
        return super().__getitem__(key)


def lines() -> list[str]:
    c = _Reading(counts)
    out = _known_lines(c)
    unread = sorted(k for k in counts if k not in c.read)
    if unread:
        out.append("other figures: " + ", ".join(f"{k} {counts[k]}" for k in unread))
    if missing:
        out.append(
            "INCOMPLETE: no figures from " + ", ".join(missing) + " (their tests are not counted)"
        )
    return out


def _known_lines(c: Counter[str]) -> list[str]:
    out = []
    if c["matrix_cells"]:
        out.append(
            f"fault matrix: {c['matrix_cells']} cells tried, {c['matrix_converged']} converged, "
            f"{c['matrix_duplicates']} duplicates, {c['matrix_lost']} lost"
        )
    if c["fault_seed_runs"]:
        out.append(
            f"random faults: {c['fault_seed_runs']} seeded applies, {c['fault_seed_converged']} converged, "
            f"{c['fault_seed_duplicates']} duplicates, {c['faults_injected']} faults injected"
        )
    if c["misbehaving_cases"]:
        out.append(
            f"misbehaving API: {c['misbehaving_cases']} cases tried, {c['misbehaving_handled']} handled "
            "(one-line error, exit 1, no hang)"
        )
    if c["hypothesis_examples"]:
        out.append(
            f"hostile input: {c['hypothesis_examples']} hypothesis manifests validated "
            f"({c['hypothesis_valid']} valid, {c['hypothesis_invalid']} invalid, "
            f"{c['schema_disagreements']} disagreements with the JSON Schema); "
            f"{c['yaml_suite_cases']} YAML test-suite cases, {c['yaml_suite_clean']} ended cleanly"
        )
    if c["export_accounts"]:
        out.append(
            f"export round trip: {c['export_accounts']} generated accounts, "
            f"{c['export_round_trips']} exported, validated and planned to no changes with no "
            f"write; {c['export_refusals']} holding a value no manifest can hold, refused"
        )
    if c["fuzz_requests"]:
        out.append(f"emulator fuzz: {c['fuzz_requests']} requests, {c['fuzz_5xx']} answered 5xx")
    if c["late_commits"]:
        out.append(
            f"late commits: {c['late_commits']} POSTs committed after the client's timeout, "
            f"{c['late_commits_let_through']} let through (a duplicate apply did not catch)"
        )
    if c["hostile_secret_runs"]:
        out.append(
            f"token-printing manifests: {c['hostile_secret_runs']} runs of validate and plan "
            "(interpolation, CSV at the token file, /proc/self/environ) scanned, "
            f"{c['leaks']} leaks"
        )
    if c["hijack_attempts"]:
        out.append(
            f"hijack attempts: {c['hijack_attempts']} lookalike comments and issues (the "
            f"marker posted by another identity), {c['hijack_let_through']} let through"
        )
    if c["content_probes"]:
        out.append(
            f"file-content probes: {c['content_probes']} runs of validate and plan (text, "
            "markdown) with numbers_csv at secret-looking files (.env, a token file, a key, "
            ".csv/.txt/.tsv/.xlsx names holding no contacts, a mapping onto AWS's "
            f"credentials.csv), {c['content_leaks']} let through"
        )
    out.append(
        f"secret scans: {c['scanned_texts']} outputs and {c['scanned_files']} files scanned "
        f"for the test tokens, {c['leaks']} leaks"
    )
    return out
