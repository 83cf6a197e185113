"""Real photographs (zxing-cpp test samples) through `muontra scan-image`'s own code path."""

from __future__ import annotations

import csv
from collections import Counter

import pytest
from click.testing import CliRunner

from scanner.cli import scan_image
from tests.conftest import ROOT

DATA = ROOT / "tests" / "data" / "barcodes"
FLOOR_CORRECT = 107
MAX_WRONG = 2


def _unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out.append({"n": "\n", "t": "\t", "\\": "\\"}[text[i + 1]])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


@pytest.fixture(scope="module")
def photo_results() -> dict[str, object]:
    rows = list(csv.DictReader((DATA / "MANIFEST.tsv").open(encoding="utf-8"), delimiter="\t"))
    paths = [DATA / r["set"] / r["file"] for r in rows]
    result = CliRunner().invoke(scan_image, [str(p) for p in paths])
    assert result.exit_code == 0, result.output
    decoded: dict[str, list[str]] = {str(p): [] for p in paths}
    # Split on \n only: a QR text may hold a bare \r, which the output format leaves as is.
    for line in result.stdout.split("\n")[:-1]:
        path, _symbology, text = line.split("\t")
        decoded[path].append(_unescape(text))
    correct: Counter[str] = Counter()
    wrong: Counter[str] = Counter()
    total: Counter[str] = Counter()
    wrong_list = []
    for r, p in zip(rows, paths, strict=True):
        total[r["set"]] += 1
        txt = p.with_suffix(".txt")
        # Bytes, not read_text(): the expected texts contain \r\n that must stay as they are.
        expected = txt.read_bytes().decode("utf-8") if txt.exists() else None
        texts = decoded[str(p)]
        if expected is not None and expected in texts:
            correct[r["set"]] += 1
        for t in texts:
            if t != expected:
                wrong[r["set"]] += 1
                wrong_list.append((r["set"], r["file"], expected, t))
    return {"correct": correct, "wrong": wrong, "total": total, "wrong_list": wrong_list}


def test_photo_floor(photo_results: dict) -> None:
    correct, wrong, total = photo_results["correct"], photo_results["wrong"], photo_results["total"]
    table = "\n".join(f"{s:18s} {correct[s]:3d}/{total[s]:3d}  wrong {wrong[s]}" for s in sorted(total))
    print("\n" + table)
    assert sum(correct.values()) >= FLOOR_CORRECT, table
    assert sum(wrong.values()) <= MAX_WRONG, photo_results["wrong_list"]


def test_nothing_decoded_on_false_positive_photos(photo_results: dict) -> None:
    assert photo_results["wrong"]["falsepositives-1"] == 0, photo_results["wrong_list"]
