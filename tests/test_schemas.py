"""schema/*.json (issue 24): self-contained, open where they promise new optional fields,
and every example JSON document validates offline with check-jsonschema (no registry,
no network: a proxy that refuses everything is set, so any download would fail).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from .conftest import ROOT

SCHEMA = ROOT / "schema"
EXAMPLES = sorted((ROOT / "examples/json").glob("*.json"))
SCHEMA_OF = {"plan.json": "plan.schema.json", "apply-report.json": "apply-report.schema.json"}


def check_jsonschema(schema: Path, *docs: Path) -> subprocess.CompletedProcess[str]:
    offline = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
    exe = Path(sys.executable).parent / "check-jsonschema"
    return subprocess.run(
        [str(exe), "--no-cache", "--schemafile", str(schema), *map(str, docs)],
        capture_output=True,
        text=True,
        env={**os.environ, **offline},
        check=False,
        timeout=120,
    )


def test_the_schemas_are_bundled_and_open() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts/bundle_schemas.py")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout
    report = json.loads((SCHEMA / "apply-report.schema.json").read_text())
    refs = json.dumps(report)
    assert "https://upcall-sync.dev/schema/plan-v1.json" in refs  # resolved by the $defs copy
    assert report["$defs"]["plan"]["$id"] == "https://upcall-sync.dev/schema/plan-v1.json"


def test_every_example_json_document_validates_offline() -> None:
    assert {p.name for p in EXAMPLES} == set(SCHEMA_OF)
    for doc in EXAMPLES:
        done = check_jsonschema(SCHEMA / SCHEMA_OF[doc.name], doc)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "ok -- validation done" in done.stdout


def test_the_example_manifest_validates_against_the_manifest_schema() -> None:
    done = check_jsonschema(SCHEMA / "manifest.schema.json", ROOT / "examples/campaigns.yaml")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", sorted(SCHEMA_OF))
def test_a_v1_document_with_a_new_optional_field_is_still_v1(name: str, tmp_path: Path) -> None:
    """format_version changes only when a field changes meaning or goes away: a document
    with one more field, anywhere, is a valid v1 document."""
    doc = json.loads((ROOT / "examples/json" / name).read_text())
    doc["added_in_a_later_release"] = 1
    doc["changes"][0]["also_new"] = {"x": 1}
    schema = json.loads((SCHEMA / SCHEMA_OF[name]).read_text())
    jsonschema.Draft202012Validator(schema).validate(doc)  # no registry: self-contained
    changed = tmp_path / name
    changed.write_text(json.dumps(doc))
    done = check_jsonschema(SCHEMA / SCHEMA_OF[name], changed)
    assert done.returncode == 0, done.stdout + done.stderr
    doc["format_version"] = "2"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(doc)
