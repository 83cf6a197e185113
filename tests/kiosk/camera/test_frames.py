"""POST /api/scan/frame: the tablet camera's frames, decoded by the real pipeline in a real worker
process, confirmed per tablet; anything bad gets a 4xx JSON answer in the user's language."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.app import create_app
from tests.kiosk.camera.conftest import footage


@pytest.fixture(scope="module")
def tablet_app(tmp_path_factory):
    from kiosk.db import db
    from kiosk.store import open_store

    data = tmp_path_factory.mktemp("tablet") / "data"
    open_store(data, upgrade=True)
    db.close()
    app = create_app({"DATA_DIR": str(data), "TESTING": True, "CAMERA": "browser"})
    runtime = app.extensions["camera"]
    deadline = time.monotonic() + 60
    while runtime.worker is None and time.monotonic() < deadline:  # the worker process starting
        time.sleep(0.05)
    assert runtime.worker is not None
    yield app
    runtime.close()


@pytest.fixture
def client(tablet_app):
    return tablet_app.test_client()


def jpeg(frame: np.ndarray, quality: int = 80) -> bytes:
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def post(client, body: bytes, who: str, content_type: str = "image/jpeg", lang: str | None = None):
    url = "/api/scan/frame" + (f"?lang={lang}" if lang else "")
    return client.post(url, data=body, content_type=content_type, headers={"X-Camera-Client": who})


LABEL_FRAMES = footage([("TN-0001", 6)], seed=3)
EMPTY_FRAME = footage([(None, 1)], seed=4)[0]


def test_a_code_held_in_front_of_the_tablet_scans_once(client) -> None:
    scans, seen = [], 0
    for frame in LABEL_FRAMES:
        answer = post(client, jpeg(frame), "tablet-a")
        assert answer.status_code == 200, answer.json
        seen += bool(answer.json["codes"])
        scans += [s["code"] for s in answer.json["scans"]]
        assert answer.json["width"] == 640
        time.sleep(0.12)  # the page's pace (well under the rate limit)
    assert seen >= 4, "the label should be decoded in most frames"
    assert scans == ["TN-0001"]
    # The outline is in the frame's pixels, around the middle where the label was held.
    polygon = np.array(answer.json["codes"][0]["polygon"])
    assert 200 < polygon[:, 0].mean() < 440 and 140 < polygon[:, 1].mean() < 340


def test_each_tablet_has_its_own_confirmation(client) -> None:
    # Another tablet showing the same label gets its own scan: it is another student's screen.
    scans = []
    for frame in LABEL_FRAMES[:3]:
        scans += post(client, jpeg(frame), "tablet-b").json["scans"]
        time.sleep(0.12)
    assert [s["code"] for s in scans] == ["TN-0001"]


def test_a_frame_without_a_code_decodes_to_nothing(client) -> None:
    answer = post(client, jpeg(EMPTY_FRAME), "tablet-c")
    assert answer.status_code == 200
    assert answer.json["scans"] == [] and answer.json["codes"] == []


def error_of(answer, status: int) -> dict:
    assert answer.status_code == status, (answer.status_code, answer.data[:200])
    assert answer.is_json
    error = answer.json["error"]
    assert error["message"] and "Traceback" not in error["message"]
    return error


def test_a_body_that_is_not_an_image(client) -> None:
    error = error_of(post(client, b"hello, this is not a picture" * 10, "bad-1"), 400)
    assert error["code"] == "frame_unreadable"
    assert error["message"].startswith("Không đọc được")  # Vietnamese by default


def test_a_truncated_jpeg(client) -> None:
    whole = jpeg(LABEL_FRAMES[0])
    for cut in (len(whole) // 2, len(whole) - 40, 200, 3):
        assert error_of(post(client, whole[:cut], "bad-2"), 400)["code"] == "frame_unreadable"
        time.sleep(0.11)


def test_a_jpeg_with_garbage_inside_is_refused_or_read_never_a_500(client) -> None:
    whole = bytearray(jpeg(LABEL_FRAMES[0]))
    rng = np.random.default_rng(1)
    for _ in range(8):
        broken = bytearray(whole)
        for i in rng.integers(20, len(broken) - 2, 30):
            broken[i] = int(rng.integers(0, 256))
        answer = post(client, bytes(broken), f"fuzz-{_}")
        assert answer.status_code in (200, 400), answer.data[:200]
        assert answer.is_json


def test_a_huge_upload(client) -> None:
    noise = np.random.default_rng(2).integers(0, 256, (960, 1280, 3), dtype=np.uint8)
    big = jpeg(noise, quality=100)
    assert len(big) > 400 * 1024
    error = error_of(post(client, big, "big-1", lang="en"), 413)
    assert error["code"] == "frame_too_large"
    assert "too large" in error["message"]
    # Declared larger than the server's own upload limit: refused before it is read.
    assert error_of(post(client, b"\xff\xd8\xff" + b"\0" * (3 * 1024 * 1024), "big-2"), 413)


def test_a_small_file_claiming_a_huge_picture(client) -> None:
    # 6000x4000 of flat grey compresses to a few kB; decoding it would take 24 MP of memory.
    flat = np.full((4000, 6000), 128, np.uint8)
    small = jpeg(flat, quality=10)
    assert len(small) < 400 * 1024
    assert error_of(post(client, small, "big-3"), 413)["code"] == "frame_too_large"


def declaring(data: bytes, width: int, height: int) -> bytes:
    """The same JPEG with its frame header (SOF0) claiming another size: a few bytes changed."""
    at = data.index(b"\xff\xc0")
    return data[:at + 5] + height.to_bytes(2, "big") + width.to_bytes(2, "big") + data[at + 9:]


@pytest.mark.parametrize("size", [(30000, 30000), (65535, 65535), (20000, 9000)])
def test_a_tiny_jpeg_declaring_a_giant_picture_is_refused_not_a_500(client, size) -> None:
    # Above twice Pillow's MAX_IMAGE_PIXELS, opening the header alone raises DecompressionBombError.
    small = declaring(jpeg(np.full((16, 16), 128, np.uint8)), *size)
    error = error_of(post(client, small, f"bomb-{size[0]}", lang="vi"), 413)
    assert error["code"] == "frame_too_large"


@pytest.mark.parametrize("content_type", ["application/json", "image/png", "text/plain",
                                          "multipart/form-data; boundary=x", ""])
def test_wrong_content_type(client, content_type: str) -> None:
    body = jpeg(EMPTY_FRAME) if content_type != "image/png" else cv2.imencode(".png", EMPTY_FRAME)[1].tobytes()
    error = error_of(post(client, body, "type", content_type=content_type), 415)
    assert error["code"] == "frame_not_jpeg"


def test_too_many_frames_a_second(client) -> None:
    tiny = jpeg(cv2.resize(EMPTY_FRAME, (32, 24)), quality=50)  # cheap to decode: only the limit counts
    started = time.monotonic()
    statuses = [post(client, tiny, "flood").status_code for _ in range(40)]
    elapsed = time.monotonic() - started
    assert set(statuses) <= {200, 429}
    assert statuses[:5] == [200] * 5  # an ordinary tablet is never refused
    # A bucket of 10 frames refilled at 10 a second: never more accepted than that.
    assert statuses.count(200) <= 10 + 10 * elapsed + 1, (elapsed, statuses)
    if elapsed < 2.0:  # sent much faster than 10 a second (i.e. unless the machine is crawling)
        assert statuses.count(429) >= 10, (elapsed, statuses)
    # Another tablet is not punished for it, and the flood recovers.
    assert post(client, tiny, "calm").status_code == 200
    time.sleep(1.1)
    assert post(client, tiny, "flood").status_code == 200


def test_one_frame_at_a_time_per_tablet(client) -> None:
    import threading

    body = jpeg(LABEL_FRAMES[0])
    gate = threading.Barrier(6)
    statuses: list[int] = []
    refusals: list[dict] = []

    def send() -> None:
        gate.wait()
        answer = post(client, body, "impatient")
        statuses.append(answer.status_code)
        if answer.status_code == 429:
            refusals.append(answer.json["error"])

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(set(statuses)) == [200, 429], statuses
    assert {r["code"] for r in refusals} == {"too_many_frames"}
    assert all(r["message"] == "Gửi quá nhiều ảnh camera cùng lúc. Vui lòng gửi chậm lại." for r in refusals)


def test_frames_are_refused_when_the_kiosk_has_no_tablet_camera(tmp_path: Path, data_dir) -> None:
    app = create_app({"DATA_DIR": str(data_dir), "TESTING": True})
    client = app.test_client()
    error = error_of(post(client, jpeg(EMPTY_FRAME), "x"), 404)
    assert error["code"] == "camera_off"
    assert error_of(client.get("/api/scan/events"), 404)["code"] == "camera_off"
    assert client.get("/healthz").json["camera"] is None
    assert b"camera-box" not in client.get("/borrow").data
