"""Synthetic camera footage for the scanner tests: labels and cards rendered with python-barcode
and segno, pasted into 640x480 frames with perspective, blur, noise, glare, dim light, motion."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import barcode
import cv2
import numpy as np
import segno
from barcode.writer import ImageWriter

W, H = 640, 480


def render_1d(kind: str, text: str, module_px: int = 3, bar_height: int = 90) -> np.ndarray:
    """A printed label: bars, human-readable text and a white quiet zone, as a grey image."""
    code = barcode.get(kind, text, writer=ImageWriter())
    # dpi chosen so one module is exactly module_px pixels: crisp bars, like a printed label.
    dpi = 25.4 * module_px / 0.2
    pil = code.render(writer_options={"module_width": 0.2, "module_height": bar_height * 25.4 / dpi,
                                      "quiet_zone": 3.0, "font_size": 0, "text_distance": 1,
                                      "dpi": dpi, "background": "white", "foreground": "black"})
    return np.asarray(pil.convert("L")).copy()


def render_qr(text: str, module_px: int = 6) -> np.ndarray:
    qr = segno.make(text, error="m", micro=False)
    m = np.array([[0 if v else 255 for v in row] for row in qr.matrix], dtype=np.uint8)
    m = np.kron(m, np.ones((module_px, module_px), np.uint8))
    return cv2.copyMakeBorder(m, 4 * module_px, 4 * module_px, 4 * module_px, 4 * module_px,
                              cv2.BORDER_CONSTANT, value=255)


def book_cover(label: np.ndarray, isbn: np.ndarray) -> np.ndarray:
    """A book's back cover with a library accession label and the publisher's ISBN barcode."""
    h = label.shape[0] + isbn.shape[0] + 90
    w = max(label.shape[1], isbn.shape[1]) + 60
    cover = np.full((h, w), 200, np.uint8)
    cv2.putText(cover, "SACH GIAO KHOA", (20, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, 60, 2)
    cover[40:40 + label.shape[0], 30:30 + label.shape[1]] = label
    y = 60 + label.shape[0]
    cover[y:y + isbn.shape[0], 30:30 + isbn.shape[1]] = isbn
    return cover


def background(rng: np.random.Generator, cluttered: bool = True) -> np.ndarray:
    """A desk seen by a webcam: a gradient, and if cluttered, shapes and printed text."""
    yy, xx = np.mgrid[0:H, 0:W]
    bg = (110 + 40 * xx / W + 20 * yy / H).astype(np.uint8)
    if cluttered:
        for _ in range(12):
            c = (int(rng.integers(0, W)), int(rng.integers(0, H)))
            cv2.circle(bg, c, int(rng.integers(10, 60)), int(rng.integers(40, 230)), -1)
        for _ in range(6):
            p = (int(rng.integers(0, W - 100)), int(rng.integers(20, H)))
            cv2.putText(bg, "Thu vien truong THCS", p, cv2.FONT_HERSHEY_SIMPLEX, 0.6, int(rng.integers(0, 80)), 1)
    return bg.astype(np.float32)


def paste(frame: np.ndarray, item: np.ndarray, quad: np.ndarray) -> None:
    """Warp ``item`` onto ``frame`` (float32, in place) so its corners land on ``quad``."""
    h, w = item.shape
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    m = cv2.getPerspectiveTransform(src, np.float32(quad))
    warped = cv2.warpPerspective(item.astype(np.float32), m, (W, H), flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.ones((h, w), np.float32), m, (W, H), flags=cv2.INTER_AREA)
    frame *= 1 - mask
    frame += warped * mask


def quad_at(item: np.ndarray, cx: float, cy: float, *, scale: float = 1.0, angle: float = 0.0,
            tilt: float = 0.0) -> np.ndarray:
    """Corners of ``item`` centred at (cx, cy), rotated by ``angle`` degrees, with perspective
    ``tilt`` (fraction by which the right edge is shorter than the left)."""
    h, w = item.shape[0] * scale, item.shape[1] * scale
    pts = np.array([[-w / 2, -h / 2], [w / 2, -h / 2 * (1 - tilt)], [w / 2, h / 2 * (1 - tilt)], [-w / 2, h / 2]])
    t = np.radians(angle)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    return pts @ rot.T + [cx, cy]


@dataclass
class Effects:
    blur: float = 0.0  # Gaussian sigma, px (focus)
    motion: int = 0  # horizontal motion-blur length, px
    noise: float = 3.0  # sensor noise sigma, grey levels
    gain: float = 1.0  # < 1 for dim light
    glare: float = 0.0  # peak brightness added by a lamp reflection
    glare_at: tuple[int, int] = field(default=(W // 2, H // 2))


def finish(frame: np.ndarray, fx: Effects, rng: np.random.Generator) -> np.ndarray:
    """Apply optics and sensor effects; return a BGR uint8 frame as a webcam delivers it."""
    f = frame
    if fx.blur:
        f = cv2.GaussianBlur(f, (0, 0), fx.blur)
    if fx.motion:
        k = np.zeros((fx.motion, fx.motion), np.float32)
        k[fx.motion // 2, :] = 1.0 / fx.motion
        f = cv2.filter2D(f, -1, k)
    if fx.glare:
        yy, xx = np.mgrid[0:H, 0:W]
        gx, gy = fx.glare_at
        f = f + fx.glare * np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * 60.0**2))
    f = f * fx.gain + rng.normal(0, fx.noise, f.shape)
    g = np.clip(f, 0, 255).astype(np.uint8)
    return cv2.cvtColor(g, cv2.COLOR_GRAY2BGR)


def write_video(path: Path, frames: list[np.ndarray], fps: float = 15.0) -> Path:
    """Write frames with OpenCV's built-in MJPEG/AVI writer (no external codecs needed)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (W, H))
    assert writer.isOpened(), "OpenCV cannot write MJPEG AVI here"
    for f in frames:
        writer.write(f)
    writer.release()
    return path


_L = ["0001101", "0011001", "0010011", "0111101", "0100011", "0110001", "0101111", "0111011", "0110111", "0001011"]
_G = ["0100111", "0110011", "0011011", "0100001", "0011101", "0111001", "0000101", "0010001", "0001001", "0010111"]
_EAN5_PARITY = ["GGLLL", "GLGLL", "GLLGL", "GLLLG", "LGGLL", "LLGGL", "LLLGG", "LGLGL", "LGLLG", "LLGLG"]


def with_ean5_addon(main: np.ndarray, addon: str, module_px: int = 3) -> np.ndarray:
    """Append a 5-digit EAN add-on (a book's price code, e.g. 90000) right of an EAN-13 label
    rendered by :func:`render_1d` with the same ``module_px``."""
    d = [int(c) for c in addon]
    parity = _EAN5_PARITY[(3 * (d[0] + d[2] + d[4]) + 9 * (d[1] + d[3])) % 10]
    bits = "1011" + "01".join((_L if p == "L" else _G)[x] for x, p in zip(d, parity, strict=True))
    h = main.shape[0]
    gap = 9 * module_px
    width = gap + len(bits) * module_px + 12 * module_px
    add = np.full((h, width), 255, np.uint8)
    top = h // 6  # add-on bars start lower, where the printed add-on digits sit
    for i, b in enumerate(bits):
        if b == "1":
            x = gap + i * module_px
            add[top:h - module_px * 3, x:x + module_px] = 0
    # Trim most of the main label's right quiet zone so the add-on sits at the standard gap.
    cols = np.where(main.min(axis=0) < 128)[0]
    right = cols[-1] + 1 if len(cols) else main.shape[1]
    return np.hstack([main[:, :right], add])
