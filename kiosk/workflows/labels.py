"""Labels for copies just received: the hook into the reports engineer's label renderer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO

from ..errors import N_, MuontraError


class LabelsUnavailable(MuontraError):
    code = "labels_unavailable"
    message = N_("Label printing is not available in this version. The new codes are: %(codes)s")
    http_status = 501


def write_labels(out: IO[bytes], codes: Sequence[str], *, preset: str | None = None, start: int = 1) -> None:
    """Accession labels for ``codes`` on an A4 label sheet (kiosk.reports.labels)."""
    try:
        from ..reports import labels
    except ImportError as exc:
        raise LabelsUnavailable(codes=", ".join(codes)) from exc
    labels.write_labels(out, labels.select_copies(codes), labels.make_sheet(preset), start=start)
