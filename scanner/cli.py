"""Command-line tools: ``muontra scan-image`` and ``muontra scan-camera``.

Both are plain click commands; the kiosk's ``muontra`` group registers them. Messages are in
Vietnamese unless ``MUONTRA_LANG`` (or ``LANG``) starts with ``en``.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

import click

from .confirm import Scan, ScanConfirmer
from .decode import Decoder
from .images import UnreadableImage, load_image
from .service import Scanner
from .sources import CameraSource, FrameSource, SourceStatus, VideoFileSource

_MESSAGES = {
    "unreadable": ("Lỗi: không đọc được ảnh {path}: {reason}", "Error: cannot read image {path}: {reason}"),
    "not_image": ("không phải tệp ảnh hợp lệ", "not a valid image file"),
    "missing": ("tệp không tồn tại", "no such file"),
    "denied": ("không có quyền đọc", "permission denied"),
    "is_dir": ("đây là thư mục", "is a directory"),
    "status": ("Camera {device}: {status}", "Camera {device}: {status}"),
    "waiting": ("Đang chờ mã vạch... (Ctrl+C để dừng)", "Waiting for barcodes... (Ctrl+C to stop)"),
    "bad_roi": ("--roi cần 4 số từ 0 đến 1: x,y,rộng,cao", "--roi needs 4 numbers in 0..1: x,y,width,height"),
}
_STATUS_VI = {
    SourceStatus.OK: "đang hoạt động",
    SourceStatus.MISSING: "không tìm thấy",
    SourceStatus.BUSY: "đang bị chương trình khác dùng",
    SourceStatus.RECONNECTING: "mất kết nối, đang kết nối lại",
    SourceStatus.ENDED: "hết video",
}


def _english() -> bool:
    lang = os.environ.get("MUONTRA_LANG") or os.environ.get("LANG", "")
    return lang.lower().startswith("en")


def _msg(key: str, **kw: object) -> str:
    vi, en = _MESSAGES[key]
    return (en if _english() else vi).format(**kw)


def _status_text(status: SourceStatus) -> str:
    return status.value if _english() else _STATUS_VI[status]


def escape_text(text: str) -> str:
    """Escape backslash, newline and tab so one code stays on one tab-separated line."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


@click.command("scan-image")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def scan_image(paths: tuple[Path, ...]) -> None:
    """Decode barcodes in image files: one line PATH<TAB>SYMBOLOGY<TAB>TEXT per code.

    Đọc mã vạch trong các tệp ảnh. Ảnh không có mã: không in gì. Mã thoát 1 nếu có tệp không
    đọc được.
    """
    decoder = Decoder()
    failed = False
    for path in paths:
        try:
            img = load_image(path)
        except (OSError, UnreadableImage) as e:
            reason = _reason(e)
            click.echo(_msg("unreadable", path=path, reason=reason), err=True)
            failed = True
            continue
        for code in decoder.decode(img, still=True):
            click.echo(f"{path}\t{code.symbology}\t{escape_text(code.text)}")
    sys.exit(1 if failed else 0)


def _reason(e: Exception) -> str:
    if isinstance(e, FileNotFoundError):
        return _msg("missing")
    if isinstance(e, PermissionError):
        return _msg("denied")
    if isinstance(e, IsADirectoryError):
        return _msg("is_dir")
    if isinstance(e, OSError):
        return e.strerror or str(e)
    return _msg("not_image")


def _parse_roi(value: str | None) -> tuple[float, float, float, float] | None:
    if not value:
        return None
    try:
        x, y, w, h = (float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(_msg("bad_roi")) from None
    return x, y, w, h


@click.command("scan-camera")
@click.option("--device", "-d", default="0", show_default=True,
              help="Camera index, device path (/dev/video2) or a video file to replay.")
@click.option("--width", default=640, show_default=True)
@click.option("--height", default=480, show_default=True)
@click.option("--fps", default=30, show_default=True)
@click.option("--mirror", is_flag=True, help="Flip the image horizontally.")
@click.option("--roi", default=None, help="Region of interest as fractions: x,y,width,height.")
@click.option("--cooldown", default=2.0, show_default=True, help="Seconds before the same code scans again.")
@click.option("--duration", default=0.0, help="Stop after this many seconds (0: until Ctrl+C).")
def scan_camera(device: str, width: int, height: int, fps: int, mirror: bool, roi: str | None,
                cooldown: float, duration: float) -> None:
    """Print confirmed scans from a camera live (SYMBOLOGY<TAB>TEXT), to set a camera up.

    In mã vạch quét được từ camera, để chỉnh camera.
    """
    area = _parse_roi(roi)
    source: FrameSource
    if Path(device).is_file():
        source = VideoFileSource(device, mirror=mirror, roi=area)
    else:
        dev: int | str = int(device) if device.isdigit() else device
        source = CameraSource(dev, width=width, height=height, fps=fps, mirror=mirror, roi=area)
    done = threading.Event()

    def on_scan(scan: Scan) -> None:
        click.echo(f"{scan.symbology}\t{escape_text(scan.text)}")

    scanner = Scanner(source, on_scan, confirmer=ScanConfirmer(cooldown=cooldown))
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: done.set())
    click.echo(_msg("waiting"), err=True)
    scanner.start()
    last_status = None
    deadline = duration if duration > 0 else None
    waited = 0.0
    try:
        while not done.is_set() and scanner.running:
            if source.status != last_status:
                last_status = source.status
                click.echo(_msg("status", device=device, status=_status_text(last_status)), err=True)
            done.wait(0.2)
            waited += 0.2
            if deadline is not None and waited >= deadline:
                break
    finally:
        scanner.stop()
        source.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
