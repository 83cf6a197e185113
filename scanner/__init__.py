"""Camera barcode scanning for Mượn Trả (no web framework imports here).

Public API::

    decode_image(img, still=...) -> list[Decoded]     # one frame or photo
    Decoder(symbologies=..., use_zxing=...)            # configured pipeline, reusable
    Scanner(source, on_scan=..., worker=DecoderWorker())  # background camera loop
    ScanConfirmer(frames=2, window=1.0, cooldown=2.0)  # confirmation + cooldown
    CameraSource / VideoFileSource / ImageFolderSource / PushedFrameSource
    normalize_code, is_isbn
"""

from .confirm import Scan, ScanConfirmer
from .decode import Decoded, Decoder, decode_image
from .images import UnreadableImage, decode_image_bytes, load_image
from .normalize import LIBRARY_SYMBOLOGIES, is_isbn, normalize_code
from .service import FrameResult, Scanner
from .sources import (
    CameraSource,
    FrameSource,
    ImageFolderSource,
    PushedFrameSource,
    SourceStatus,
    VideoFileSource,
)
from .worker import DecoderWorker, WorkerError

__all__ = [
    "LIBRARY_SYMBOLOGIES",
    "CameraSource",
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
    "load_image",
    "normalize_code",
]
