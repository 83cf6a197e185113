"""Keep the Vietnamese catalog in step with the code.

    python tools/i18n.py update    # extract messages, merge into vi .po (keeps translations)
    python tools/i18n.py compile   # .po -> .mo (committed, so a checkout runs without a build step)
    python tools/i18n.py check     # list messages without a Vietnamese translation; exit 1 if any

Message ids are English; every one must have a Vietnamese translation.
"""

from __future__ import annotations

import io
import sys
from datetime import datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "kiosk/translations/vi/LC_MESSAGES/messages.po"
MO = PO.with_suffix(".mo")
KEYWORDS = {"N_": None, "_": None, "gettext": None, "lazy_gettext": None, "ngettext": (1, 2)}
METHODS = [
    ("kiosk/**.py", "python"), ("sync/**.py", "python"), ("scanner/**.py", "python"),
    ("**/templates/**.html", "jinja2"),
]
SOURCES = ("kiosk", "sync", "scanner")
FIXED_DATE = datetime(2026, 1, 1)


def extract() -> Catalog:
    catalog = Catalog(locale="vi", project="muontra")
    for source in SOURCES:
        folder = ROOT / source
        if not folder.is_dir():
            continue
        for filename, lineno, message, _comments, context in extract_from_dir(
            folder, [(pattern.split("/", 1)[1], method) for pattern, method in METHODS
                     if pattern.startswith(source) or pattern.startswith("**")],
            keywords=KEYWORDS,
        ):
            catalog.add(message, None, [(f"{source}/{filename}", lineno)], context=context)
    return catalog


def load() -> Catalog:
    with PO.open("rb") as handle:
        return read_po(handle, locale="vi")


def update() -> None:
    fresh = extract()
    old = load() if PO.exists() else Catalog(locale="vi")
    # A fixed date: a new timestamp on every update made every branch merge conflict on it.
    merged = Catalog(locale="vi", project="muontra", creation_date=FIXED_DATE, revision_date=FIXED_DATE)
    for message in fresh:
        if not message.id:
            continue
        previous = old.get(message.id, context=message.context)
        merged.add(message.id, previous.string if previous else "", context=message.context)
    PO.parent.mkdir(parents=True, exist_ok=True)
    with PO.open("wb") as handle:
        write_po(handle, merged, width=100, no_location=True, sort_output=True, omit_header=False)
    untranslated = missing()
    print(f"{len(merged)} messages, {len(untranslated)} without Vietnamese")


def compiled_bytes() -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, load())
    return buffer.getvalue()


def compile_mo() -> None:
    MO.write_bytes(compiled_bytes())


def missing() -> list[str]:
    catalog = load()
    wanted = extract()
    return sorted(
        str(m.id) for m in wanted
        if m.id and not ((found := catalog.get(m.id, context=m.context)) and found.string)
    )


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    if command == "update":
        update()
    elif command == "compile":
        compile_mo()
    elif command == "check":
        gaps = missing()
        for message in gaps:
            print("untranslated:", message)
        return 1 if gaps else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
