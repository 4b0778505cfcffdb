"""Contact sources for the `lookup` node: a CSV or YAML file named by the site's `contacts:`.

Columns (CSV) or keys (YAML list): number, name, vip (0–9), region, language. Numbers are
normalised the same way as caller numbers, so +86 138…, 86138… and 138… all match."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from callcenter.errors import CallcenterError

__all__ = ["Contact", "ContactBook", "normalise_number"]


def normalise_number(raw: str) -> str:
    """Digits only, without the China country prefix (+86, 0086, 86 before a mobile)."""
    digits = re.sub(r"\D", "", raw)
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) >= 10:
            return digits[len(prefix):]
    return digits


@dataclass(frozen=True)
class Contact:
    number: str
    name: str = ""
    vip: int = 0
    region: str = ""
    language: str = "zh"


class ContactBook:
    def __init__(self, contacts: list[Contact]):
        self.by_number = {normalise_number(c.number): c for c in contacts}

    @classmethod
    def load(cls, path: Path) -> ContactBook:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise CallcenterError(f"cannot read contact file {path}: {exc.strerror}") from exc
        rows: list[dict] = []
        if path.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(text) or []
            rows = data if isinstance(data, list) else []
        else:
            rows = list(csv.DictReader(text.splitlines()))
        contacts = []
        for i, row in enumerate(rows, start=2):
            try:
                vip = int(str(row.get("vip") or 0))
            except ValueError as exc:
                raise CallcenterError(f"{path}:{i}: vip must be a whole number 0–9") from exc
            contacts.append(Contact(str(row.get("number", "")), str(row.get("name") or ""),
                                    max(0, min(9, vip)), str(row.get("region") or ""),
                                    str(row.get("language") or "zh")))
        return cls(contacts)

    def find(self, number: str) -> Contact | None:
        return self.by_number.get(normalise_number(number))
