"""`apply --format json` documents, read and checked against their schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parent.parent.parent
PLAN_SCHEMA = json.loads((ROOT / "schema" / "plan.schema.json").read_text())
REPORT_SCHEMA = json.loads((ROOT / "schema" / "apply-report.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(
    REPORT_SCHEMA,
    registry=Registry().with_resource(PLAN_SCHEMA["$id"], Resource.from_contents(PLAN_SCHEMA)),
)


def report(out: str) -> dict[str, Any]:
    """stdout is exactly one JSON document, valid against the report's schema."""
    doc: dict[str, Any] = json.loads(out)
    VALIDATOR.validate(doc)
    return doc
