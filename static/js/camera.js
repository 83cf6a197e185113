/* Mượn Trả: the camera as a barcode scanner.
 *
 * A camera scan goes through window.muontra.handleScan(code, "camera"), exactly like a USB
 * scanner's, so every flow and the double-scan suppression apply unchanged.
 *
 * Two ways in:
 *  - the kiosk's own camera (USB webcam on the Pi): the server decodes and confirms; this page
 *    listens to /api/scan/events (Server-Sent Events) and shows /camera/preview.mjpg;
 *  - the tablet's camera ("browser"): getUserMedia, a downscaled JPEG posted to /api/scan/frame
 *    at a bounded rate, one at a time; the answer carries the confirmed scans for this page.
 * Without a camera (missing, unplugged, busy, refused) the page keeps working with USB scanners
 * and only a small status says so; the camera comes back on its own.
 */
(function () {
  "use strict";

  const muontra = window.muontra;
  const config = document.getElementById("muontra-camera");
  const box = document.querySelector(".camera-box");
  if (!config || !box || !muontra || !muontra.handleScan) return; // a page without scanning
  const C = JSON.parse(config.textContent);
  const W = C.words;
  const feed = box.querySelector(".camera-feed");
  const marks = box.querySelector(".camera-marks");
  const statusText = box.querySelector("[data-camera=status]");
  const camera = (muontra.camera = {mode: C.mode, status: "starting", scans: [], frames: 0, errors: []});

  function setStatus(status) {
    if (camera.status === status) return;
    camera.status = status;
    box.dataset.status = status;
    statusText.textContent = W[status] || status;
    box.title = statusText.textContent; // the whole words when the top bar cuts them short
    document.body.classList.toggle("camera-live", status === "ok");
  }

  // A short high blip, like a hand scanner's own beep; the kiosk then sounds the result.
  let audio = null;
  function blip() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      const t0 = audio.currentTime + 0.005;
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = 2400;
      gain.gain.setValueAtTime(0.0001, t0);
      gain.gain.exponentialRampToValueAtTime(0.2, t0 + 0.01);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.09);
      osc.connect(gain).connect(audio.destination);
      osc.start(t0);
      osc.stop(t0 + 0.1);
    } catch (error) {
      // No audio: the green flash still tells.
    }
  }

  function flash() {
    box.classList.remove("flash");
    void box.offsetWidth; // restart the animation for a second scan in a row
    box.classList.add("flash");
    blip();
  }

  function deliver(code) {
    camera.scans.push(code);
    if (muontra.handleScan(code, "camera")) flash();
  }

  function outline(codes, width, height) {
    const ctx = marks.getContext("2d");
    marks.width = width;
    marks.height = height;
    ctx.clearRect(0, 0, width, height);
    ctx.strokeStyle = "#28c83c";
    ctx.lineWidth = Math.max(3, width / 160);
    for (const code of codes) {
      if (code.polygon.length < 2) continue;
      ctx.beginPath();
      code.polygon.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
      ctx.closePath();
      ctx.stroke();
    }
  }

  box.hidden = false;
  box.dataset.status = "starting";

  // ------------------------------------------------------------ the kiosk's own camera

  function showPreview() {
    // The server ends a preview when its camera stops; a fresh URL starts a new one.
    feed.src = `${C.preview}?t=${Date.now()}`;
  }

  function listen() {
    const events = new EventSource(C.events);
    events.addEventListener("status", (event) => {
      const data = JSON.parse(event.data);
      const wasLive = camera.status === "ok";
      setStatus(data.status);
      if (data.status === "ok" && !wasLive) showPreview();
    });
    events.addEventListener("scan", (event) => {
      const data = JSON.parse(event.data);
      camera.last = Object.assign({received_at: performance.timeOrigin + performance.now()}, data);
      deliver(data.code);
    });
    // EventSource reconnects by itself; the server's first event then restores the status.
    events.addEventListener("error", () => setStatus("reconnecting"));
    events.addEventListener("open", () => {
      camera.connected = true;
    });
    window.addEventListener("pagehide", () => events.close());
  }

  // ------------------------------------------------------------ the tablet's camera

  const clientId = Math.random().toString(36).slice(2) + Date.now().toString(36);
  const canvas = document.createElement("canvas");
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  let stream = null;

  async function openTabletCamera() {
    if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      setStatus("insecure"); // browsers allow cameras only on https:// or localhost
      return false;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: {facingMode: "environment", width: {ideal: 640}, height: {ideal: 480}},
      });
    } catch (error) {
      setStatus(error && error.name === "NotAllowedError" ? "denied" : "missing");
      return false;
    }
    feed.srcObject = stream;
    await feed.play().catch(() => undefined);
    stream.getVideoTracks().forEach((track) => track.addEventListener("ended", () => {
      stream = null;
      setStatus("reconnecting");
    }));
    return true;
  }

  async function sendFrame() {
    const width = Math.min(640, feed.videoWidth);
    const height = Math.round((feed.videoHeight * width) / feed.videoWidth);
    canvas.width = width;
    canvas.height = height;
    canvas.getContext("2d").drawImage(feed, 0, 0, width, height);
    const jpeg = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.8));
    if (!jpeg) return 0;
    const response = await fetch(C.frames, {
      method: "POST",
      headers: {"Content-Type": "image/jpeg", "X-Camera-Client": clientId},
      body: jpeg,
      credentials: "same-origin",
    });
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const code = data && data.error ? data.error.code : `http_${response.status}`;
      camera.errors.push(code);
      setStatus(code === "camera_starting" ? "starting" : "slow");
      return 1000; // starting, busy or too fast: back off, the USB scanner keeps working meanwhile
    }
    camera.frames += 1;
    setStatus("ok");
    outline(data.codes, data.width, data.height);
    data.scans.forEach((scan) => deliver(scan.code));
    return 0;
  }

  async function runTablet() {
    const interval = 1000 / C.fps;
    for (;;) {
      if (!stream && !(await openTabletCamera())) {
        if (camera.status === "insecure" || camera.status === "denied") return;
        await sleep(3000); // no camera (yet): try again, it may be plugged in
        continue;
      }
      const started = performance.now();
      let backoff = 0;
      if (!document.hidden && feed.videoWidth) {
        try {
          backoff = await sendFrame();
        } catch (error) {
          setStatus("reconnecting"); // the kiosk did not answer; try again shortly
          backoff = 1000;
        }
      }
      await sleep(Math.max(0, interval - (performance.now() - started)) + backoff);
    }
  }

  if (C.mode === "browser") {
    runTablet();
  } else {
    listen();
  }
})();
