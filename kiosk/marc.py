"""Catalogue import from MARC 21: binary ``.mrc`` (ISO 2709) and MARCXML, read with pymarc.

One record is one title; its copies come from the holdings fields Koha and most
systems export (952$p, else 852$p: the barcode = accession number). A record
without holdings gets one copy numbered after the highest existing accession
number of the chosen collection prefix ("TN-" → TN-0043). Problems are reported
per record number, the same way rows are for CSV/Excel.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any
from xml.sax import SAXParseException

from pymarc import MARCReader, Record, parse_xml_to_array

from . import stored_settings
from .codes import clean
from .errors import N_, MuontraError
from .importer import (
    WRITE_CHUNK,
    BadCode,
    CheckProgress,
    EmptyFile,
    ImportPlan,
    ImportProblem,
    InvalidIsbn,
    MissingValue,
    RowError,
    UnreadableFile,
    normalize_isbn,
    parse_amount,
)
from .models import CATEGORIES, Copy
from .workflows import rules as workflow_rules

HOLDINGS = (("952", "p"), ("852", "p"))


class NoAccessionNumber(RowError):
    code = "no_accession_number"
    message = N_("The record has no copy barcode (952$p or 852$p). Choose a collection prefix to number it.")


class DuplicateInFile(RowError):
    code = "duplicate_code"
    message = N_("The code '%(value)s' also appears in record %(first)s.")


class UnreadableRecord(RowError):
    code = "unreadable_record"
    message = N_("This record is damaged and cannot be read.")


class UnknownCategoryOption(MuontraError):
    code = "unknown_category"
    message = N_("'%(value)s' is not a category: use SGK, STK, SNV, TN, periodical or other.")


def is_marc(filename: str, data: bytes) -> bool:
    """A ``.mrc`` file, or XML whose root is a MARC collection or record."""
    name = filename.lower()
    if name.endswith((".mrc", ".marc", ".iso", ".marcxml")):
        return True
    head = data[:2048].lstrip(b"\xef\xbb\xbf \r\n\t")
    return head.startswith(b"<") and (b"<record" in head or b"<collection" in head or b"<marc:" in head)


def _read(data: bytes) -> Iterator[Record | None]:
    """Records in file order; None stands for a record too damaged to read."""
    if data.lstrip(b"\xef\xbb\xbf \r\n\t").startswith(b"<"):
        try:
            yield from parse_xml_to_array(io.BytesIO(data))
        except (SAXParseException, ValueError) as exc:
            raise UnreadableFile(format="MARCXML") from exc
        return
    try:
        data.decode("utf-8")
        utf8 = True
    except UnicodeDecodeError:
        utf8 = False  # MARC-8, as leader position 9 says: pymarc converts it
    reader = MARCReader(io.BytesIO(data), to_unicode=True, force_utf8=utf8, utf8_handling="replace",
                        permissive=True)
    yield from reader


def _subfield(record: Record, tags: tuple[str, ...], code: str) -> str:
    for tag in tags:
        for field in record.get_fields(tag):
            values = field.get_subfields(code)
            if values and values[0].strip():
                return values[0].strip()
    return ""


def _tidy(text: str) -> str:
    """Drop ISBD punctuation that MARC keeps at the end of subfields ("Dế Mèn /" → "Dế Mèn")."""
    return re.sub(r"[\s/:;,=.]+$", "", " ".join(text.split()))


def _title(record: Record) -> str:
    field = record.get("245")
    if field is None:
        return ""
    parts = [_tidy(value) for code in "ab" for value in field.get_subfields(code)]
    return " : ".join(part for part in parts if part)


def _isbns(record: Record) -> list[str]:
    """020$a values, without the qualifiers catalogues add ("9786042... (bìa mềm)")."""
    return [value.split()[0] for field in record.get_fields("020") for value in field.get_subfields("a")
            if value.strip()]


def _holdings(record: Record) -> list[dict[str, Any]]:
    for tag, code in HOLDINGS:
        items = []
        for field in record.get_fields(tag):
            barcode = _first(field, code)
            if barcode:
                items.append({"barcode": barcode, "field": field, "tag": tag})
        if items:
            return items
    return []


def _first(field: Any, code: str) -> str:
    values = field.get_subfields(code)
    return values[0].strip() if values else ""


class MarcCheck:
    """Turns records into catalogue facts, numbering holding-less records from ``prefix``."""

    def __init__(self, prefix: str | None, category: str) -> None:
        self.prefix, self.category = prefix, category
        self.seen: dict[str, int] = {}
        self.numbers: list[str] = []
        self.existing: list[str] = []
        if prefix:
            existing = Copy.select(Copy.code).where(Copy.code.startswith(prefix)).tuples()
            self.existing = [code for (code,) in existing]

    def next_number(self) -> str:
        if not self.numbers:
            # Taken in blocks so numbering stays continuous however many records lack holdings.
            self.numbers = workflow_rules.next_accession_numbers(
                self.prefix, self.existing, WRITE_CHUNK, most=WRITE_CHUNK)
            self.existing = self.existing + self.numbers
        return self.numbers.pop(0)

    def facts(self, number: int, record: Record, errors: list[ImportProblem]) -> list[tuple[str, dict]]:
        def fail(problem: type[RowError], **params: Any) -> None:
            errors.append(problem(number, unit="record", **params))

        title = _title(record)
        if not title:
            fail(MissingValue, column="245$a")
        isbn = None
        candidates = _isbns(record)
        for candidate in candidates:
            try:
                isbn = normalize_isbn(candidate)
                break
            except ValueError:
                continue
        if candidates and isbn is None:
            fail(InvalidIsbn, value=candidates[0])
        year_text = _subfield(record, ("264", "260"), "c")
        year_match = re.search(r"\d{4}", year_text)
        base = {
            "isbn": isbn,
            "title": title,
            "author": _tidy(_subfield(record, ("100", "110", "700", "710"), "a")),
            "publisher": _tidy(_subfield(record, ("264", "260"), "b")),
            "year": int(year_match.group()) if year_match else None,
            "category": self.category,
            "classification": _tidy(_subfield(record, ("082", "084"), "a")),
        }
        holdings = _holdings(record)
        if not holdings:
            if not self.prefix:
                fail(NoAccessionNumber)
                return []
            return [("catalog.upsert", {**base, "item": self.next_number()})]
        facts = []
        for item in holdings:
            try:
                code = clean(item["barcode"])
            except MuontraError:
                fail(BadCode, value=item["barcode"][:40] + "…", column=f"{item['tag']}$p")
                continue
            first = self.seen.setdefault(code, number)
            if first != number:
                fail(DuplicateInFile, value=code, first=first)
            field = item["field"]
            # Koha's 952$a/$b and 852$a are the library (branch) itself, not a shelf or class
            # library: the copy keeps its location; the shelving location becomes the shelf.
            extra: dict[str, Any] = {}
            shelf = _first(field, "c" if item["tag"] == "952" else "b")
            if shelf:
                extra["shelf"] = shelf
            if item["tag"] == "952":
                price = parse_amount(_first(field, "g") or _first(field, "v"))
                if price is not None:
                    extra["price"] = price
                acquired = re.match(r"\d{4}-\d{2}-\d{2}", _first(field, "d"))
                if acquired:
                    extra["added_on"] = acquired.group()
            facts.append(("catalog.upsert", {**base, **extra, "item": code}))
        return facts


def category_for(prefix: str | None, category: str | None) -> str:
    """The category given, else the one the prefix files under, else "other"."""
    if category:
        if category not in CATEGORIES:
            raise UnknownCategoryOption(value=category)
        return category
    if prefix:

        prefixes = dict(stored_settings.read("accession_prefixes") or workflow_rules.DEFAULT_PREFIXES)
        return prefixes.get(prefix, "other")
    return "other"


def plan_marc(data: bytes, *, prefix: str | None = None, category: str | None = None,
              progress: CheckProgress | None = None) -> ImportPlan:
    """Check every record of a MARC file; nothing is written. The database must be bound."""
    plan = ImportPlan("catalog", unit="record")
    if not data.strip():
        plan.errors.append(EmptyFile())
        return plan
    if prefix:

        known = dict(stored_settings.read("accession_prefixes") or workflow_rules.DEFAULT_PREFIXES)
        prefix = workflow_rules.check_prefix(prefix, known)
    check = MarcCheck(prefix, category_for(prefix, category))
    try:
        records = list(_read(data))
    except ImportProblem as problem:
        plan.errors.append(problem)
        return plan
    for number, record in enumerate(records, start=1):
        plan.rows += 1
        if record is None:
            plan.errors.append(UnreadableRecord(number, unit="record"))
            continue
        errors_before = len(plan.errors)
        facts = check.facts(number, record, plan.errors)
        if len(plan.errors) == errors_before:
            plan.facts.extend(facts)
        if progress and (number % WRITE_CHUNK == 0 or number == len(records)):
            progress(number, len(records))
    if not records:
        plan.errors.append(UnreadableFile(format="MARC 21"))
    return plan
