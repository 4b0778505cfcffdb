"""Contacts (students and parents) in PostgreSQL: CSV import with a per-row error report, and
the asynchronous lookup the flows' `lookup` node uses on live calls."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cachetools import TTLCache

from callcenter.errors import CallcenterError
from callcenter.ivr.contacts import Contact, normalise_number

__all__ = ["COLUMNS", "ImportResult", "ImportedContact", "PgContacts", "RowProblem",
           "import_contacts", "read_contacts_csv"]

log = logging.getLogger(__name__)

COLUMNS = ("number", "name", "vip", "region", "language", "consent")
LANGUAGES = ("zh", "yue", "en")
# the optional consent column (to calls that are not a service: leads, surveys)
_CONSENT = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}
_MISSING = object()
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SCIENTIFIC = re.compile(r"^[+-]?\d+(\.\d+)?[eE]\+?\d+$")  # Excel's 1.38001E+10


class ContactFileError(CallcenterError):
    """The contact file as a whole cannot be read (encoding, header)."""


@dataclass(frozen=True)
class ImportedContact(Contact):
    """A contact row of the file; `consent` None: the file does not say (a new contact has
    none, an existing one keeps its own)."""

    consent: bool | None = None


@dataclass(frozen=True)
class RowProblem:
    path: Path
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.column}: {self.message}"


@dataclass
class ImportResult:
    inserted: int = 0
    updated: int = 0
    removed: int = 0
    problems: list[RowProblem] = field(default_factory=list)


def _decode(path: Path) -> tuple[str, str]:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:  # spreadsheets saved on Chinese Windows write GB18030/GBK
        return data.decode("gb18030"), "GB18030"
    except UnicodeDecodeError as exc:
        raise ContactFileError(f"{path}: neither UTF-8 nor GB18030 text (byte {exc.start}) — "
                               "save the sheet as 'CSV UTF-8'") from None


def _check_row(path: Path, line: int, row: dict[str, str]) -> tuple[Contact | None,
                                                                      list[RowProblem]]:
    problems: list[RowProblem] = []

    def bad(column: str, message: str) -> None:
        problems.append(RowProblem(path, line, column, message))

    raw = (row.get("number") or "").strip()
    number = normalise_number(raw)
    if not raw:
        bad("number", "empty — every contact needs a phone number")
    elif _SCIENTIFIC.match(raw):
        # the digits past the mantissa are gone: no repair is possible from this file
        bad("number", f"Excel wrote {raw!r} in scientific notation and lost digits — format "
            "the column as Text in Excel, retype or paste the numbers, and save again")
    elif re.search(r"[^\d +()-]", raw) or not 5 <= len(number) <= 15:
        bad("number", f"{raw!r} is not a phone number — digits only (5–15), optionally "
            "with +86, spaces or dashes")
    name = (row.get("name") or "").strip()
    if _CONTROL.search(name) or len(name) > 64:
        bad("name", "at most 64 characters, no control characters")
    vip_text = (row.get("vip") or "0").strip() or "0"
    vip = 0
    if not vip_text.isdigit() or not 0 <= int(vip_text) <= 9:
        bad("vip", f"{vip_text!r} is not a VIP tier — a whole number 0 (none) to 9")
    else:
        vip = int(vip_text)
    region = (row.get("region") or "").strip()
    if _CONTROL.search(region) or len(region) > 32:
        bad("region", "at most 32 characters, no control characters")
    language = (row.get("language") or "zh").strip() or "zh"
    if language not in LANGUAGES:
        bad("language", f"{language!r} is not a prompt language — one of "
            f"{', '.join(LANGUAGES)}")
    consent_text = (row.get("consent") or "").strip().lower()
    consent = _CONSENT.get(consent_text)
    if consent_text and consent is None:
        bad("consent", f"{consent_text!r} is not a consent — yes/no, true/false or 1/0 "
            "(empty: unchanged)")
    if problems:
        return None, problems
    return ImportedContact(number, name, vip, region, language, consent), []


def read_contacts_csv(path: Path) -> tuple[list[ImportedContact], list[RowProblem], str]:
    """Good contacts, the problems of the bad rows, and the encoding the file was read as."""
    try:
        text, encoding = _decode(path)
    except OSError as exc:
        raise ContactFileError(f"cannot read {path}: {exc.strerror}") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in reader.fieldnames or []]
    if "number" not in header:
        raise ContactFileError(f"{path}:1: no 'number' column — the first line must name the "
                               f"columns: {','.join(COLUMNS)}")
    extra = [h for h in header if h not in COLUMNS]
    if extra:
        raise ContactFileError(f"{path}:1: unknown column(s) {', '.join(extra)} — the columns "
                               f"are {','.join(COLUMNS)}")
    reader.fieldnames = header
    contacts: list[ImportedContact] = []
    problems: list[RowProblem] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if None in row:  # more cells than columns
            problems.append(RowProblem(path, line, "-", "more cells than columns — a comma "
                                       "inside a name needs quotes"))
            continue
        contact, bad = _check_row(path, line, row)
        problems += bad
        if contact is None:
            continue
        if contact.number in seen:
            problems.append(RowProblem(path, line, "number", f"{contact.number} is already "
                                       f"on line {seen[contact.number]} — keep one row"))
            continue
        seen[contact.number] = line
        contacts.append(contact)
    return contacts, problems, encoding


def import_contacts(conn: Any, contacts: list[Contact], *, replace: bool = False,
                    progress: Callable[[int], None] | None = None) -> ImportResult:
    """Upsert in one transaction: all of it is stored, or nothing. A contact's consent is
    set only where its row says yes or no (ImportedContact.consent)."""
    result = ImportResult()
    with conn.transaction():
        conn.execute("CREATE TEMP TABLE incoming (number text PRIMARY KEY, name text, "
                     "vip smallint, region text, language text, consent boolean) "
                     "ON COMMIT DROP")
        with conn.cursor().copy("COPY incoming (number, name, vip, region, language, "
                                "consent) FROM STDIN") as copy:
            for i, c in enumerate(contacts, 1):
                copy.write_row((c.number, c.name, c.vip, c.region, c.language,
                                getattr(c, "consent", None)))
                if progress and i % 1000 == 0:
                    progress(1000)
        if progress:
            progress(len(contacts) % 1000)
        rows = conn.execute("""
            INSERT INTO contacts (number, name, vip, region, language, consent)
            SELECT number, name, vip, region, language, coalesce(consent, false)
            FROM incoming
            ON CONFLICT (number) DO UPDATE SET name = excluded.name, vip = excluded.vip,
                region = excluded.region, language = excluded.language,
                consent = coalesce((SELECT i.consent FROM incoming i
                                    WHERE i.number = excluded.number), contacts.consent)
            RETURNING (xmax = 0)""").fetchall()
        result.inserted = sum(1 for (new,) in rows if new)
        result.updated = len(rows) - result.inserted
        if replace:
            result.removed = conn.execute(
                "DELETE FROM contacts WHERE number NOT IN (SELECT number FROM incoming)"
            ).rowcount
    return result


class PgContacts:
    """The `contacts` table for live calls: `await find(number)` answers within `timeout`
    or says "not found" (a slow database never holds a caller), with a small cache."""

    def __init__(self, pool: Callable[[], Any], *, timeout: float = 0.3,
                 cache_size: int = 10000, ttl: float = 60.0,
                 fallback: Any = None):
        self.pool = pool  # returns an open psycopg AsyncConnectionPool, or None
        self.timeout = timeout
        self.fallback = fallback  # the site file's contact book, if any
        # answers, found or not, for `ttl` seconds; the least recently used go first
        self._cache: TTLCache[str, Contact | None] = TTLCache(cache_size, ttl,
                                                              timer=time.monotonic)
        self.timeouts = 0

    async def find(self, number: str) -> Contact | None:
        key = normalise_number(number)
        if not key:
            return None
        cached = self._cache.get(key, _MISSING)
        if cached is not _MISSING:
            return cached  # type: ignore[return-value]
        found = None
        pool = self.pool()
        if pool is not None:
            try:
                found = await asyncio.wait_for(self._query(pool, key), self.timeout)
            except (TimeoutError, Exception) as exc:
                self.timeouts += isinstance(exc, TimeoutError)
                log.warning("contact lookup for a caller failed (%s); treated as unknown",
                            type(exc).__name__)
                return self.fallback.find(key) if self.fallback else None
        if found is None and self.fallback is not None:
            found = self.fallback.find(key)
        self._cache[key] = found
        return found

    async def _query(self, pool: Any, number: str) -> Contact | None:
        async with pool.connection() as conn:
            row = await (await conn.execute(
                "SELECT number, name, vip, region, language FROM contacts WHERE number = %s",
                (number,))).fetchone()
        return Contact(*row) if row else None
