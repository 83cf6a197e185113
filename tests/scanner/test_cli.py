"""`muontra scan-image` and `muontra scan-camera` as the user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
from click.testing import CliRunner

from scanner.cli import scan_camera, scan_image
from tests.conftest import ROOT
from tests.scanner.conftest import (
    Effects,
    H,
    W,
    background,
    finish,
    paste,
    quad_at,
    render_1d,
    render_qr,
    write_video,
)


def _write(path: Path, items: list[np.ndarray], seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    bg = background(rng)
    for i, item in enumerate(items):
        paste(bg, item, quad_at(item, W * (i + 1) / (len(items) + 1), H / 2, scale=0.8))
    cv2.imwrite(str(path), finish(bg, Effects(), rng))
    return path


def test_scan_image_prints_escaped_lines_and_nothing_for_empty_images(tmp_path: Path) -> None:
    tricky = "Tên: An\tLớp 6A1\nC:\\thu-vien"
    qr = _write(tmp_path / "card.png", [render_qr(tricky, module_px=4)])
    label = _write(tmp_path / "label.png", [render_1d("code128", "SGK-000123", module_px=2)])
    empty = _write(tmp_path / "empty.png", [])
    result = CliRunner().invoke(scan_image, [str(qr), str(empty), str(label)])
    assert result.exit_code == 0, result.output
    assert result.stdout.split("\n") == [
        f"{qr}\tQRCODE\tTên: An\\tLớp 6A1\\nC:\\\\thu-vien",
        f"{label}\tCODE128\tSGK-000123",
        "",
    ]


def test_scan_image_reports_unreadable_files_and_exits_1(tmp_path: Path) -> None:
    label = _write(tmp_path / "label.png", [render_1d("code128", "SGK-7", module_px=2)])
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 truncated")
    missing = tmp_path / "missing.png"
    result = CliRunner().invoke(scan_image, [str(broken), str(label), str(missing)])
    assert result.exit_code == 1
    assert result.stdout == f"{label}\tCODE128\tSGK-7\n"  # readable files are still decoded
    assert str(broken) in result.stderr and str(missing) in result.stderr
    assert "Traceback" not in result.stderr


def test_scan_image_english_messages(tmp_path: Path) -> None:
    result = CliRunner(env={"MUONTRA_LANG": "en"}).invoke(scan_image, [str(tmp_path / "x.png")])
    assert result.exit_code == 1
    assert "cannot read image" in result.stderr


def test_scan_image_in_a_real_process(tmp_path: Path) -> None:
    label = _write(tmp_path / "label.webp", [render_1d("code128", "STK-0042", module_px=2)])
    code = "import sys; from scanner.cli import scan_image; scan_image(sys.argv[1:])"
    proc = subprocess.run([sys.executable, "-c", code, str(label)], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{label}\tCODE128\tSTK-0042\n"


def test_scan_camera_prints_confirmed_scans(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    label = render_1d("code128", "SGK-000777", module_px=2)
    frames = []
    for i in range(20):
        bg = background(rng)
        if 4 <= i < 16:  # shown for 12 frames: one scan, not twelve
            paste(bg, label, quad_at(label, W / 2 + rng.normal(0, 2), H / 2, angle=3))
        frames.append(finish(bg, Effects(), rng))
    video = write_video(tmp_path / "cam.avi", frames)
    result = CliRunner().invoke(scan_camera, ["--device", str(video), "--duration", "60"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "CODE128\tSGK-000777\n"
