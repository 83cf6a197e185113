"""Synthetic camera footage for the scanner tests: labels and cards rendered with python-barcode
and segno, pasted into 640x480 frames with perspective, blur, noise, glare, dim light, motion."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import barcode
import cv2
import numpy as np
import segno
import zxingcpp
from barcode.writer import ImageWriter
from pyzbar import pyzbar

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


# --------------------------------------------------------------------- the public photos as camera frames
# tests/data/barcodes is a copy of ../shared/barcodes (zxing-cpp's test samples, Apache-2.0; see its
# README.md and MANIFEST.tsv for each file's origin).
PHOTOS = Path(__file__).resolve().parent.parent / "data" / "barcodes"
GREY = 128  # the frame around a photo smaller than the frame


@dataclass(frozen=True)
class Photo:
    set: str
    file: str
    path: Path
    expected: str | None  # None: a false-positive photo, where nothing may be read

    @property
    def name(self) -> str:
        return f"{self.set}/{self.file}"


def public_photos() -> list[Photo]:
    """Every photo of MANIFEST.tsv, in its order, with the exact text expected (or None)."""
    out = []
    with (PHOTOS / "MANIFEST.tsv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            path = PHOTOS / row["set"] / row["file"]
            txt = path.with_suffix(".txt")
            # Bytes, not read_text(): some expected texts hold \r\n that must stay as they are.
            expected = txt.read_bytes().decode("utf-8") if txt.exists() else None
            out.append(Photo(row["set"], row["file"], path, expected))
    return out


def is_pharmacy_code(photo: Photo) -> bool:
    """Is the expected text zxing-cpp's Code 32 / PZN reading of a Code 39 symbol? The pipeline
    deliberately reports such a symbol's Code 39 content instead."""
    from scanner import load_image

    return any(b.format in _PHARMACY and b.text == photo.expected
               for b in zxingcpp.read_barcodes(load_image(photo.path)))


def camera_frame(gray: np.ndarray, size: tuple[int, int] = (W, H)) -> np.ndarray:
    """``gray`` as a camera would frame it: shrunk to fit (never enlarged), centred on grey."""
    w, h = size
    ih, iw = gray.shape
    s = min(1.0, w / iw, h / ih)
    if s < 1.0:
        gray = cv2.resize(gray, (max(1, round(iw * s)), max(1, round(ih * s))), interpolation=cv2.INTER_AREA)
    ih, iw = gray.shape
    frame = np.full((h, w), GREY, np.uint8)
    y, x = (h - ih) // 2, (w - iw) // 2
    frame[y:y + ih, x:x + iw] = gray
    return frame


def raw_pyzbar_texts(gray: np.ndarray) -> list[str]:
    """pyzbar with its defaults (all symbologies); UPC-A given the EAN-13 leading zero the
    expected texts (and every EAN lookup) have."""
    return [("0" if r.type == "UPCA" else "") + r.data.decode("utf-8", "replace") for r in pyzbar.decode(gray)]


_PHARMACY = (zxingcpp.BarcodeFormat.Code32, zxingcpp.BarcodeFormat.PZN)


def raw_zxing_texts(gray: np.ndarray, *, pharmacy_codes: bool = True) -> list[str]:
    """zxing-cpp with its defaults (all formats, rotations, downscaling, inverted).
    ``pharmacy_codes=False`` drops its Code 32 / PZN readings of Code 39 symbols, which the
    pipeline deliberately does not make (a school's Code 39 label is not a pharmacy number)."""
    return [b.text for b in zxingcpp.read_barcodes(gray) if pharmacy_codes or b.format not in _PHARMACY]


# --------------------------------------------------------------------- clips made from the photos
FPS_CLIP = 30.0
SLIDE_FRAMES = 6  # 0.2 s from outside the frame to where the student holds it
HOLD_FRAMES = 18  # 0.6 s held (a little more than the 0.5 s target)
JPEG_QUALITY = 80  # what the kiosk page sends from a tablet (static/js/camera.js)


@dataclass
class Clip:
    name: str
    frames: list[np.ndarray]  # grey 640x480, JPEG round-tripped
    expected: str | None
    first_full_view: int  # index of the first frame showing the whole code (None-code: 0)


def _jpeg(gray: np.ndarray) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    assert ok
    return cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)


def _motion_blur(f: np.ndarray, dx: float, dy: float) -> np.ndarray:
    n = int(round(math.hypot(dx, dy)))
    if n < 2:
        return f
    k = np.zeros((n, n), np.float32)
    c = (n - 1) / 2
    cv2.line(k, (round(c - dx / 2 * (n - 1) / n), round(c - dy / 2 * (n - 1) / n)),
             (round(c + dx / 2 * (n - 1) / n), round(c + dy / 2 * (n - 1) / n)), 1.0, 1)
    return cv2.filter2D(f, -1, k / k.sum())


def photo_clip(photo: Photo, seed: int) -> Clip:
    """A student presenting ``photo``'s code: it slides in from a side edge over 0.2 s (motion
    blur along the way, focus hunting), then is held tilted for 0.6 s with a shaky hand, in
    lower light, each frame JPEG-compressed at a tablet's quality."""
    from scanner import load_image

    rng = np.random.default_rng(seed)
    item = load_image(photo.path).astype(np.float32)
    ih, iw = item.shape
    fit = min(1.0, 0.7 * W / iw, 0.7 * H / ih)
    angle, tilt = float(rng.uniform(-10, 10)), float(rng.uniform(0, 0.12))
    gain, noise = float(rng.uniform(0.55, 0.9)), float(rng.uniform(2.5, 5.0))
    focus = float(rng.uniform(0.3, 1.0))  # sigma once focused
    cx, cy = W / 2 + rng.uniform(-25, 25), H / 2 + rng.uniform(-20, 20)
    side = 1 if rng.random() < 0.5 else -1
    start = cx + side * (W / 2 + iw * fit / 2 + 10)
    bg = background(rng)
    xs = [start + (cx - start) * (1 - (1 - (i + 1) / SLIDE_FRAMES) ** 2) for i in range(SLIDE_FRAMES)]
    xs = [start] + xs + [cx + rng.normal(0, 1.5) for _ in range(HOLD_FRAMES)]
    ys = [cy] * (SLIDE_FRAMES + 1) + [cy + rng.normal(0, 1.5) for _ in range(HOLD_FRAMES)]
    frames, first_full = [], None
    for i in range(1, len(xs)):
        f = bg.copy()
        quad = quad_at(item, xs[i], ys[i], scale=fit, angle=angle, tilt=tilt)
        paste(f, item, quad)
        # Half the frame time's exposure smears the movement since the previous frame.
        f = _motion_blur(f, (xs[i] - xs[i - 1]) * 0.5, (ys[i] - ys[i - 1]) * 0.5)
        sigma = focus + max(0.0, 1.5 * (SLIDE_FRAMES - i) / SLIDE_FRAMES)
        f = cv2.GaussianBlur(f, (0, 0), sigma)
        f = f * gain + rng.normal(0, noise, f.shape)
        frames.append(_jpeg(np.clip(f, 0, 255).astype(np.uint8)))
        if first_full is None and quad[:, 0].min() >= 0 and quad[:, 0].max() <= W:
            first_full = i - 1
    assert first_full is not None
    return Clip(photo.name, frames, photo.expected, first_full)


def empty_clip(scene: np.ndarray, name: str, seed: int, n: int = 24) -> Clip:
    """The camera drifting over a scene without a code (a page, fabric, a bookshelf): perspective
    wobble, motion blur, defocus, lower light, JPEG."""
    rng = np.random.default_rng(seed)
    scene = cv2.resize(scene, (W + 80, H + 60), interpolation=cv2.INTER_AREA).astype(np.float32)
    gain, noise = float(rng.uniform(0.55, 0.9)), float(rng.uniform(2.5, 5.0))
    frames, x, y = [], 40.0, 30.0
    for _ in range(n):
        dx, dy = rng.normal(0, 4), rng.normal(0, 3)
        x, y = float(np.clip(x + dx, 0, 80)), float(np.clip(y + dy, 0, 60))
        src = np.float32([[x, y], [x + W, y], [x + W, y + H], [x, y + H]])
        dst = np.float32([[0, 0], [W, 0], [W, H], [0, H]]) + rng.normal(0, 6, (4, 2)).astype(np.float32)
        f = cv2.warpPerspective(scene, cv2.getPerspectiveTransform(src, dst), (W, H), borderMode=cv2.BORDER_REFLECT)
        f = _motion_blur(f, dx, dy)
        f = cv2.GaussianBlur(f, (0, 0), float(rng.uniform(0.3, 1.5)))
        f = f * gain + rng.normal(0, noise, f.shape)
        frames.append(_jpeg(np.clip(f, 0, 255).astype(np.uint8)))
    return Clip(name, frames, None, 0)


def bookshelf(textures: list[np.ndarray], seed: int) -> np.ndarray:
    """Book spines side by side, each a strip of a texture photo with a dark gap: the parallel
    edges a 1-D localiser is most tempted by."""
    rng = np.random.default_rng(seed)
    shelf = np.zeros((H, W), np.uint8)
    x = 0
    while x < W:
        w = int(rng.integers(14, 60))
        tex = textures[int(rng.integers(0, len(textures)))]
        strip = cv2.resize(tex, (w, H), interpolation=cv2.INTER_AREA)
        strip = np.clip(strip.astype(np.float32) * rng.uniform(0.5, 1.1) + rng.uniform(-30, 30), 0, 255)
        shelf[:, x:x + w] = strip[:, : W - x].astype(np.uint8)[:, :w]
        x += w
        shelf[:, x:x + 3] = 20
        x += 3
    return shelf


def play_clip(scanner: object, clip: Clip, *, stop_at_scan: bool = False) -> tuple[int | None, list[str]]:
    """Feed ``clip`` at 30 fps through ``scanner`` (a :class:`scanner.Scanner`, the kiosk's
    per-frame path: decoder then ScanConfirmer), as a new student: the confirmer is reset first.
    Returns the frame index of the first scan of the expected text (None: never) and every
    scanned text that is not the expected one (up to that scan if ``stop_at_scan``)."""
    scanner.confirmer.reset()  # type: ignore[attr-defined]
    first, wrong = None, []
    for i, frame in enumerate(clip.frames):
        if stop_at_scan and first is not None:
            break
        for scan in scanner.process(frame, i / FPS_CLIP):  # type: ignore[attr-defined]
            if scan.text == clip.expected and first is None:
                first = i
            elif scan.text != clip.expected:
                wrong.append(scan.text)
    return first, wrong


def clip_readable(clip: Clip) -> bool:
    """Can either raw decoder read the code on the clip's sharp frames (held still, in focus:
    the first settled one and the last)? zxing-cpp's pharmacy-code readings don't count."""
    held = (clip.frames[SLIDE_FRAMES + 1], clip.frames[-1])
    return any(clip.expected in raw_pyzbar_texts(f) or clip.expected in raw_zxing_texts(f, pharmacy_codes=False)
               for f in held)
