"""Loading image files and uploaded image bytes as 8-bit grey frames."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError


class UnreadableImage(Exception):
    """The file or bytes are not an image we can decode."""


def _flatten(img: np.ndarray) -> np.ndarray:
    # Transparent pixels would turn black in a plain grey conversion, swallowing black bars
    # drawn on a transparent background: composite onto white instead.
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    elif img.dtype != np.uint8:
        img = cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if img.ndim == 2:
        return img
    if img.shape[2] == 4:
        alpha = img[:, :, 3:4].astype(np.float32) / 255.0
        rgb = img[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        return cv2.cvtColor(rgb.astype(np.uint8), cv2.COLOR_BGR2GRAY)
    if img.shape[2] == 1:
        return img[:, :, 0]
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)


def decode_image_bytes(data: bytes) -> np.ndarray:
    """Decode JPEG/PNG/WebP/... bytes to a grey uint8 frame; raise UnreadableImage."""
    # OpenCV logs its own codec complaints to stderr; a failure here is reported by us instead.
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) if data else None
    finally:
        cv2.utils.logging.setLogLevel(level)
    if img is not None and img.size:
        return _flatten(img)
    # OpenCV lacks some variants (e.g. tiny lossless WebP); Pillow reads them.
    try:
        with Image.open(io.BytesIO(data)) as pil:
            pil.load()
            if pil.mode in ("RGBA", "LA", "P"):
                pil = pil.convert("RGBA")
                return _flatten(cv2.cvtColor(np.asarray(pil), cv2.COLOR_RGBA2BGRA))
            return np.asarray(pil.convert("L")).copy()
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise UnreadableImage(str(e) or "not an image") from e


def load_image(path: str | Path) -> np.ndarray:
    """Read an image file as a grey uint8 frame; raise UnreadableImage (or OSError)."""
    data = Path(path).read_bytes()
    return decode_image_bytes(data)
