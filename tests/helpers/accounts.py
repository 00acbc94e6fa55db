"""What an emulated account holds: the duplicates no run may leave."""

from __future__ import annotations

from typing import Any

from upcall_sync.emulator import Emulator


def duplicates(emulator: Emulator) -> dict[str, list[Any]]:
    """Anything that exists twice that should exist once, read from the database."""
    db = emulator.store.sql
    return {
        "campaigns": db(
            "SELECT name, COUNT(*) n FROM campaigns GROUP BY account_id, name HAVING n > 1"
        ),
        "lists": db("SELECT name, COUNT(*) n FROM lists GROUP BY account_id, name HAVING n > 1"),
        "contacts": db(
            "SELECT phone, first_name, COUNT(*) n FROM list_contacts GROUP BY list_id, phone, "
            "COALESCE(extension, ''), COALESCE(first_name, ''), COALESCE(last_name, '') HAVING n > 1"
        ),
        "numbers": db(
            "SELECT cn.campaign_id, lc.phone, lc.first_name, COUNT(*) n FROM campaign_numbers cn "
            "JOIN list_contacts lc ON lc.id = cn.list_contact_id GROUP BY cn.campaign_id, lc.phone, "
            "COALESCE(lc.extension, ''), COALESCE(lc.first_name, ''), COALESCE(lc.last_name, '') "
            "HAVING n > 1"
        ),
    }


def no_duplicates(emulator: Emulator) -> bool:
    return not any(duplicates(emulator).values())
