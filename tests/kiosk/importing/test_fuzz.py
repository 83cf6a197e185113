"""Whatever bytes arrive, an import answers with a plan (problems or facts), never an exception or a traceback."""

from __future__ import annotations

import io
import zipfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.import_plan import ImportPlan
from kiosk.importer import plan_import
from kiosk.models import Event
from tests.kiosk.importing.conftest import marc_binary, marc_record, workbook

GOOD_XLSX = workbook(("DS", [["Mã HS", "Họ và tên", "Lớp"], ["HS1", "An", "6A1"]]))
GOOD_MARC = marc_binary([marc_record(("245", ("a", "Quê nội.")), ("952", ("p", "TN-0001")))])


def damaged(data: bytes, cuts: list[tuple[int, bytes]]) -> bytes:
    out = bytearray(data)
    for position, replacement in cuts:
        position %= max(1, len(out))
        out[position:position + len(replacement)] = replacement
    return bytes(out)


def damaged_xlsx_member(member: str, junk: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(GOOD_XLSX))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for info in source.infolist():
            archive.writestr(info.filename, junk if info.filename == member else source.read(info))
    return out.getvalue()


files = st.one_of(
    st.binary(max_size=2000),
    st.builds(damaged, st.sampled_from([GOOD_XLSX, GOOD_MARC, GOOD_MARC * 3]),
              st.lists(st.tuples(st.integers(0, 20_000), st.binary(min_size=1, max_size=8)), max_size=6)),
    st.builds(damaged_xlsx_member, st.sampled_from(["xl/worksheets/sheet1.xml", "xl/workbook.xml",
                                                     "xl/styles.xml", "[Content_Types].xml"]),
              st.binary(max_size=300)),
    st.text(max_size=500).map(lambda text: ("<collection><record>" + text).encode("utf-8", "surrogatepass")),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=files, kind=st.sampled_from(["patrons", "catalog", "loans"]),
       name=st.sampled_from(["a.xlsx", "a.csv", "exported_records", "a.mrc", "a.xml"]))
def test_any_file_gives_a_plan_and_writes_nothing(circ, data, kind, name):
    plan = plan_import(kind, name, data, prefix="TN-" if kind == "catalog" else None)
    assert isinstance(plan, ImportPlan)
    for problem in plan.errors + plan.warnings:
        assert problem.describe_in("vi") and problem.describe_in("en")
    assert Event.select().count() == 0
