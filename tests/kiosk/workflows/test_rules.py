"""The pure workflow rules, on plain values."""

import pytest

from kiosk.workflows import rules
from kiosk.workflows.rules import CopyState, Scope, StocktakeCopy


def test_accession_numbers_continue_the_highest_and_keep_the_width():
    existing = ["TN-0001", "TN-0007", "TN-0003", "STK-0099", "TN-X12", "TNX-0100"]
    assert rules.next_accession_numbers("TN-", existing, 3) == ["TN-0008", "TN-0009", "TN-0010"]
    assert rules.next_accession_numbers("SGK-", [], 2) == ["SGK-0001", "SGK-0002"]
    assert rules.next_accession_numbers("TN-", ["TN-000123"], 1) == ["TN-000124"]
    assert rules.next_accession_numbers("TN-", ["TN-9999"], 1) == ["TN-10000"]
    with pytest.raises(rules.BadCount):
        rules.next_accession_numbers("TN-", existing, 0)


def test_prefix_is_normalised_and_checked():
    assert rules.check_prefix("tn", rules.DEFAULT_PREFIXES) == "TN-"
    assert rules.check_prefix("SGK-", rules.DEFAULT_PREFIXES) == "SGK-"
    with pytest.raises(rules.BadPrefix) as refused:
        rules.check_prefix("XYZ", rules.DEFAULT_PREFIXES)
    assert "SGK-" in refused.value.message_in("en")


def test_class_library_location_and_label():
    assert rules.class_library(" 6a1 ") == "lop-6A1"
    assert rules.location_label("lop-6A1", "vi") == "Thư viện lớp 6A1"
    assert rules.location_label("lop-6A1", "en") == "Class library 6A1"
    assert rules.location_label("main", "vi") == "Thư viện chính"
    with pytest.raises(rules.BadClassName):
        rules.class_library("lớp sáu")


def test_shelf_range_uses_natural_order():
    scope = Scope("main", "A2", "A10")
    assert scope.covers("main", "A9") and scope.covers("main", "A10") and scope.covers("main", "a2")
    assert not scope.covers("main", "A1") and not scope.covers("main", "A11")
    assert not scope.covers("lop-6A1", "A5")
    assert Scope().covers("lop-6A1", "")


def test_return_scan_classification():
    mine = CopyState("TN-1", "lop-6A1", "", "available", batch="b1")
    other = CopyState("TN-2", "lop-7A2", "", "available", batch="b2")
    home = CopyState("TN-3", "main", "A1", "available")
    assert rules.classify_return(mine, "b1", False) == "returned"
    assert rules.classify_return(other, "b1", False) == "other_batch"
    assert rules.classify_return(home, "b1", False) == "not_in_batch"
    assert rules.classify_return(home, "b1", True) == "again"
    assert rules.classify_return(None, "b1", False) == "unknown"


def test_stocktake_result_sorts_every_copy_into_its_list():
    copies = [
        StocktakeCopy("A", "", "main", "A1", "available", False),    # seen: present
        StocktakeCopy("B", "", "main", "A2", "available", False),    # not seen: missing
        StocktakeCopy("C", "", "main", "A2", "on_loan", True),       # not seen, on loan: neither
        StocktakeCopy("D", "", "main", "A3", "on_loan", True),       # seen although on loan
        StocktakeCopy("E", "", "main", "B7", "available", False),    # seen, out of range: misplaced
        StocktakeCopy("F", "", "main", "A1", "withdrawn", False),    # not expected
        StocktakeCopy("G", "", "main", "A1", "available", False),    # found, had been lost
    ]
    result = rules.stocktake_result(Scope("main", "A1", "A3"), copies, ["A", "D", "E", "ZZ-1", "G"], ["G"])
    assert result.present == ["A", "G"]
    assert result.missing == ["B"]
    assert result.seen_on_loan == ["D"]
    assert result.misplaced == ["E"]
    assert result.found_lost == ["G"]
    assert result.unknown == ["ZZ-1"]
    assert result.expected == ["A", "G", "B"]
    assert result.progress == (2, 3)
    per_shelf = [("main", "A1", 2, 2), ("main", "A2", 1, 0), ("main", "B7", 1, 1), ("lop-6A1", "A1", 4, 1)]
    assert rules.stocktake_progress(Scope("main", "A1", "A3"), per_shelf) == (2, 3)
