"""Check that schema/*.json are self-contained and open (tests/test_schemas.py runs it).

- apply-report.schema.json embeds plan.schema.json under `$defs.plan` (with its `$id`), so
  its `$ref`s to the plan resolve inside the file: no network, no registry.
- The output schemas (plan, apply report) promise that new optional fields may appear
  within a format version, so none of their objects sets `additionalProperties: false`
  (nor `unevaluatedProperties: false`; maps of counts keep their value schemas). The
  manifest schema is an input: unknown keys there are mistakes, and it stays closed.

    python scripts/bundle_schemas.py [--embed]   # exit 1 naming what is not so
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SCHEMA = Path(__file__).resolve().parent.parent / "schema"


def opened(node: Any) -> Any:
    """The schema without `additionalProperties: false` anywhere."""
    if isinstance(node, dict):
        return {
            k: opened(v)
            for k, v in node.items()
            if not (k in ("additionalProperties", "unevaluatedProperties") and v is False)
        }
    if isinstance(node, list):
        return [opened(v) for v in node]
    return node


def problems() -> list[str]:
    """What keeps the schemas from being self-contained and open; empty when they are."""
    plan = json.loads((SCHEMA / "plan.schema.json").read_text())
    report = json.loads((SCHEMA / "apply-report.schema.json").read_text())
    found = [
        f"{name}: additionalProperties false somewhere"
        for name, doc in (("plan.schema.json", plan), ("apply-report.schema.json", report))
        if opened(doc) != doc
    ]
    if report.get("$defs", {}).get("plan") != plan:
        found.append("apply-report.schema.json: $defs.plan is not plan.schema.json")
    return found


def embed() -> None:
    """Copy plan.schema.json into apply-report.schema.json's `$defs.plan` again (after an
    edit of the plan schema), keeping the rest of the file's layout."""
    plan = json.loads((SCHEMA / "plan.schema.json").read_text())
    path = SCHEMA / "apply-report.schema.json"
    text = path.read_text()
    report = json.loads(text)
    old = report["$defs"].pop("plan", None)
    blob = json.dumps(plan, indent=2, ensure_ascii=False).replace("\n", "\n    ")
    if old is not None:  # drop the old copy: it is the first entry of $defs
        start = text.index('"plan": {', text.index('"$defs": {'))
        end = start + len('"plan": ') + _object_length(text, start + len('"plan": '))
        text = text[:start] + text[end:].lstrip(",").lstrip()
        text = text.replace('"$defs": {', '"$defs": {\n    ', 1)
    at = text.index('"$defs": {') + len('"$defs": {')
    text = text[:at] + f'\n    "plan": {blob},' + text[at:].replace("\n    \n", "\n", 1)
    json.loads(text)
    path.write_text(text)


def _object_length(text: str, start: int) -> int:
    return (
        len(text[start:])
        - len(text[start:].lstrip())
        + json.JSONDecoder().raw_decode(text[start:].lstrip())[1]
    )


def main(argv: list[str]) -> int:
    """Say what keeps the schemas from being self-contained and open (exit 1); with
    --embed, first copy the plan schema into the apply report's again."""
    if "--embed" in argv:
        embed()
    found = problems()
    for line in found:
        sys.stdout.write(line + "\n")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
