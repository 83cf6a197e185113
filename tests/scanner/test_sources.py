"""Frame sources: missing cameras, recordings, folders, pushed frames, ROI and mirroring."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from scanner import (
    CameraSource,
    ImageFolderSource,
    PushedFrameSource,
    Scanner,
    SourceStatus,
    UnreadableImage,
    VideoFileSource,
    decode_image,
)
from tests.scanner.conftest import Effects, H, W, background, finish, paste, quad_at, render_1d, write_video


def frame_with_label(text: str, cx: float = W / 2, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    bg = background(rng)
    label = render_1d("code128", text, module_px=2)
    paste(bg, label, quad_at(label, cx, H / 2, scale=0.8))
    return finish(bg, Effects(), rng)


def test_missing_camera_is_a_status_not_an_error() -> None:
    cam = CameraSource("/dev/video-muontra-test-missing", retry_interval=0.0)
    assert cam.read() is None
    assert cam.status == SourceStatus.MISSING
    assert cam.read() is None  # retried, still missing, still no exception
    cam.close()


def test_a_video_file_given_as_camera_device_plays_and_then_reconnects(tmp_path: Path) -> None:
    # cv2.VideoCapture opens files too; at the end a camera source reports a lost device.
    video = write_video(tmp_path / "cam.avi", [frame_with_label("SGK-1")] * 3)
    cam = CameraSource(str(video), retry_interval=60.0)
    frames = [cam.read() for _ in range(4)]
    assert all(f is not None for f in frames[:3]) and frames[3] is None
    assert cam.status == SourceStatus.RECONNECTING


def test_video_file_timestamps_and_end(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.avi", [frame_with_label("SGK-1", seed=i) for i in range(5)], fps=10.0)
    src = VideoFileSource(video)
    stamps = []
    while (f := src.read()) is not None:
        assert f.shape == (H, W, 3)
        stamps.append(src.timestamp)
    assert stamps == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    assert src.status == SourceStatus.ENDED


def test_video_file_loop_keeps_time_increasing(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.avi", [frame_with_label("SGK-1")] * 3, fps=10.0)
    src = VideoFileSource(video, loop=True)
    stamps = []
    for _ in range(7):
        assert src.read() is not None
        stamps.append(src.timestamp)
    assert stamps == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6])


def test_missing_video_file(tmp_path: Path) -> None:
    src = VideoFileSource(tmp_path / "nope.avi")
    assert src.read() is None and src.status == SourceStatus.MISSING


def test_image_folder_repeats_and_skips_unreadable(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), frame_with_label("SGK-A"))
    (tmp_path / "b.png").write_bytes(b"not a png")
    cv2.imwrite(str(tmp_path / "c.jpg"), frame_with_label("SGK-C"))
    src = ImageFolderSource(tmp_path, repeat=2, fps=4.0)
    texts, stamps = [], []
    while (f := src.read()) is not None:
        texts.append([d.text for d in decode_image(f, still=False)])
        stamps.append(src.timestamp)
    assert texts == [["SGK-A"], ["SGK-A"], ["SGK-C"], ["SGK-C"]]
    assert stamps == [0.0, 0.25, 1.0, 1.25]
    assert src.status == SourceStatus.ENDED


def test_roi_limits_what_is_seen(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.avi", [frame_with_label("SGK-LEFT", cx=180)])
    left = VideoFileSource(video, roi=(0.0, 0.0, 0.6, 1.0)).read()
    right = VideoFileSource(video, roi=(0.6, 0.0, 0.4, 1.0)).read()
    assert left.shape[:2] == (H, round(0.6 * W))
    assert [d.text for d in decode_image(left, still=False)] == ["SGK-LEFT"]
    assert decode_image(right, still=False) == []


def test_mirror_flips_horizontally(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.avi", [frame_with_label("SGK-1")])
    plain = VideoFileSource(video).read()
    mirrored = VideoFileSource(video, mirror=True).read()
    assert np.array_equal(mirrored, plain[:, ::-1])


def test_invalid_roi_is_refused() -> None:
    with pytest.raises(ValueError):
        PushedFrameSource(roi=(0.5, 0.0, 0.8, 1.0))


def test_pushed_jpeg_frames_newest_wins() -> None:
    src = PushedFrameSource()
    assert src.status == SourceStatus.MISSING and src.read(timeout=0.01) is None
    ok, first = cv2.imencode(".jpg", frame_with_label("SGK-OLD"))
    ok2, second = cv2.imencode(".jpg", frame_with_label("SGK-NEW"))
    assert ok and ok2
    src.push(first.tobytes())
    src.push(second.tobytes())
    assert src.status == SourceStatus.OK
    frame = src.read()
    assert [d.text for d in decode_image(frame, still=False)] == ["SGK-NEW"]
    assert src.read(timeout=0.01) is None  # the older frame was dropped, not queued


def test_pushed_garbage_and_huge_frames_are_refused() -> None:
    src = PushedFrameSource(max_pixels=320 * 240)
    with pytest.raises(UnreadableImage):
        src.push(b"\xff\xd8 definitely not a jpeg")
    with pytest.raises(ValueError):
        src.push(np.zeros((480, 640), np.uint8))
    assert src.read(timeout=0.01) is None


def test_frames_pushed_by_a_tablet_become_one_scan() -> None:
    src = PushedFrameSource()
    scans = []
    scanner = Scanner(src, scans.append).start()
    try:
        for seed in range(6):  # a tablet posting a JPEG every 100 ms while the code is shown
            ok, jpeg = cv2.imencode(".jpg", frame_with_label("SGK-TAB", seed=seed), [cv2.IMWRITE_JPEG_QUALITY, 80])
            assert ok
            src.push(jpeg.tobytes())
            time.sleep(0.1)
        deadline = time.monotonic() + 10
        while scanner.frames < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        scanner.stop()
        src.close()
    assert [s.text for s in scans] == ["SGK-TAB"]
    assert scanner.latest() is not None and scanner.latest().decoded[0].text == "SGK-TAB"
