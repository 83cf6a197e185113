"""Camera barcode scanning for Mượn Trả (no web framework imports here).

Public API::

    decode_image(img, still=...) -> list[Decoded]     # one frame or photo
    Decoder(symbologies=..., use_zxing=...)            # configured pipeline, reusable
    Scanner(source, on_scan=..., worker=DecoderWorker())  # background camera loop
    ScanConfirmer(frames=2, window=1.0, cooldown=2.0)  # confirmation + cooldown
    CameraSource / VideoFileSource / ImageFolderSource / PushedFrameSource
    normalize_code, is_isbn
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# Names are loaded on first use (PEP 562): the decoder worker process imports scanner.worker,
# which then needs only decode/normalize, not the camera sources, images (Pillow) or service; and
# the kiosk process takes Scan, ScanConfirmer, SourceStatus and CameraWorker without numpy or OpenCV.
_WHERE = {
    "Scan": "confirm", "ScanConfirmer": "confirm",
    "Decoded": "common", "Decoder": "decode", "decode_image": "decode",
    "UnreadableImage": "images", "decode_image_bytes": "images", "load_image": "images",
    "LIBRARY_SYMBOLOGIES": "normalize", "is_isbn": "normalize", "normalize_code": "normalize",
    "FrameResult": "service", "Scanner": "service",
    "CameraSource": "sources", "FrameSource": "sources", "ImageFolderSource": "sources",
    "PushedFrameSource": "sources", "SourceStatus": "common", "VideoFileSource": "sources",
    "CameraWorker": "camera_worker", "DecoderWorker": "worker", "WorkerError": "common",
    "limit_malloc_arenas": "common",
}

if TYPE_CHECKING:
    from .camera_worker import CameraWorker
    from .common import Decoded, SourceStatus, WorkerError, limit_malloc_arenas
    from .confirm import Scan, ScanConfirmer
    from .decode import Decoder, decode_image
    from .images import UnreadableImage, decode_image_bytes, load_image
    from .normalize import LIBRARY_SYMBOLOGIES, is_isbn, normalize_code
    from .service import FrameResult, Scanner
    from .sources import (
        CameraSource,
        FrameSource,
        ImageFolderSource,
        PushedFrameSource,
        VideoFileSource,
    )
    from .worker import DecoderWorker


def __getattr__(name: str) -> object:
    if name not in _WHERE:
        raise AttributeError(f"module 'scanner' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "LIBRARY_SYMBOLOGIES",
    "CameraSource",
    "CameraWorker",
    "Decoded",
    "Decoder",
    "DecoderWorker",
    "FrameResult",
    "FrameSource",
    "ImageFolderSource",
    "PushedFrameSource",
    "Scan",
    "ScanConfirmer",
    "Scanner",
    "SourceStatus",
    "UnreadableImage",
    "VideoFileSource",
    "WorkerError",
    "decode_image",
    "decode_image_bytes",
    "is_isbn",
    "limit_malloc_arenas",
    "load_image",
    "normalize_code",
]
