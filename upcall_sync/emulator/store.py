"""The emulator's state: one SQLite database, every account in it, indexed for scale.

All access goes through one connection guarded by a lock: SQLite work per
request is tens of microseconds, so the lock is never what a benchmark
measures, and there is no per-request connection setup.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    id INTEGER PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS confirmed_numbers (
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    phone TEXT NOT NULL,
    PRIMARY KEY (account_id, phone)
);
CREATE TABLE IF NOT EXISTS campaigns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    name TEXT NOT NULL,
    pitch TEXT,
    language TEXT,
    status TEXT,
    instructions TEXT,
    start_datetime TEXT,
    end_datetime TEXT,
    from_number TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS campaigns_account ON campaigns(account_id, id);
CREATE INDEX IF NOT EXISTS campaigns_name ON campaigns(account_id, name);
CREATE INDEX IF NOT EXISTS campaigns_from ON campaigns(account_id, from_number);
CREATE INDEX IF NOT EXISTS campaigns_status ON campaigns(account_id, status);
CREATE TABLE IF NOT EXISTS lists (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS lists_name ON lists(account_id, name);
CREATE TABLE IF NOT EXISTS list_contacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    list_id INTEGER NOT NULL REFERENCES lists(id),
    phone TEXT NOT NULL,
    extension TEXT,
    first_name TEXT,
    last_name TEXT,
    title TEXT,
    company TEXT,
    email TEXT,
    recipient TEXT,
    line1 TEXT,
    line2 TEXT,
    city TEXT,
    region TEXT,
    postal_code TEXT,
    country TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS contacts_list ON list_contacts(list_id, id);
CREATE INDEX IF NOT EXISTS contacts_phone ON list_contacts(list_id, phone);
CREATE TABLE IF NOT EXISTS campaign_numbers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
    list_contact_id INTEGER NOT NULL REFERENCES list_contacts(id),
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (campaign_id, list_contact_id)
);
CREATE INDEX IF NOT EXISTS numbers_campaign ON campaign_numbers(campaign_id, id);
CREATE INDEX IF NOT EXISTS numbers_contact ON campaign_numbers(list_contact_id);
CREATE TABLE IF NOT EXISTS read_only_tokens (
    token_sha256 TEXT PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id)
);
"""

CAMPAIGN_COLUMNS = (
    "name",
    "pitch",
    "language",
    "status",
    "instructions",
    "start_datetime",
    "end_datetime",
    "from_number",
)
ADDRESS_COLUMNS = ("recipient", "line1", "line2", "city", "region", "postal_code", "country")
CONTACT_COLUMNS = (
    "phone",
    "extension",
    "first_name",
    "last_name",
    "title",
    "company",
    "email",
    *ADDRESS_COLUMNS,
)
CONTACT_FILTERS = tuple(c for c in CONTACT_COLUMNS if c != "extension")

Row = dict[str, Any]


def now_text() -> str:
    """The current time as the API writes it: UTC with milliseconds."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class DuplicateNumber(Exception):
    """The list contact is already in that campaign."""


@dataclass(frozen=True)
class PageResult:
    """One page: `data` is the JSON text of its resource documents, built by SQLite."""

    data: str
    total: int


def _text(column: str) -> str:
    return f"CAST({column} AS TEXT)"


_ADDRESS_JSON = "json_object(" + ", ".join(f"'{c}', {c}" for c in ADDRESS_COLUMNS) + ")"
_CONTACT_ATTRS = (
    "'first_name', first_name, 'last_name', last_name, 'title', title, 'company', company, "
    "'email', email, 'phone', phone, 'extension', extension, 'address', " + _ADDRESS_JSON
)
CAMPAIGN_JSON = (
    f"json_object('id', {_text('id')}, 'type', 'campaigns', 'attributes', json_object("
    "'name', name, 'pitch', pitch, 'language', language, 'status', status, "
    "'updated_at', updated_at, 'created_at', created_at, 'start_datetime', start_datetime, "
    "'end_datetime', end_datetime, 'instructions', instructions))"
)
NUMBER_JSON = (
    f"json_object('id', {_text('id')}, 'type', 'campaign_numbers', 'attributes', "
    f"json_object('status', status, {_CONTACT_ATTRS}))"
)
CONTACT_JSON = (
    f"json_object('id', {_text('id')}, 'type', 'list_contacts', 'attributes', "
    f"json_object({_CONTACT_ATTRS}, 'created_at', created_at, 'updated_at', updated_at))"
)
LIST_JSON = (
    f"json_object('id', {_text('id')}, 'type', 'lists', 'attributes', json_object("
    "'name', name, 'created_at', created_at, 'updated_at', updated_at))"
)


class Store:
    """SQLite-backed accounts, campaigns, contact lists, contacts and campaign numbers."""

    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._version = 0
        self._counts: dict[tuple[Any, ...], int] = {}
        with self._lock:
            if path != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
            self._add_number_copies()

    def _add_number_copies(self) -> None:
        """Campaign numbers keep a copy of their contact's details, taken when added.

        Served only with `copied=True` (the `--numbers-copy-contacts` reading);
        the columns are added, and filled from the contacts, in a database an
        older emulator wrote.
        """
        have = {r[1] for r in self._db.execute("PRAGMA table_info(campaign_numbers)")}
        missing = [c for c in CONTACT_COLUMNS if c not in have]
        for column in missing:
            self._db.execute(f"ALTER TABLE campaign_numbers ADD COLUMN {column} TEXT")
        if missing:
            sets = ", ".join(
                f"{c} = (SELECT lc.{c} FROM list_contacts lc WHERE lc.id = list_contact_id)"
                for c in CONTACT_COLUMNS
            )
            self._db.execute(f"UPDATE campaign_numbers SET {sets}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- Low-level helpers ----------------------------------------------------

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._lock:
            return [dict(r) for r in self._db.execute(sql, params).fetchall()]

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        with self._lock:
            row = self._db.execute(sql, params).fetchone()
        return dict(row) if row is not None else None

    def _write(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._lock:
            cur = self._db.execute(sql, params)
            self._version += 1
            if len(self._counts) > 10_000:
                self._counts.clear()
            return int(cur.lastrowid or 0)

    def _page(
        self, doc: str, select: str, where: str, params: list[Any], page: int, size: int
    ) -> PageResult:
        """A page of documents as JSON text, built inside SQLite (no Python row objects)."""
        count_sql = f"SELECT COUNT(*) {where}"
        key = (count_sql, tuple(params), self._version)
        with self._lock:
            total = self._counts.get(key)
            if total is None:
                total = int(self._db.execute(count_sql, params).fetchone()[0])
                self._counts[key] = total
            row = self._db.execute(
                f"SELECT json_group_array(json({doc})) FROM ({select} {where} LIMIT ? OFFSET ?)",
                [*params, size, (page - 1) * size],
            ).fetchone()
        return PageResult(row[0] or "[]", total)

    # -- Accounts -------------------------------------------------------------

    def add_account(self, token: str, confirmed_numbers: Iterable[str] = ()) -> int:
        digest = token_digest(token)
        row = self._one("SELECT id FROM accounts WHERE token_sha256 = ?", (digest,))
        account = (
            int(row["id"])
            if row
            else self._write("INSERT INTO accounts (token_sha256) VALUES (?)", (digest,))
        )
        for phone in confirmed_numbers:
            self.add_confirmed_number(account, phone)
        return account

    def account_for_token(self, token: str) -> int | None:
        access = self.token_access(token)
        return access[0] if access else None

    def token_access(self, token: str) -> tuple[int, bool] | None:
        """(account, read-only?) for a token; None when no account accepts it."""
        digest = token_digest(token)
        row = self._one("SELECT id FROM accounts WHERE token_sha256 = ?", (digest,))
        if row:
            return int(row["id"]), False
        row = self._one("SELECT account_id FROM read_only_tokens WHERE token_sha256 = ?", (digest,))
        return (int(row["account_id"]), True) if row else None

    def add_read_only_token(self, token: str, account: int) -> None:
        """A second token for `account` that may read everything and write nothing."""
        if self.token_access(token) is not None:
            raise ValueError("a read-only token must differ from every other token")
        self._write(
            "INSERT INTO read_only_tokens (token_sha256, account_id) VALUES (?, ?)",
            (token_digest(token), account),
        )

    def add_confirmed_number(self, account: int, phone: str) -> None:
        self._write(
            "INSERT OR IGNORE INTO confirmed_numbers (account_id, phone) VALUES (?, ?)",
            (account, phone),
        )

    def is_confirmed(self, account: int, phone: str) -> bool:
        return (
            self._one(
                "SELECT 1 FROM confirmed_numbers WHERE account_id = ? AND phone = ?",
                (account, phone),
            )
            is not None
        )

    # -- Campaigns ------------------------------------------------------------

    def list_campaigns(
        self, account: int, filters: dict[str, Any], page: int, size: int
    ) -> PageResult:
        where = ["account_id = ?"]
        params: list[Any] = [account]
        for column in ("name", "language", "status", "from_number"):
            if column in filters:
                where.append(f"{column} = ?")
                params.append(filters[column])
        for key, column in (
            ("start", "start_datetime"),
            ("created", "created_at"),
            ("updated", "updated_at"),
        ):
            if f"min_{key}" in filters:
                where.append(f"{column} >= ?")
                params.append(filters[f"min_{key}"])
            if f"max_{key}" in filters:
                where.append(f"{column} <= ?")
                params.append(filters[f"max_{key}"])
        clause = "FROM campaigns WHERE " + " AND ".join(where)
        return self._page(CAMPAIGN_JSON, "SELECT *", clause + " ORDER BY id", params, page, size)

    def get_campaign(self, account: int, campaign_id: int) -> Row | None:
        return self._one(
            "SELECT * FROM campaigns WHERE id = ? AND account_id = ?", (campaign_id, account)
        )

    def create_campaign(self, account: int, values: dict[str, Any]) -> Row:
        stamp = now_text()
        cols = [c for c in CAMPAIGN_COLUMNS if c in values]
        sql = (
            f"INSERT INTO campaigns (account_id, {', '.join(cols)}, created_at, updated_at) "
            f"VALUES (?, {', '.join('?' for _ in cols)}, ?, ?)"
        )
        new_id = self._write(sql, [account, *(values[c] for c in cols), stamp, stamp])
        row = self.get_campaign(account, new_id)
        assert row is not None
        return row

    def update_campaign(self, account: int, campaign_id: int, values: dict[str, Any]) -> Row:
        cols = [c for c in CAMPAIGN_COLUMNS if c in values]
        if cols:
            sets = ", ".join(f"{c} = ?" for c in cols)
            self._write(
                f"UPDATE campaigns SET {sets}, updated_at = ? WHERE id = ? AND account_id = ?",
                [*(values[c] for c in cols), now_text(), campaign_id, account],
            )
        row = self.get_campaign(account, campaign_id)
        assert row is not None
        return row

    # -- Contact lists and contacts -------------------------------------------

    def list_lists(self, account: int, name: str | None, page: int, size: int) -> PageResult:
        where = "FROM lists WHERE account_id = ?"
        params: list[Any] = [account]
        if name is not None:
            where += " AND name = ?"
            params.append(name)
        return self._page(LIST_JSON, "SELECT *", where + " ORDER BY id", params, page, size)

    def get_list(self, account: int, list_id: int) -> Row | None:
        return self._one("SELECT * FROM lists WHERE id = ? AND account_id = ?", (list_id, account))

    def create_list(self, account: int, name: str) -> Row:
        stamp = now_text()
        new_id = self._write(
            "INSERT INTO lists (account_id, name, created_at, updated_at) VALUES (?, ?, ?, ?)",
            (account, name, stamp, stamp),
        )
        row = self.get_list(account, new_id)
        assert row is not None
        return row

    def list_contacts(
        self, account: int, list_id: int, filters: dict[str, Any], page: int, size: int
    ) -> PageResult:
        where = ["list_id = ?", "account_id = ?"]
        params: list[Any] = [list_id, account]
        for column in CONTACT_FILTERS:
            if column in filters:
                where.append(f"{column} = ?")
                params.append(filters[column])
        clause = "FROM list_contacts WHERE " + " AND ".join(where) + " ORDER BY id"
        return self._page(CONTACT_JSON, "SELECT *", clause, params, page, size)

    def get_contact(self, account: int, contact_id: int) -> Row | None:
        return self._one(
            "SELECT * FROM list_contacts WHERE id = ? AND account_id = ?", (contact_id, account)
        )

    def create_contact(self, account: int, list_id: int, values: dict[str, Any]) -> Row:
        stamp = now_text()
        cols = [c for c in CONTACT_COLUMNS if c in values]
        sql = (
            f"INSERT INTO list_contacts (account_id, list_id, {', '.join(cols)}, created_at, "
            f"updated_at) VALUES (?, ?, {', '.join('?' for _ in cols)}, ?, ?)"
        )
        new_id = self._write(sql, [account, list_id, *(values[c] for c in cols), stamp, stamp])
        row = self.get_contact(account, new_id)
        assert row is not None
        return row

    def update_contact(self, account: int, contact_id: int, values: dict[str, Any]) -> Row:
        cols = [c for c in CONTACT_COLUMNS if c in values]
        if cols:
            sets = ", ".join(f"{c} = ?" for c in cols)
            self._write(
                f"UPDATE list_contacts SET {sets}, updated_at = ? WHERE id = ? AND account_id = ?",
                [*(values[c] for c in cols), now_text(), contact_id, account],
            )
        row = self.get_contact(account, contact_id)
        assert row is not None
        return row

    # -- Campaign numbers -----------------------------------------------------

    @staticmethod
    def _number_source(copied: bool) -> tuple[str, str]:
        """(SELECT list, FROM clause) of campaign numbers with their details.

        Live (the default): the details are a join over the list contact, so a
        contact PATCH shows in every number made from it. Copied: the details
        the number took when it was added.
        """
        side = "cn" if copied else "lc"
        select = (
            "SELECT cn.id AS id, cn.status AS status, "
            + ", ".join(f"{side}.{c} AS {c}" for c in CONTACT_COLUMNS)
            + " "
        )
        source = "FROM campaign_numbers cn " + (
            "" if copied else "JOIN list_contacts lc ON lc.id = cn.list_contact_id "
        )
        return select, source

    def list_numbers(
        self,
        account: int,
        campaign_id: int,
        filters: dict[str, Any],
        page: int,
        size: int,
        *,
        copied: bool = False,
    ) -> PageResult:
        select, source = self._number_source(copied)
        side = "cn" if copied else "lc"
        where = ["cn.campaign_id = ?", "cn.account_id = ?"]
        params: list[Any] = [campaign_id, account]
        for column in CONTACT_FILTERS:
            if column in filters:
                where.append(f"{side}.{column} = ?")
                params.append(filters[column])
        clause = source + "WHERE " + " AND ".join(where) + " ORDER BY cn.id"
        return self._page(NUMBER_JSON, select, clause, params, page, size)

    _ADD_NUMBER = (
        "INSERT INTO campaign_numbers (account_id, campaign_id, list_contact_id, status, "
        f"created_at, {', '.join(CONTACT_COLUMNS)}) "
        f"SELECT ?, ?, id, 'active', ?, {', '.join(CONTACT_COLUMNS)} FROM list_contacts "
        "WHERE id = ?"
    )

    def add_number(
        self, account: int, campaign_id: int, contact_id: int, *, copied: bool = False
    ) -> Row:
        """Add a list contact to a campaign; its details are copied onto the number."""
        select, source = self._number_source(copied)
        with self._lock:
            exists = self._one(
                "SELECT 1 FROM campaign_numbers WHERE campaign_id = ? AND list_contact_id = ?",
                (campaign_id, contact_id),
            )
            if exists:
                raise DuplicateNumber(contact_id)
            new_id = self._write(self._ADD_NUMBER, (account, campaign_id, now_text(), contact_id))
            row = self._one(select + source + "WHERE cn.id = ?", (new_id,))
        assert row is not None
        return row

    def document(self, kind: str, resource_id: int, *, copied: bool = False) -> str:
        """One resource as the JSON text of its document: the same SQL as list pages."""
        select, source = self._number_source(copied)
        sql = {
            "campaign": f"SELECT {CAMPAIGN_JSON} FROM campaigns WHERE id = ?",
            "list": f"SELECT {LIST_JSON} FROM lists WHERE id = ?",
            "contact": f"SELECT {CONTACT_JSON} FROM list_contacts WHERE id = ?",
            "number": f"SELECT {NUMBER_JSON} FROM ({select}{source}WHERE cn.id = ?)",
        }[kind]
        with self._lock:
            row = self._db.execute(sql, (resource_id,)).fetchone()
        assert row is not None, (kind, resource_id)
        return str(row[0])

    # -- Inspection (tests, benchmarks) ---------------------------------------

    def sql(self, query: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a read-only query: for tests that check the database directly."""
        return self._query(query, params)

    def seed(
        self,
        account: int,
        *,
        campaigns: Sequence[dict[str, Any]] = (),
        list_name: str | None = None,
        contacts: Sequence[dict[str, Any]] = (),
        memberships: Sequence[tuple[int, int]] = (),
    ) -> dict[str, Any]:
        """Bulk-insert state in one transaction (benchmarks); returns the new ids.

        `memberships` pairs are (campaign index, contact index) into the lists given.
        """
        stamp = now_text()
        with self._lock:
            db = self._db
            db.execute("BEGIN")
            try:
                first_campaign = (
                    (db.execute("SELECT COALESCE(MAX(id), 0) FROM campaigns").fetchone()[0]) + 1
                )
                db.executemany(
                    "INSERT INTO campaigns (account_id, name, pitch, language, status, "
                    "instructions, start_datetime, end_datetime, from_number, created_at, "
                    "updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    [
                        (
                            account,
                            c["name"],
                            c.get("pitch"),
                            c.get("language"),
                            c.get("status", "pending"),
                            c.get("instructions"),
                            c.get("start_datetime"),
                            c.get("end_datetime"),
                            c.get("from_number"),
                            stamp,
                            stamp,
                        )
                        for c in campaigns
                    ],
                )
                list_id = None
                first_contact = 0
                if list_name is not None:
                    list_id = int(
                        db.execute(
                            "INSERT INTO lists (account_id, name, created_at, updated_at) "
                            "VALUES (?,?,?,?)",
                            (account, list_name, stamp, stamp),
                        ).lastrowid
                        or 0
                    )
                    first_contact = (
                        (db.execute("SELECT COALESCE(MAX(id), 0) FROM list_contacts").fetchone()[0])
                        + 1
                    )
                    columns = ", ".join(CONTACT_COLUMNS)
                    marks = ", ".join("?" for _ in CONTACT_COLUMNS)
                    db.executemany(
                        f"INSERT INTO list_contacts (account_id, list_id, {columns}, "
                        f"created_at, updated_at) VALUES (?, ?, {marks}, ?, ?)",
                        [
                            (account, list_id, *(c.get(k) for k in CONTACT_COLUMNS), stamp, stamp)
                            for c in contacts
                        ],
                    )
                db.executemany(
                    self._ADD_NUMBER,
                    [
                        (account, first_campaign + ci, stamp, first_contact + ki)
                        for ci, ki in memberships
                    ],
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._version += 1
        return {
            "first_campaign_id": first_campaign,
            "list_id": list_id,
            "first_contact_id": first_contact,
        }
