"""The camera's web side: scan events, the live preview, and frames from a tablet's camera."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask_babel import gettext as _

from ..camera import BROWSER, OFF, CameraOff, CameraRuntime, CameraSettings, FrameTooLarge, require_jpeg

bp = Blueprint("camera", __name__)


def _runtime() -> CameraRuntime:
    runtime = current_app.extensions.get("camera")
    if runtime is None:
        raise CameraOff()
    return runtime


@bp.app_context_processor
def _camera_page() -> dict[str, Any]:
    """What base.html needs to put the camera on a page (nothing when it is off)."""
    settings: CameraSettings = current_app.extensions["camera_settings"]
    if settings.mode == OFF:
        return {"camera": None}
    return {"camera": {
        "mode": settings.mode,
        "events": "/api/scan/events",
        "preview": "/camera/preview.mjpg" if settings.mode != BROWSER else None,
        "frames": "/api/scan/frame" if settings.mode == BROWSER else None,
        "fps": settings.browser_fps,
        "lang": getattr(g, "lang", None),
        "words": {
            "guide": _("Hold the barcode here"),
            "ok": _("Camera ready"),
            "starting": _("Camera starting…"),
            "missing": _("No camera: use the scanner"),
            "busy": _("Camera in use by another program"),
            "reconnecting": _("Camera reconnecting…"),
            "ended": _("Camera video finished"),
            "failed": _("Camera reader failed: use the scanner"),
            "insecure": _("The tablet camera needs https:// (see the guide)"),
            "denied": _("Camera permission was refused"),
            "slow": _("Camera paused: the kiosk is busy"),
        },
    }}


@bp.get("/api/scan/events")
def events():
    runtime = _runtime()
    return Response(runtime.events(), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@bp.get("/camera/preview.mjpg")
def preview():
    parts = _runtime().preview()
    return Response(parts, mimetype="multipart/x-mixed-replace; boundary=frame",
                    headers={"Cache-Control": "no-cache, no-store", "X-Accel-Buffering": "no"})


@bp.post("/api/scan/frame")
def frame():
    runtime = _runtime()
    require_jpeg(request.content_type or "")
    limit = runtime.settings.frame_max_bytes
    if (request.content_length or 0) > limit:
        raise FrameTooLarge()
    data = request.stream.read(limit + 1)
    # The tablet names itself per page load; behind one reverse proxy every tablet shares an address.
    client = f"{request.remote_addr}/{request.headers.get('X-Camera-Client', '')[:64]}"
    return jsonify(runtime.tablet_frame(client, data, request.content_type or ""))
