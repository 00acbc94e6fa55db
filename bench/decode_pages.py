"""One page of 100 campaign numbers, decoded and mapped to live numbers (issue 26).

    python bench/decode_pages.py

Fetches real pages from the emulator (the plan scenario's shape: 100 numbers per
campaign), then times, per page (least of 7 repeats of 200 calls, µs): the decoders
alone, and the whole path from body to the `LiveNumber`s a plan compares — before
(orjson, then `contact_row` → `NumberRow` → `live_number` per resource, the ids
de-duplicated one by one) and now (`rows.decode_rows`: msgspec's typed decode, rows
built from its structs; `live_numbers` per page; the ids checked as a set).
"""

from __future__ import annotations

import sys
import tempfile
import timeit
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import orjson
import requests
from harness import TOKEN, emulator
from run import seed_large_account

from upcall_sync.client.api import NUMBER_TYPES, number_row
from upcall_sync.client.rows import NumberRow, _decode_document, decode_rows
from upcall_sync.state.rows import live_number, live_numbers


def fetch_pages() -> list[bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "small.sqlite"
        seed_large_account(db, 40, 10, 100)
        with emulator(db, 0) as emu:
            listed = requests.get(
                f"{emu.url}/campaigns", params={"auth_token": TOKEN, "page[size]": 100}, timeout=30
            ).json()["data"]
            pages = []
            for c in listed:
                raw = requests.get(
                    f"{emu.url}/campaigns/{c['id']}/numbers",
                    params={"auth_token": TOKEN, "page[size]": 100, "page[number]": 1},
                    timeout=30,
                ).content
                if raw.count(b'"campaign_numbers"') == 100:
                    pages.append(raw)
            return pages


def before(raw: bytes) -> list[Any]:
    items = orjson.loads(raw)["data"]
    mapped = [live_number(number_row(item)) for item in items]
    rows, ids = [], set()
    for item, row in zip(items, mapped, strict=True):
        key = item.get("id") if isinstance(item, dict) else None
        if key is not None and key in ids:
            continue
        if key is not None:
            ids.add(key)
        rows.append(row)
    return rows


def after(raw: bytes) -> list[Any]:
    page = decode_rows(raw, NUMBER_TYPES, NumberRow)
    assert page is not None
    ids = set(page.ids)
    assert None not in ids and len(ids) == len(page.ids)
    return live_numbers(page.rows)


def per_page(fn: Any, raw: bytes) -> float:
    return min(timeit.repeat(lambda: fn(raw), number=200, repeat=7)) / 200 * 1e6


def main() -> int:
    pages = fetch_pages()
    raw = pages[0]
    assert before(raw) == after(raw)
    print(f"one page of 100 numbers, {len(raw):,} bytes; µs per page (least of 7 x 200)")
    for name, fn in [
        ("orjson.loads alone", orjson.loads),
        ("msgspec typed decode alone", _decode_document),
        ("before: orjson + contact_row/NumberRow/live_number per row + de-dup", before),
        ("now: decode_rows + live_numbers per page + id set", after),
    ]:
        print(f"{per_page(fn, raw):8.0f}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
