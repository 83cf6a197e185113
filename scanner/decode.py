"""Barcode decoding pipeline: cheap localisation first, decoders only where something is.

A camera frame usually shows no barcode, and a full ZBar pass over it costs tens of
milliseconds. The pipeline therefore

1. downsizes the grey frame and computes a structure tensor: barcode bars are a strong gradient
   with one dominant orientation, so *energy* and *coherence* mark 1-D candidates at any angle;
   QR codes are found by their nested-square finder patterns instead;
2. cuts each candidate out of the full-resolution frame, rotated so the bars stand upright,
   and decodes only that crop with ZBar (restricted to library symbologies), then zxing-cpp
   for what ZBar misses (Code 39 full ASCII, Code 128 FNC4, damaged EAN/UPC);
3. only if a candidate region still yields nothing, retries it upscaled / binarised.

For still images (``still=True``, e.g. ``muontra scan-image``) accuracy matters more than time,
so whole-image passes of both decoders are added and the readings are put to a vote: a location
where the passes disagree is reported only when one text clearly wins, never a coin toss.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from ctypes import c_void_p, cast
from dataclasses import dataclass

import cv2
import numpy as np
import zxingcpp
from pyzbar.pyzbar import (
    _FOURCC,
    ZBarSymbol,
    _decode_symbols,
    _image,
    _image_scanner,
    _symbols_for_image,
)
from pyzbar.wrapper import (
    ZBarConfig,
    zbar_image_scanner_set_config,
    zbar_image_set_data,
    zbar_image_set_format,
    zbar_image_set_size,
    zbar_scan_image,
)

from .common import Decoded
from .normalize import (
    CODE39,
    CODE128,
    EAN8,
    EAN13,
    ITF,
    LIBRARY_SYMBOLOGIES,
    QRCODE,
    UPCA,
    normalize_code,
)

_EYE = np.eye(3)
_FULL_ASCII_PAIR = re.compile(r"[$%/+][A-Z]")


_ZBAR_SYMBOLS = {
    EAN13: ZBarSymbol.EAN13,
    EAN8: ZBarSymbol.EAN8,
    UPCA: ZBarSymbol.UPCA,
    CODE128: ZBarSymbol.CODE128,
    CODE39: ZBarSymbol.CODE39,
    ITF: ZBarSymbol.I25,
    QRCODE: ZBarSymbol.QRCODE,
}
_ZBAR_NAMES = {v.name: k for k, v in _ZBAR_SYMBOLS.items()}

_ZX = zxingcpp.BarcodeFormat
_ZXING_FORMATS = {
    EAN13: (_ZX.EAN13,),
    EAN8: (_ZX.EAN8,),
    UPCA: (_ZX.UPCA,),
    CODE128: (_ZX.Code128,),
    # Code39Std + Code39Ext, deliberately not the umbrella Code39: that one also turns a short
    # digits-and-consonants label into a pharmacy Code 32 / PZN number.
    CODE39: (_ZX.Code39Std, _ZX.Code39Ext),
    ITF: (_ZX.ITF,),
    QRCODE: (_ZX.QRCode,),
}
_ZXING_NAMES = {
    _ZX.EAN13: EAN13,
    _ZX.EAN8: EAN8,
    _ZX.UPCA: UPCA,
    _ZX.Code128: CODE128,
    _ZX.Code39: CODE39,
    _ZX.Code39Std: CODE39,
    _ZX.Code39Ext: CODE39,
    _ZX.ITF: ITF,
    _ZX.QRCode: QRCODE,
}


@dataclass(slots=True)
class _Reading:
    symbology: str
    text: str
    polygon: np.ndarray  # (N, 2) float, frame coordinates
    source: str  # which pass produced it; votes are counted per distinct source

    def bbox(self) -> tuple[float, float, float, float]:
        x0, y0 = self.polygon.min(axis=0)
        x1, y1 = self.polygon.max(axis=0)
        return float(x0), float(y0), float(x1), float(y1)


@dataclass(slots=True)
class Region:
    """A barcode-like area found by the localiser, in full-frame pixel coordinates."""

    center: tuple[float, float]
    size: tuple[float, float]  # (along the bars' normal, along the bars)
    angle: float  # degrees; rotate the frame by this to make the bars vertical
    kind: str  # "1d" or "qr"


@dataclass(slots=True)
class _Look:
    """What the localiser saw at work size."""

    regions: list[Region]  # 1-D candidates that passed every check
    two_d: int  # pixels with dense edges in no single orientation (QR-like)
    busy: int  # pixels with dense, contrasted edges (anything code-like)
    loose: list[tuple[float, float, float, float]]  # boxes of parallel-edge blobs that failed


def to_gray(img: np.ndarray) -> np.ndarray:
    """Grey view of a BGR/BGRA/grey uint8 image (no copy when it is already grey)."""
    if img.ndim == 2:
        return img
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2GRAY)
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)


class Decoder:
    """The decoding pipeline, configured once and reused for every frame.

    ``symbologies`` restricts what is decoded (default: :data:`LIBRARY_SYMBOLOGIES`);
    ``use_zxing`` enables zxing-cpp as the second decoder. ``work_width`` is the width of the
    downsized frame the localiser looks at: smaller is faster but misses distant codes.
    """

    def __init__(
        self,
        symbologies: frozenset[str] | set[str] = LIBRARY_SYMBOLOGIES,
        *,
        use_zxing: bool = True,
        work_width: int = 320,
        blob_coherence: float = 0.5,
        edge_contrast: float = 12.0,
        edge_density: float = 0.35,
        qr_min_pixels: int = 150,
        min_busy: int = 30,
    ) -> None:
        unknown = set(symbologies) - LIBRARY_SYMBOLOGIES
        if unknown:
            raise ValueError(f"unsupported symbologies: {sorted(unknown)}")
        self.symbologies = frozenset(symbologies)
        self.use_zxing = use_zxing
        self.work_width = work_width
        self.blob_coherence = blob_coherence
        self.edge_contrast = edge_contrast
        self.edge_density = edge_density
        self.qr_min_pixels = qr_min_pixels
        self.min_busy = min_busy
        self._zbar_all = [_ZBAR_SYMBOLS[s] for s in sorted(self.symbologies)]
        self._zbar_1d = [_ZBAR_SYMBOLS[s] for s in sorted(self.symbologies) if s != QRCODE]
        self._zx_all = tuple(f for s in sorted(self.symbologies) for f in _ZXING_FORMATS[s])
        self._zx_1d = tuple(f for s in sorted(self.symbologies - {QRCODE}) for f in _ZXING_FORMATS[s])

    # ----------------------------------------------------------------- public entry point
    def decode(self, img: np.ndarray, *, still: bool = False) -> list[Decoded]:
        """Decode every code in ``img`` (BGR or grey uint8).

        ``still=False`` is the camera path: zxing-cpp on the whole frame, ZBar where a code
        or something code-like is (see :meth:`_decode_live`). ``still=True`` decodes the
        localiser's crops thoroughly, adds whole-image passes of both decoders and puts every
        reading to a vote.
        """
        gray = to_gray(img)
        if gray.size == 0 or min(gray.shape) < 1:
            return []
        if not still:
            return self._decode_live(gray) if min(gray.shape) >= 16 else []
        readings: list[_Reading] = []
        regions = self.locate(gray) if min(gray.shape) >= 16 else []
        for i, region in enumerate(regions):
            readings.extend(self._decode_region(gray, region, f"r{i}", thorough=True))
        if min(gray.shape) >= 32:
            # A close-up's wide bars split it into pieces at work size: look coarser too.
            for i, region in enumerate(self.locate(gray, coarse=True)):
                if any(_inside(_mean(r.polygon), region) for r in readings):
                    continue
                readings.extend(self._decode_region(gray, region, f"c{i}", thorough=True))
        readings.extend(self._whole_image_passes(gray))
        return _vote(readings)

    def _decode_live(self, gray: np.ndarray) -> list[Decoded]:
        """The camera path: zxing-cpp on the whole frame, ZBar where something code-like is.

        Measured on the public photos as 640x480 frames (bench/bench_live_frames.py): whole-frame
        zxing-cpp restricted to the library formats reads everything raw zxing-cpp reads at a
        third of its cost; ZBar is what costs, so it only looks where zxing found a code (for
        the agreement that allows a one-frame scan) or where the localiser saw bars zxing left
        unread.
        """
        h, w = gray.shape
        scale = min(1.0, self.work_width / w)
        small = cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))),
                           interpolation=cv2.INTER_AREA) if scale < 1.0 else gray
        look = self._locate_1d(small, scale)
        # No dense, contrasted edges anywhere: nothing a decoder could read (sensor noise, a
        # blank desk). Empty frames cost the localiser only.
        if look.busy < self.min_busy:
            return []
        # Rows first (codes held roughly level, and QR codes at any angle), columns only when
        # the rows found nothing: half the cost on most frames with a code.
        readings = self._zxing(gray, self._zx_all, _EYE, "w:zx", rotate=False, downscale=False)
        if not readings:
            readings = self._zxing(gray, self._zx_all, _EYE, "w:zx", rotate=True, downscale=False)
        for i, r in enumerate(list(readings)):
            readings += self._zbar_agreement(gray, r, f"a{i}")
        # ZBar where the localiser saw bars that zxing left unread.
        retry = True
        for i, region in enumerate(look.regions):
            if any(_inside(_mean(r.polygon), region) for r in readings):
                continue
            found = self._decode_region(gray, region, f"r{i}", thorough=False, retry=retry)
            retry = retry and bool(found)  # at most one failed region tries harder per frame
            readings += found
        if not readings:
            # Blobs of parallel edges that failed the localiser's strict checks (a code merged
            # with its printed text, bearer bars): ZBar on their boxes, as they are.
            for i, box in enumerate(look.loose):
                crop, inverse = _box_crop(gray, box, 0.1)
                readings += self._zbar(crop, self._zbar_1d, inverse, f"l{i}:zbar")
        if not readings and QRCODE in self.symbologies and look.two_d >= self.qr_min_pixels:
            for i, region in enumerate(self._locate_qr(small, scale)):
                readings += self._decode_region(gray, region, f"q{i}", thorough=False, retry=False)
        for r in readings:
            if r.symbology != QRCODE:
                r.polygon = _thicken(r.polygon)
        return self._merge_live(gray, readings)

    def _zbar_agreement(self, gray: np.ndarray, reading: _Reading, tag: str) -> list[_Reading]:
        """ZBar around a code zxing-cpp read: the same text lets a single frame make a scan,
        a different one exposes a misread. One good scan line is enough to agree, so ZBar
        scans every 4th line along the code (a quarter of its cost)."""
        crop, inverse = _box_crop(gray, _bbox(_thicken(reading.polygon)), 0.15)
        if reading.symbology == QRCODE:
            return self._zbar(crop, self._zbar_all, inverse, f"{tag}:zbar")
        dx, dy = reading.polygon[1] - reading.polygon[0]
        lines = (0, 4) if abs(dx) > 2 * abs(dy) else (4, 0) if abs(dy) > 2 * abs(dx) else (2, 2)
        return self._zbar(crop, self._zbar_1d, inverse, f"{tag}:zbar", density=lines)

    def _merge_live(self, gray: np.ndarray, readings: list[_Reading]) -> list[Decoded]:
        """One text per place: a text both decoders read beats single-decoder rivals; rival
        texts from one decoder each are settled by a thorough look at that place alone."""
        out: list[Decoded] = []
        for group in _groups(readings):
            group = _prefer_zxing(group)
            families: dict[tuple[str, str], set[str]] = defaultdict(set)
            for r in group:
                families[(r.symbology, r.text)].add(_family(r.source))
            both = [k for k, f in families.items() if len(f) == 2]
            if len(both) == 1:
                out.append(_as_decoded(*both[0], group))
            elif len(families) == 1:
                (sym, text), fams = next(iter(families.items()))
                # ZBar reads Code 39 full ASCII literally ("A+A-1234" for "Aa-1234"): a text
                # only ZBar read that has such pairs waits for a frame zxing-cpp reads too.
                if not (sym == CODE39 and fams == {"zbar"} and _FULL_ASCII_PAIR.search(text)):
                    out.append(_as_decoded(sym, text, group))
            elif not both:
                box = _union_box(group)
                crop, inverse = _box_crop(gray, box, 0.2)
                out += [d for d in _vote(self._thorough(crop, inverse)) if _in_box(_mean(np.array(d.polygon, float)), box)]
        return out

    def _thorough(self, crop: np.ndarray, inverse: np.ndarray) -> list[_Reading]:
        """Every still-image pass on one crop: the rival texts' tie-break."""
        out: list[_Reading] = []
        for name, variant, f, *shift in _still_variants(crop):
            dx, dy = shift[0] if shift else (0, 0)
            back = inverse @ np.array([[1 / f[0], 0, dx], [0, 1 / f[1], dy], [0, 0, 1]])
            out += self._zbar(variant, self._zbar_all, back, f"t{name}:zbar")
            out += self._zxing(variant, self._zx_all, back, f"t{name}:zx", rotate=True)
        return out

    # ----------------------------------------------------------------- localisation
    def locate(self, gray: np.ndarray, *, coarse: bool = False) -> list[Region]:
        """Find barcode-like regions (~2-3 ms on a 640x480 frame).

        ``coarse=True`` looks at half the work size, for 1-D codes only: a code held close
        to the camera has bars so wide that their flat insides split it into pieces at work
        size.
        """
        h, w = gray.shape
        scale = min(1.0, self.work_width / w)
        small = cv2.resize(gray, (max(1, round(w * scale)), max(1, round(h * scale))),
                           interpolation=cv2.INTER_AREA) if scale < 1.0 else gray
        if coarse:
            half = cv2.resize(small, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
            return self._locate_1d(half, scale * 0.5).regions
        look = self._locate_1d(small, scale)
        regions, two_d = look.regions, look.two_d
        # A QR code big enough to decode covers a few hundred such pixels even at work size.
        if QRCODE in self.symbologies and two_d >= self.qr_min_pixels:
            regions.extend(self._locate_qr(small, scale))
        return regions

    def _locate_1d(self, small: np.ndarray, scale: float) -> _Look:
        """1-D candidates, and how many pixels look like a 2-D code (dense edges, no single
        orientation) so that the QR finder search can be skipped when there are none; also
        how many pixels look like any code at all, and the blobs of parallel edges that failed
        the strict checks (for the camera path's ZBar crops)."""
        f = small.astype(np.float32)
        gx = cv2.Scharr(f, cv2.CV_32F, 1, 0)
        gy = cv2.Scharr(f, cv2.CV_32F, 0, 1)
        gxx, gyy, gxy = gx * gx, gy * gy, gx * gy
        k = (9, 9)
        jxx = cv2.boxFilter(gxx, -1, k)
        jyy = cv2.boxFilter(gyy, -1, k)
        jxy = cv2.boxFilter(gxy, -1, k)
        # Scharr scales a step of contrast C to |g| ~ 16*C. Bars mean: many edges close together
        # (edge density; a lone outline or shadow edge has few), all in one orientation
        # (coherence), with some contrast (energy).
        t2 = (self.edge_contrast * 16.0) ** 2
        edges = cv2.threshold(gxx + gyy, t2, 1.0, cv2.THRESH_BINARY)[1]
        busy = (cv2.boxFilter(edges, -1, k) > self.edge_density) & (jxx + jyy > 0.5 * t2)
        energy = jxx + jyy
        diff = jxx - jyy
        # coherence = sqrt(diff² + 4 jxy²) / energy > 0.6, without the square root
        coherent = diff * diff + 4 * jxy * jxy > 0.36 * energy * energy
        mask = (busy & coherent).astype(np.uint8) * 255
        n_busy = int(np.count_nonzero(busy))
        two_d = n_busy - int(np.count_nonzero(mask))
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (7, 7)))
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3)))
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        regions: list[Region] = []
        loose: list[tuple[float, float, float, float, float]] = []
        inv = 1.0 / scale
        for c in contours:
            area = cv2.contourArea(c)
            if area < 120:
                continue
            (cx, cy), (rw, rh), ang = cv2.minAreaRect(c)
            if min(rw, rh) < 6:
                continue
            # Bar direction from the tensor averaged over the blob: the gradient is across bars.
            bx, by, bw, bh = cv2.boundingRect(c)
            box = (bx * inv, by * inv, (bx + bw) * inv, (by + bh) * inv, area)
            blob = np.zeros((bh, bw), np.uint8)
            cv2.drawContours(blob, [c - np.array([bx, by])], -1, 255, -1)
            inside = blob > 0
            sxx = float(jxx[by:by + bh, bx:bx + bw][inside].sum())
            syy = float(jyy[by:by + bh, bx:bx + bw][inside].sum())
            sxy = float(jxy[by:by + bh, bx:bx + bw][inside].sum())
            # Bars share one orientation across the whole code; textures (foliage, fabric,
            # text) are only locally coherent.
            if math.hypot(sxx - syy, 2 * sxy) < self.blob_coherence * (sxx + syy):
                loose.append(box)
                continue
            grad_angle = 0.5 * math.degrees(math.atan2(2 * sxy, sxx - syy))
            # Project the blob on the gradient direction and on the bars to get its extent.
            t = math.radians(grad_angle)
            pts = c.reshape(-1, 2).astype(np.float32)
            u = pts[:, 0] * math.cos(t) + pts[:, 1] * math.sin(t)
            v = -pts[:, 0] * math.sin(t) + pts[:, 1] * math.cos(t)
            length, height = float(u.max() - u.min()), float(v.max() - v.min())
            # Fewer than ~48 frame pixels across cannot hold the ~70+ modules of a library code.
            if length / scale < 48 or height < 4 or area < 0.5 * length * height:
                loose.append(box)
                continue
            uc, vc = (u.max() + u.min()) / 2, (v.max() + v.min()) / 2
            cx = uc * math.cos(t) - vc * math.sin(t)
            cy = uc * math.sin(t) + vc * math.cos(t)
            regions.append(Region((cx * inv, cy * inv), (length * inv, height * inv), grad_angle, "1d"))
        regions.sort(key=lambda r: -r.size[0] * r.size[1])
        loose.sort(key=lambda b: -b[4])
        return _Look(regions[:6], two_d, n_busy, [b[:4] for b in loose[:3]])

    def _locate_qr(self, small: np.ndarray, scale: float) -> list[Region]:
        # A QR finder pattern is a dark square ring around a light ring around a dark core:
        # three levels of nested contours with area ratios near 49:25:9.
        # Blur, a high offset and an opening keep sensor noise out (it would otherwise make
        # thousands of speckle contours): finder modules are black on white, not grey.
        binary = cv2.adaptiveThreshold(cv2.GaussianBlur(small, (3, 3), 0), 255, cv2.ADAPTIVE_THRESH_MEAN_C,
                                       cv2.THRESH_BINARY_INV, 31, 10)
        binary = cv2.morphologyEx(binary, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
        contours, hierarchy = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
        if hierarchy is None:
            return []
        hier = hierarchy[0]
        finders: list[tuple[float, float, float]] = []
        for i, c in enumerate(contours):
            child = hier[i][2]
            if child < 0:
                continue
            grandchild = hier[child][2]
            if grandchild < 0:
                continue
            a0 = cv2.contourArea(c)
            if a0 < 16:
                continue
            a1 = cv2.contourArea(contours[child])
            a2 = cv2.contourArea(contours[grandchild])
            if a1 <= 0 or a2 <= 0:
                continue
            if not (1.2 < a0 / a1 < 3.5 and 1.5 < a1 / a2 < 5.0):
                continue
            x, y, bw, bh = cv2.boundingRect(c)
            if not 0.5 < bw / bh < 2.0:
                continue
            finders.append((x + bw / 2, y + bh / 2, max(bw, bh)))
        if len(finders) < 2:
            return []
        # Group finders that could belong to one symbol (similar size, within ~25 modules).
        regions: list[Region] = []
        used: set[int] = set()
        for i, (x, y, s) in enumerate(finders):
            if i in used:
                continue
            group = [j for j, (x2, y2, s2) in enumerate(finders)
                     if j not in used and 0.5 < s2 / s < 2.0 and math.hypot(x2 - x, y2 - y) < s * 6]
            if len(group) < 2:
                continue
            used.update(group)
            xs = [finders[j][0] for j in group]
            ys = [finders[j][1] for j in group]
            m = s * 1.2
            x0, x1, y0, y1 = min(xs) - m, max(xs) + m, min(ys) - m, max(ys) + m
            if len(group) == 2:  # the third corner may be unseen: grow towards it
                x0, x1, y0, y1 = x0 - s * 2, x1 + s * 2, y0 - s * 2, y1 + s * 2
            inv = 1.0 / scale
            cx, cy = (x0 + x1) / 2 * inv, (y0 + y1) / 2 * inv
            bw, bh = (x1 - x0) * inv, (y1 - y0) * inv
            regions.append(Region((cx, cy), (bw, bh), 0.0, "qr"))
        return regions[:3]

    # ----------------------------------------------------------------- decoding
    def _decode_region(self, gray: np.ndarray, region: Region, tag: str, *, thorough: bool,
                       retry: bool = True) -> list[_Reading]:
        crop, inverse = _cut(gray, region)
        if crop is None:
            return []
        syms = self._zbar_all if region.kind == "qr" else self._zbar_1d
        formats = self._zx_all if region.kind == "qr" else self._zx_1d
        # zxing runs even when ZBar succeeded: its agreement is what lets a camera read be
        # trusted from a single frame, and it decodes Code 128 FNC4 / Code 39 full ASCII.
        found = self._zbar(crop, syms, inverse, f"{tag}:zbar", upright=region.kind == "1d")
        # Clutter (text, fabric) passes the localiser now and then; ZBar has just said there is
        # no code, and without bars there is nothing for zxing or the retries to find.
        if not found and region.kind == "1d" and not _looks_like_bars(crop):
            return found
        if self.use_zxing:
            found += self._zxing(crop, formats, inverse, f"{tag}:zx", rotate=False)
        if found or not retry:
            return found
        # The fast pass failed on something that looks like a code: try harder, here only.
        for name, variant, factor in _fallback_variants(crop):
            inv2 = inverse @ np.array([[1 / factor, 0, 0], [0, 1 / factor, 0], [0, 0, 1]])
            found = self._zbar(variant, syms, inv2, f"{tag}:{name}:zbar")
            if self.use_zxing and (thorough or not found):
                found += self._zxing(variant, formats, inv2, f"{tag}:{name}:zx", rotate=False)
            if found and not thorough:
                return found
        return found

    def _whole_image_passes(self, gray: np.ndarray) -> list[_Reading]:
        out: list[_Reading] = []
        for name, variant, f, *shift in _still_variants(gray):
            dx, dy = shift[0] if shift else (0, 0)
            back = np.array([[1 / f[0], 0, dx], [0, 1 / f[1], dy], [0, 0, 1]])
            out += self._zbar(variant, self._zbar_all, back, f"{name}:zbar")
            if self.use_zxing:
                out += self._zxing(variant, self._zx_all, back, f"{name}:zx", rotate=True)
        return out

    def _zbar(self, img: np.ndarray, symbols: list[ZBarSymbol], inverse: np.ndarray, source: str,
              *, upright: bool = False, density: tuple[int, int] | None = None) -> list[_Reading]:
        if not symbols or img.shape[0] < 2 or img.shape[1] < 2:
            return []
        out = []
        # An upright 1-D crop only needs horizontal scan lines: ZBar's cost is proportional to
        # the lines it scans, so this halves it. (Skipping every other row as well was faster
        # still, but let misreads through on the real photos.)
        density = density or ((0, 1) if upright else (1, 1))
        for r in _zbar_scan(img, symbols, *density):
            name = _ZBAR_NAMES.get(r.type)
            if name is None:
                continue
            try:
                text = r.data.decode("utf-8")
            except UnicodeDecodeError:
                text = r.data.decode("latin-1")
            if name == QRCODE and not text.isascii():
                text = _undo_zbar_charset_guess(text)
            norm = normalize_code(name, text)
            if norm is None:
                continue
            pts = np.array([(p.x, p.y) for p in r.polygon] or [(0, 0)], dtype=float)
            out.append(_Reading(norm[0], norm[1], _apply(inverse, pts), source))
        return out

    def _zxing(self, img: np.ndarray, formats: tuple, inverse: np.ndarray, source: str, *,
               rotate: bool, downscale: bool | None = None) -> list[_Reading]:
        if not formats or img.shape[0] < 2 or img.shape[1] < 2:
            return []
        out = []
        for b in zxingcpp.read_barcodes(np.ascontiguousarray(img), formats=formats, try_rotate=rotate,
                                        try_downscale=rotate if downscale is None else downscale,
                                        try_invert=False):
            name = _ZXING_NAMES.get(b.format)
            if name is None or not b.valid:
                continue
            norm = normalize_code(name, b.text)
            if norm is None:
                continue
            p = b.position
            pts = np.array([(p.top_left.x, p.top_left.y), (p.top_right.x, p.top_right.y),
                            (p.bottom_right.x, p.bottom_right.y), (p.bottom_left.x, p.bottom_left.y)], dtype=float)
            out.append(_Reading(norm[0], norm[1], _apply(inverse, pts), source))
        return out


# --------------------------------------------------------------------- helpers
def _zbar_scan(img: np.ndarray, symbols: list[ZBarSymbol], x_density: int, y_density: int) -> list:
    """pyzbar.decode with ZBar's scan densities exposed (pyzbar itself does not set them).

    ``x_density``/``y_density``: scan every n-th column / row, 0 to skip that direction.
    Uses pyzbar's ctypes bindings and its small helpers, as pyzbar.decode does.
    """
    gray = np.ascontiguousarray(img)
    height, width = gray.shape
    pixels = gray.tobytes()
    with _image_scanner() as scanner:
        zbar_image_scanner_set_config(scanner, 0, ZBarConfig.CFG_ENABLE, 0)  # 0: all symbologies
        for sym in symbols:
            zbar_image_scanner_set_config(scanner, sym, ZBarConfig.CFG_ENABLE, 1)
        zbar_image_scanner_set_config(scanner, 0, ZBarConfig.CFG_X_DENSITY, x_density)
        zbar_image_scanner_set_config(scanner, 0, ZBarConfig.CFG_Y_DENSITY, y_density)
        with _image() as zimg:
            zbar_image_set_format(zimg, _FOURCC["L800"])
            zbar_image_set_size(zimg, width, height)
            zbar_image_set_data(zimg, cast(pixels, c_void_p), len(pixels), None)
            if zbar_scan_image(scanner, zimg) < 0:
                return []
            return list(_decode_symbols(_symbols_for_image(zimg)))


def _undo_zbar_charset_guess(text: str) -> str:
    """ZBar guesses the charset of a QR code without ECI and often takes UTF-8 (how phones and
    our card printer write Vietnamese) for Shift-JIS or Latin-1. Undo the guess when the raw
    bytes turn out to be valid UTF-8; a correctly decoded text does not survive the round trip."""
    for enc, fix in (("shift_jis", {"¥": "\\", "‾": "~"}), ("latin-1", {})):
        raw = text
        for a, b in fix.items():
            raw = raw.replace(a, b)
        try:
            return raw.encode(enc).decode("utf-8")
        except UnicodeError:
            continue
    return text


def _apply(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    h = np.hstack([pts, np.ones((len(pts), 1))])
    return (h @ m.T)[:, :2]


# A 1-D crop longer than this has more than 5 px per module for any library code, and bars
# taller than this add no information: shrinking big crops saves decoder time.
_MAX_CROP_LENGTH = 720
_MAX_CROP_HEIGHT = 160


def _inside(point: tuple[float, float], region: Region) -> bool:
    """Is ``point`` within ``region``'s rotated rectangle?"""
    t = math.radians(region.angle)
    dx, dy = point[0] - region.center[0], point[1] - region.center[1]
    u = dx * math.cos(t) + dy * math.sin(t)
    v = -dx * math.sin(t) + dy * math.cos(t)
    return abs(u) <= region.size[0] / 2 and abs(v) <= region.size[1] / 2


def _thicken(poly: np.ndarray, fraction: float = 0.1) -> np.ndarray:
    """Both decoders outline a 1-D code by the scan lines they read: a sliver. Grow it across
    the bars by ``fraction`` of its length each side, so that ZBar's crop holds whole bars and
    readings of one code on different lines fall into one place."""
    (cx, cy), (w, h), angle = cv2.minAreaRect(poly.astype(np.float32))
    length = max(w, h)
    if length < 1 or min(w, h) >= 2 * fraction * length:
        return poly
    size = (w, h + 2 * fraction * length) if w >= h else (w + 2 * fraction * length, h)
    return cv2.boxPoints(((cx, cy), size, angle)).astype(float)


def _bbox(poly: np.ndarray) -> tuple[float, float, float, float]:
    (x0, y0), (x1, y1) = poly.min(axis=0), poly.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def _mean(poly: np.ndarray) -> tuple[float, float]:
    x, y = poly.mean(axis=0)
    return float(x), float(y)


def _in_box(point: tuple[float, float], box: tuple[float, float, float, float]) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def _union_box(readings: list[_Reading]) -> tuple[float, float, float, float]:
    boxes = np.array([r.bbox() for r in readings])
    return (float(boxes[:, 0].min()), float(boxes[:, 1].min()), float(boxes[:, 2].max()), float(boxes[:, 3].max()))


def _box_crop(gray: np.ndarray, box: tuple[float, float, float, float], margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned crop of ``box`` grown by ``margin`` of its size plus a quiet zone of 16 px;
    and the matrix mapping crop pixels back to frame pixels."""
    x0, y0, x1, y1 = box
    mx, my = (x1 - x0) * margin + 16, (y1 - y0) * margin + 16
    h, w = gray.shape
    a, b = int(max(0, x0 - mx)), int(max(0, y0 - my))
    c, d = int(min(w, x1 + mx + 1)), int(min(h, y1 + my + 1))
    return gray[b:d, a:c], np.array([[1, 0, a], [0, 1, b], [0, 0, 1]], dtype=float)


def _cut(gray: np.ndarray, region: Region) -> tuple[np.ndarray | None, np.ndarray]:
    """Crop ``region`` upright (bars vertical) with a quiet-zone margin, shrunk if large.

    Returns the crop and the 3x3 matrix mapping crop pixels back to frame pixels.
    """
    crop, inverse = _cut_upright(gray, region)
    if crop is None or region.kind != "1d":
        return crop, inverse
    h, w = crop.shape
    if w <= _MAX_CROP_LENGTH and h <= _MAX_CROP_HEIGHT:
        return crop, inverse
    size = (min(w, _MAX_CROP_LENGTH), min(h, _MAX_CROP_HEIGHT))
    small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    return small, inverse @ np.array([[w / size[0], 0, 0], [0, h / size[1], 0], [0, 0, 1]])


def _cut_upright(gray: np.ndarray, region: Region) -> tuple[np.ndarray | None, np.ndarray]:
    length, height = region.size
    if region.kind == "1d":
        # Quiet zone: ~10 modules each side; localisation also trims the outermost bars.
        length = length * 1.25 + 24
        height = height * 1.15 + 12
    else:
        length, height = length + 8, height + 8
    length, height = min(length, 2.0 * gray.shape[1]), min(height, 2.0 * gray.shape[0])
    cx, cy = region.center
    if abs(region.angle) < 3 or region.kind == "qr":
        x0, y0 = int(max(0, cx - length / 2)), int(max(0, cy - height / 2))
        x1, y1 = int(min(gray.shape[1], cx + length / 2)), int(min(gray.shape[0], cy + height / 2))
        if x1 - x0 < 8 or y1 - y0 < 4:
            return None, np.eye(3)
        return gray[y0:y1, x0:x1], np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], dtype=float)
    w, h = int(length), int(height)
    if w < 8 or h < 4:
        return None, np.eye(3)
    rot = cv2.getRotationMatrix2D((cx, cy), region.angle, 1.0)
    rot[0, 2] += w / 2 - cx
    rot[1, 2] += h / 2 - cy
    crop = cv2.warpAffine(gray, rot, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    full = np.vstack([rot, [0, 0, 1]])
    return crop, np.linalg.inv(full)


def _looks_like_bars(crop: np.ndarray) -> bool:
    """Cheap check that an upright crop has many dark/light alternations along its middle."""
    h, w = crop.shape
    band = crop[h * 2 // 5: max(h * 3 // 5, h * 2 // 5 + 1)].mean(axis=0)
    win = max(3, w // 12) | 1
    local = np.convolve(band, np.ones(win) / win, mode="same")
    signs = band[win:-win] > local[win:-win]
    return int(np.count_nonzero(signs[1:] != signs[:-1])) >= 16


def _otsu(gray: np.ndarray) -> np.ndarray:
    return cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[1]


def _sharpen(gray: np.ndarray, amount: float = 0.8) -> np.ndarray:
    blur = cv2.GaussianBlur(gray, (0, 0), 2.0)
    return cv2.addWeighted(gray, 1.0 + amount, blur, -amount, 0)


def _still_variants(gray: np.ndarray):
    """Whole-image variants for stills: (name, image, (x scale, y scale))."""
    h, w = gray.shape
    if h < 24:
        # A strip a few pixels high (a cropped scan line): give the decoders rows to work with.
        fy = 24 / h
        gray = cv2.resize(gray, (w, 24), interpolation=cv2.INTER_NEAREST)
        sy = fy
    else:
        sy = 1.0
    yield "full", gray, (1.0, sy)
    # Measured on the real photos, each of these passes decides at least one image or one
    # vote; 3x upscaling, Otsu, a slight blur and zxing's global-histogram binariser did not
    # and were dropped.
    if max(h, w) < 700:
        big = cv2.resize(gray, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC)
        yield "up2", big, (2.0, 2.0 * sy)
    yield "sharp", _sharpen(gray), (1.0, sy)
    if max(h, w) < 700:
        # Tightly cropped photos lack the quiet zone the decoders look for: add one, in white.
        white = int(np.percentile(gray, 95))
        padded = cv2.copyMakeBorder(gray, 0, 0, 24, 24, cv2.BORDER_CONSTANT, value=white)
        big = cv2.resize(padded, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC)
        yield "pad", big, (2.0, 2.0 * sy), (-24, 0)
        yield "padsharp", _sharpen(big, 3.0), (2.0, 2.0 * sy), (-24, 0)


def _fallback_variants(crop: np.ndarray):
    h, w = crop.shape
    f = 2.0 if w < 400 else 1.0
    base = cv2.resize(crop, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC) if f != 1.0 else crop
    yield "up", base, f
    yield "otsu", _otsu(base), f
    yield "sharp", _sharpen(base), f


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


def _groups(readings: list[_Reading]) -> list[list[_Reading]]:
    """Cluster readings whose outlines overlap: one cluster per physical code."""
    parent = list(range(len(readings)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    boxes = [r.bbox() for r in readings]
    for i in range(len(readings)):
        for j in range(i + 1, len(readings)):
            if _overlap(boxes[i], boxes[j]):
                parent[find(i)] = find(j)
    clusters: dict[int, list[_Reading]] = defaultdict(list)
    for i, r in enumerate(readings):
        clusters[find(i)].append(r)
    return list(clusters.values())


def _as_decoded(sym: str, text: str, members: list[_Reading]) -> Decoded:
    same = [m for m in members if m.text == text]
    pts = np.vstack([m.polygon for m in same])
    hull = cv2.convexHull(pts.astype(np.float32)).reshape(-1, 2)
    agreed = len({_family(m.source) for m in same}) == 2
    return Decoded(sym, text, tuple((int(round(x)), int(round(y))) for x, y in hull), agreed)


def _family(source: str) -> str:
    return source.rsplit(":", 1)[-1]


def _prefer_zxing(group: list[_Reading]) -> list[_Reading]:
    """ZBar ignores Code 128 FNC4 (Latin-1) and Code 39 full ASCII and guesses QR charsets;
    zxing-cpp implements all three. Where both read such a code at one spot and differ, ZBar's
    text is the misreading.
    """
    zx = {(r.symbology, r.text) for r in group
          if r.symbology in (CODE128, CODE39, QRCODE) and _family(r.source) == "zx"}
    spec = {sym for sym, _ in zx}
    return [r for r in group
            if not (r.symbology in spec and _family(r.source) == "zbar" and (r.symbology, r.text) not in zx)]


def _vote(readings: list[_Reading]) -> list[Decoded]:
    """Pick, for each physical code, the text the passes agree on, or nothing.

    Measured on the real photos: a misread is almost always produced by one decoder only,
    and rarely by more than two passes. So a text read by both ZBar and zxing wins (unless two
    texts are); a text read by one decoder needs at least three passes and more than twice the
    passes of any rival.
    """
    out: list[Decoded] = []
    for group in _groups(readings):
        group = _prefer_zxing(group)
        votes: dict[tuple[str, str], set[str]] = defaultdict(set)
        for r in group:
            votes[(r.symbology, r.text)].add(r.source)
        both = [k for k, srcs in votes.items() if len({_family(s) for s in srcs}) == 2]
        if len(both) == 1:
            out.append(_as_decoded(*both[0], group))
            continue
        if both:
            continue
        ranked = sorted(votes.items(), key=lambda kv: -len(kv[1]))
        (sym, text), srcs = ranked[0]
        runner_up = len(ranked[1][1]) if len(ranked) > 1 else 0
        if len(srcs) >= 3 and len(srcs) > 2 * runner_up:
            out.append(_as_decoded(sym, text, group))
    return out


_default: Decoder | None = None


def decode_image(img: np.ndarray, *, still: bool) -> list[Decoded]:
    """Decode ``img`` with the default library configuration (see :class:`Decoder`)."""
    global _default
    if _default is None:
        _default = Decoder()
    return _default.decode(img, still=still)
