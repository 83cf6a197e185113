"""Catalogue import from MARC 21: binary (ISO 2709) and MARCXML, recognised by content, read with pymarc.

One bibliographic record is one title; its copies are its holdings, one per Koha 952 field
(else one per MARC 852 field): the barcode (952$p / 852$p) is the accession number, and an
item without one is numbered after the highest accession number of ``--prefix``. A record
without holdings gets one copy numbered the same way. The title is 245 $a $b $n $p, so
"Toán 6. Tập một" and "Toán 6. Tập hai" stay two titles.

Text is decoded record by record, as each record's leader/09 says (UTF-8 or MARC-8), and a
record that doesn't decode cleanly falls back on its own (UTF-8 without the leader flag; a few
stray bytes replaced, with a warning); what still can't be read is an error naming the record
(give the file's legacy encoding, e.g. ``--encoding cp1251``), never garbage stored. Every
stored text is NFC. pymarc's own warnings and messages are caught and reported per record.
UNIMARC files and holdings/authority records are refused with a message saying what they are.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import threading
import unicodedata
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pymarc import Field, Record, Subfield, marc8_mapping, parse_xml_to_array
from pymarc.marc8 import MARC8ToUnicode

from . import stored_settings
from .codes import clean
from .errors import N_, MuontraError
from .import_plan import (
    CATEGORY_WORDS,
    MAX_ROWS,
    WRITE_CHUNK,
    BadCode,
    CheckProgress,
    EmptyFile,
    ImportPlan,
    ImportProblem,
    ImportWarning,
    InvalidIsbn,
    IsbnTitleClash,
    MissingValue,
    RowError,
    TitleClashes,
    TooManyRows,
    UnreadableFile,
    fold,
    nfc,
    normalize_isbn,
    parse_amount,
)
from .models import Copy
from .vocabulary import CATEGORIES
from .workflows import rules as workflow_rules

ENCODINGS = ("utf-8", "marc-8", "cp1258", "cp1251", "cp1252", "latin-1")
RECORD_END, FIELD_END, SUBFIELD = b"\x1d", b"\x1e", b"\x1f"
# A UTF-8 record may carry a few stray bytes (a bad copy-paste); more means another encoding.
MAX_REPLACED = 3


class NoAccessionNumber(RowError):
    code = "no_accession_number"
    message = N_("A copy has no barcode (952$p or 852$p). Choose a collection prefix to number it.")


class DuplicateInFile(RowError):
    code = "duplicate_code"
    message = N_("The code '%(value)s' also appears in record %(first)s.")


class UnreadableRecord(RowError):
    code = "unreadable_record"
    message = N_("This record is damaged and cannot be read (%(reason)s).")


class UndecodableRecord(RowError):
    code = "undecodable_record"
    message = N_("The text of this record is neither UTF-8 nor MARC-8 (%(count)s characters could not be read). "
                 "If the file comes from an old system, give its encoding, e.g. --encoding cp1258 or cp1251.")


class UnimarcFile(RowError):
    code = "unimarc"
    message = N_("This is a UNIMARC record (title in field 200, not 245): only MARC 21 can be imported. "
                 "Export the catalogue as MARC 21, or convert it first.")


class NotBibliographic(RowError):
    code = "not_bibliographic"
    message = N_("This is a MARC 21 holdings record, not a book's record: only bibliographic records "
                 "can be imported (holdings go in the book's 952 or 852 fields).")


class AuthorityRecord(NotBibliographic):
    message = N_("This is a MARC 21 authority record, not a book's record: only bibliographic records "
                 "can be imported.")


class UnknownItemType(RowError):
    code = "unknown_item_type"
    message = N_("The item type '%(value)s' (%(column)s) is not a category. Map it to one: "
                 "--map-type %(value)s=STK (SGK, STK, SNV, TN, periodical or other).")


class ReplacedCharacters(ImportWarning):
    code = "replaced_characters"
    message = N_("%(count)s characters that are not valid %(encoding)s were replaced by '�' in: %(fields)s.")


class ReadAsUtf8(ImportWarning):
    code = "read_as_utf8"
    message = N_("The record says MARC-8 but its text is UTF-8: it was read as UTF-8.")


class RepairedRecord(ImportWarning):
    code = "repaired_record"
    message = N_("The record has damaged indicators or subfield codes (%(count)s): it was read as well as possible. "
                 "Check its title and copies.")


class UnknownCategoryOption(MuontraError):
    code = "unknown_category"
    message = N_("'%(value)s' is not a category: use SGK, STK, SNV, TN, periodical or other.")


class UnknownEncoding(MuontraError):
    code = "unknown_encoding"
    message = N_("'%(value)s' is not an encoding the importer knows: use one of %(choices)s.")


class BadTypeMap(MuontraError):
    code = "bad_type_map"
    message = N_("'%(value)s' is not a mapping: write the item type, '=', and a category, e.g. BK=STK.")


# ---------------------------------------------------------------- recognising a file

_XML_ROOT = re.compile(rb"^\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*|<!DOCTYPE[^>]*>\s*)*"
                       rb"<(?:[\w.-]+:)?(collection|record)\b", re.DOTALL)


def is_marc_xml(data: bytes) -> bool:
    return _XML_ROOT.match(data[:4096].lstrip(b"\xef\xbb\xbf")) is not None


def is_marc_binary(data: bytes) -> bool:
    """ISO 2709: a 5-digit length, a 24-byte leader with indicator/subfield counts 2 and "4500"-ish map."""
    head = data[:24]
    return (len(head) == 24 and head[:5].isdigit() and head[12:17].isdigit()
            and head[10:12] == b"22" and head[20:22] == b"45")


def is_marc(filename: str, data: bytes) -> bool:
    """MARC by content (Koha's ``exported_records`` has no extension), or by a MARC extension."""
    if is_marc_binary(data) or is_marc_xml(data):
        return True
    return filename.lower().endswith((".mrc", ".marc", ".iso", ".marcxml", ".mrk21"))


# ---------------------------------------------------------------- reading records


@dataclass
class Read:
    """One record as read: a record, or why not, plus warnings about how it was read."""

    record: Record | None
    problem: RowError | None = None
    notes: list[ImportProblem] | None = None


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage()[:120])


_pymarc_log = logging.getLogger("pymarc")
_stderr_lock = threading.Lock()


@contextlib.contextmanager
def _quiet_pymarc() -> Iterator[list[str]]:
    """pymarc's warnings and log lines, caught and kept (the librarian never sees a site-packages path)."""
    capture = _Capture()
    _pymarc_log.addHandler(capture)
    propagate, _pymarc_log.propagate = _pymarc_log.propagate, False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield capture.messages
        capture.messages.extend(type(w.message).__name__ for w in caught)
    finally:
        _pymarc_log.removeHandler(capture)
        _pymarc_log.propagate = propagate


def _split(data: bytes) -> Iterator[bytes]:
    """Raw records, by their declared length, resynchronised on the record terminator when it lies."""
    position = 0
    while position < len(data):
        while position < len(data) and data[position:position + 1] in b"\r\n \x00\x1a":
            position += 1
        if position >= len(data):
            return
        head = data[position:position + 5]
        length = int(head) if head.isdigit() else 0
        chunk = data[position:position + length] if length >= 24 else b""
        if not chunk.endswith(RECORD_END):
            end = data.find(RECORD_END, position)
            chunk = data[position:end + 1] if end >= 0 else data[position:]
        position += len(chunk)
        yield chunk


def _unmapped(byte: int) -> bool:
    """A byte pymarc's MARC-8 reader turns into a space, with the default character sets."""
    if byte < 0x20 or 0x80 < byte < 0xA0:
        return False
    table = marc8_mapping.CODESETS[0x45 if byte > 0x80 else 0x42]
    return byte not in table and byte not in marc8_mapping.ODD_MAP


def _marc8(value: bytes) -> tuple[str, int]:
    """MARC-8 text and how many characters pymarc could not map (it writes those to stderr as spaces)."""
    if all(byte < 0x80 for byte in value) and b"\x1b" not in value:
        return value.decode("ascii"), 0
    if b"\x1b" not in value:
        # The default sets (basic Latin + ANSEL) throughout: count what pymarc can't map without
        # borrowing the process's stderr, as threads of the web app share it.
        text = MARC8ToUnicode(quiet=True).translate(value)
        unknown = sum(1 for byte in value if _unmapped(byte))
    else:
        errors = io.StringIO()
        with _stderr_lock, contextlib.redirect_stderr(errors):
            text = MARC8ToUnicode(quiet=False).translate(value)
        unknown = errors.getvalue().count("Unable to parse")
    # A MARC-8 diacritic comes before its letter; one before a space or at the end is a letter of a
    # Windows code page (Windows-1258 "Hà Nội", "Lê"), which MARC-8 would silently turn into other marks.
    stray = sum(1 for index, byte in enumerate(value) if 0xE0 <= byte <= 0xFE
                and (index + 1 == len(value) or value[index + 1] in b" .,;:/=()[]-\x1e"))
    return text, unknown + stray


class _Decoder:
    """Decodes every value of one record in one encoding, counting what could not be read."""

    def __init__(self, encoding: str) -> None:
        self.encoding, self.bad, self.where = encoding, 0, []

    def __call__(self, value: bytes, tag: str) -> str:
        if self.encoding == "marc-8":
            text, bad = _marc8(value)
        elif self.encoding == "utf-8":
            text = value.decode("utf-8", errors="replace")
            bad = text.count("\ufffd") - value.decode("utf-8", errors="ignore").count("\ufffd")
        else:
            text, bad = value.decode(self.encoding, errors="replace"), 0
        if bad:
            self.bad += bad
            self.where.append(tag)
        return unicodedata.normalize("NFC", text)


def _decode(raw: Record, encoding: str) -> tuple[Record, _Decoder]:
    decoder = _Decoder(encoding)
    record = Record(force_utf8=True, leader=str(raw.leader))
    for raw_field in raw.fields:
        if raw_field.is_control_field():
            record.add_field(Field(tag=raw_field.tag, data=decoder(raw_field.data, raw_field.tag)))
            continue
        subfields = [Subfield(code, decoder(value, f"{raw_field.tag}${code}"))
                     for code, value in ((sub.code, sub.value) for sub in raw_field.subfields)]
        record.add_field(Field(tag=raw_field.tag, indicators=list(raw_field.indicators), subfields=subfields))
    return record, decoder


def _valid_utf8(raw: Record) -> bool:
    try:
        for field in raw.fields:
            if field.is_control_field():
                field.data.decode("utf-8")
            else:
                for sub in field.subfields:
                    sub.value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _has_high_bytes(raw: Record) -> bool:
    return any(byte >= 0x80 for field in raw.fields
               for value in ([field.data] if field.is_control_field() else [s.value for s in field.subfields])
               for byte in value)


def read_binary_record(chunk: bytes, number: int, encoding: str | None = None) -> Read:
    """One ISO 2709 record: parsed without decoding, then decoded per its leader/09 or ``encoding``."""
    with _quiet_pymarc() as messages:
        try:
            raw = Record(chunk, to_unicode=False)
        except Exception as exc:  # pymarc raises a dozen kinds for damaged leaders and directories
            return Read(None, UnreadableRecord(number, unit="record", reason=type(exc).__name__))
    notes: list[ImportProblem] = []
    if messages:
        notes.append(RepairedRecord(number, unit="record", count=len(messages)))
    declared = "utf-8" if str(raw.leader)[9:10] == "a" else "marc-8"
    if encoding is None and declared == "marc-8" and _has_high_bytes(raw) and _valid_utf8(raw):
        notes.append(ReadAsUtf8(number, unit="record"))
        declared = "utf-8"
    record, decoder = _decode(raw, encoding or declared)
    if decoder.bad:
        if encoding is None and decoder.bad > MAX_REPLACED:
            return Read(None, UndecodableRecord(number, unit="record", count=decoder.bad), notes)
        notes.append(ReplacedCharacters(number, unit="record", count=decoder.bad,
                                        encoding=(encoding or declared).upper(),
                                        fields=", ".join(dict.fromkeys(decoder.where))))
        if (encoding or declared) == "marc-8":
            return Read(None, UndecodableRecord(number, unit="record", count=decoder.bad), notes)
    return Read(record, None, notes)


def read_records(data: bytes, encoding: str | None = None) -> Iterator[Read]:
    """Every record of a binary or XML file, in order."""
    if is_marc_xml(data):
        try:
            with _quiet_pymarc():
                records = parse_xml_to_array(io.BytesIO(data))
        except Exception as exc:  # SAX errors, and pymarc's own on a record it can't build
            raise UnreadableFile(format="MARCXML") from exc
        for record in records:
            _nfc_record(record)
            yield Read(record)
        return
    for number, chunk in enumerate(_split(data), start=1):
        if number > MAX_ROWS:
            raise TooManyRows(limit=f"{MAX_ROWS:,}".replace(",", "."))
        yield read_binary_record(chunk, number, encoding)


def _nfc_record(record: Record) -> None:
    for field in record.fields:
        if field.is_control_field():
            field.data = unicodedata.normalize("NFC", field.data or "")
        else:
            field.subfields = [Subfield(sub.code, unicodedata.normalize("NFC", sub.value or ""))
                               for sub in field.subfields]


# ---------------------------------------------------------------- what a record says


def _first(field: Any, code: str) -> str:
    values = field.get_subfields(code)
    return values[0].strip() if values else ""


def _subfield(record: Record, tags: tuple[str, ...], code: str) -> str:
    for tag in tags:
        for field in record.get_fields(tag):
            value = _first(field, code)
            if value:
                return value
    return ""


def tidy(text: str) -> str:
    """Drop the one ISBD mark MARC keeps at the end of a subfield ("Dế Mèn /" → "Dế Mèn", "Quê nội." → "Quê nội")."""
    return re.sub(r"(?:\s+[/:;=]|[.,])$", "", nfc(text)).strip()


def title_of(record: Record) -> str:
    """245 $a : $b. $n, $p, as ISBD punctuates them; "Toán 6. Tập một" keeps its volume."""
    field = record.get("245")
    if field is None:
        return ""
    title, previous = "", ""
    for sub in field.subfields:
        value = tidy(sub.value or "")
        if not value or sub.code not in "abnp":
            continue
        if not title:
            title = value
        elif sub.code == "b":
            title += f" : {value}"
        elif sub.code == "p" and previous == "n":
            title += f", {value}"
        else:
            title += f". {value}"
        previous = sub.code
    return title


def _isbns(record: Record) -> list[str]:
    return [value for field in record.get_fields("020") for value in field.get_subfields("a") if value.strip()]


def _holdings(record: Record) -> list[tuple[str, Any]]:
    """One item per 952 (Koha), else per 852: each becomes one copy, barcode or not."""
    for tag in ("952", "852"):
        fields = record.get_fields(tag)
        if fields:
            return [(tag, field) for field in fields]
    return []


def check_category(value: str) -> str:
    if value not in CATEGORIES:
        raise UnknownCategoryOption(value=value)
    return value


def parse_type_map(pairs: list[str] | tuple[str, ...] | str | None) -> dict[str, str]:
    """"BK=STK,CR=periodical" (or a list of such) → {"BK": "STK", "CR": "periodical"}."""
    if not pairs:
        return {}
    items = pairs.replace(";", ",").split(",") if isinstance(pairs, str) else pairs
    mapping = {}
    for item in items:
        if not item.strip():
            continue
        code, sep, category = item.partition("=")
        if not sep or not code.strip():
            raise BadTypeMap(value=item)
        mapping[code.strip().upper()] = check_category(CATEGORY_WORDS.get(fold(category), category.strip()))
    return mapping


class MarcCheck:
    """Turns records into catalogue facts, numbering barcode-less copies from ``prefix``."""

    def __init__(self, prefix: str | None, category: str | None, type_map: Mapping[str, str]) -> None:
        self.prefix, self.category, self.type_map = prefix, category, type_map
        self.seen: dict[str, int] = {}
        self.titles = TitleClashes()
        self.numbers: list[str] = []
        self.existing: list[str] = []
        if prefix:
            existing = Copy.select(Copy.code).where(Copy.code.startswith(prefix)).tuples()
            self.existing = [code for (code,) in existing]

    def next_number(self) -> str:
        if not self.numbers:
            # Taken in blocks so numbering stays continuous however many copies lack a barcode.
            self.numbers = workflow_rules.next_accession_numbers(
                self.prefix, self.existing, WRITE_CHUNK, most=WRITE_CHUNK)
            self.existing = self.existing + self.numbers
        return self.numbers.pop(0)

    def category_of(self, record: Record, items: list[tuple[str, Any]], fail: Any) -> str | None:
        """942$c (Koha's record type) or the first item's 952$y, through the librarian's map; else --category."""
        candidates = [("942$c", _subfield(record, ("942",), "c"))]
        candidates += [("952$y", _first(field, "y")) for tag, field in items if tag == "952"]
        for column, code in candidates:
            if not code:
                continue
            category = self.type_map.get(code.upper()) or CATEGORY_WORDS.get(fold(code))
            if category is None:
                fail(UnknownItemType, value=code, column=column)
            return category
        return self.category  # None: an existing title keeps its category, a new one is "other"

    def facts(self, number: int, record: Record, errors: list[ImportProblem]) -> list[tuple[str, dict]]:
        def fail(problem: type[RowError], **params: Any) -> None:
            errors.append(problem(number, unit="record", **params))

        kind = str(record.leader)[6:7]
        if kind and kind in "uvxy":
            fail(NotBibliographic)
            return []
        if kind == "z":
            fail(AuthorityRecord)
            return []
        title = title_of(record)
        if not title:
            if record.get("200") is not None:
                fail(UnimarcFile)
                return []
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
            fail(InvalidIsbn, value=candidates[0], column="020$a")
        year_match = re.search(r"\d{4}", _subfield(record, ("264", "260"), "c"))
        items = _holdings(record)
        base = {
            "isbn": isbn,
            "title": title,
            "author": tidy(_subfield(record, ("100", "110", "111", "700", "710"), "a")),
            "publisher": tidy(_subfield(record, ("264", "260"), "b")),
            "year": int(year_match.group()) if year_match else None,
            "category": self.category_of(record, items, fail),
            "classification": tidy(_subfield(record, ("082", "084"), "a")),
        }
        self.titles.check(base, f"#{number}", lambda **params: fail(IsbnTitleClash, **params))
        if not items:
            if not self.prefix:
                fail(NoAccessionNumber)
                return []
            return [("catalog.upsert", {**base, "item": self.next_number()})]
        facts = []
        for tag, field in items:
            barcode = _first(field, "p")
            if not barcode:
                if not self.prefix:
                    fail(NoAccessionNumber)
                    continue
                code = self.next_number()
            else:
                try:
                    code = clean(barcode)
                except MuontraError:
                    fail(BadCode, value=barcode[:40] + "…", column=f"{tag}$p")
                    continue
            first = self.seen.setdefault(code, number)
            if first != number:
                fail(DuplicateInFile, value=code, first=first)
            facts.append(("catalog.upsert", {**base, **_copy_fields(tag, field), "item": code}))
        return facts


KOHA_STATUS = (("1", "lost"), ("4", "damaged"), ("0", "withdrawn"), ("7", "not_for_loan"))


def _copy_fields(tag: str, field: Any) -> dict[str, Any]:
    """What an item field says about the copy. Koha's 952$a/$b and 852$a are the library itself, not a
    shelf or a class library; Mượn Trả's own exports name the location in 952$k (unused by Koha)."""
    extra: dict[str, Any] = {}
    shelf = _first(field, "c" if tag == "952" else "b")
    if shelf:
        extra["shelf"] = nfc(shelf)
    if tag != "952":
        return extra
    if _first(field, "k"):
        extra["location"] = nfc(_first(field, "k"))
    price = parse_amount(_first(field, "g") or _first(field, "v"))
    if price is not None:
        extra["price"] = price
    acquired = re.match(r"\d{4}-\d{2}-\d{2}", _first(field, "d"))
    if acquired:
        extra["added_on"] = acquired.group()
    for code, status in KOHA_STATUS:
        if _first(field, code) not in ("", "0"):
            extra["status"] = status
            break
    return extra


def plan_marc(data: bytes, *, prefix: str | None = None, category: str | None = None,
              type_map: Mapping[str, str] | None = None, encoding: str | None = None,
              progress: CheckProgress | None = None) -> ImportPlan:
    """Check every record of a MARC file; nothing is written. The database must be bound.

    ``prefix`` numbers copies without a barcode; it never decides a category (``category``
    does, for records naming no item type, and ``type_map`` maps item types to categories).
    """
    plan = ImportPlan("catalog", unit="record")
    if not data.strip():
        plan.errors.append(EmptyFile())
        return plan
    try:
        if encoding is not None and encoding not in ENCODINGS:
            raise UnknownEncoding(value=encoding, choices=", ".join(ENCODINGS))
        if prefix:
            known = dict(stored_settings.read("accession_prefixes") or workflow_rules.DEFAULT_PREFIXES)
            prefix = workflow_rules.check_prefix(prefix, known)
        check = MarcCheck(prefix, check_category(category) if category else None, type_map or {})
        reads = list(read_records(data, encoding))
    except ImportProblem as problem:
        plan.errors.append(problem)
        return plan
    if prefix:
        # Numbers go after the school's labels and the file's own, so a new number never collides.
        check.existing += [_first(field, "p").upper() for read in reads if read.record is not None
                           for _tag, field in _holdings(read.record) if _first(field, "p").upper().startswith(prefix)]
    for number, read in enumerate(reads, start=1):
        plan.rows += 1
        plan.warnings.extend(read.notes or [])
        if read.record is None:
            plan.errors.append(read.problem or UnreadableRecord(number, unit="record", reason="?"))
            continue
        errors_before = len(plan.errors)
        facts = check.facts(number, read.record, plan.errors)
        if len(plan.errors) == errors_before:
            for fact in facts:
                plan.add(fact, number)
        if progress and (number % WRITE_CHUNK == 0 or number == len(reads)):
            progress(number, len(reads))
    if not reads:
        plan.errors.append(UnreadableFile(format="MARC 21"))
    return plan
