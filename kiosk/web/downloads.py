"""Files the librarian's pages hand out: a report written into memory, sent under a readable name."""

from __future__ import annotations

import io
from collections.abc import Callable

from flask import Response, send_file

MIME = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "png": "image/png",
}


def download(render: Callable[[io.BytesIO], None], fmt: str, filename: str) -> Response:
    """``render`` writes the file; charts (png) show in the page, everything else is saved as ``filename.fmt``."""
    buffer = io.BytesIO()
    render(buffer)
    buffer.seek(0)
    return send_file(buffer, mimetype=MIME[fmt], as_attachment=fmt != "png", download_name=f"{filename}.{fmt}")
