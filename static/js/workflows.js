/* Mượn Trả staff pages: helper sign-in, batch mode, shelving, stock-take, intake.
 *
 * Every scan arrives through window.muontra.onScan (static/js/scan.js), posts the
 * code as JSON to the page's data-scan-url, and the answer is drawn here. A result
 * that needs the helper to stop (a book from another batch, an unknown code) is red,
 * large, and sounds two low beeps; an ordinary one is green with one high beep.
 */
(function () {
  "use strict";

  const body = document.body;
  const page = body.dataset.page;
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  let audio = null;

  function beep(kind) {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      const tones = kind === "stop" ? [[220, 0], [220, 0.22]] : kind === "warn" ? [[440, 0]] : [[880, 0]];
      tones.forEach(([freq, at]) => {
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.frequency.value = freq;
        gain.gain.value = 0.15;
        osc.connect(gain).connect(audio.destination);
        osc.start(audio.currentTime + at);
        osc.stop(audio.currentTime + at + 0.15);
      });
    } catch (e) { /* no sound card: the colours still say it */ }
  }

  async function post(url, payload) {
    const response = await fetch(url, {
      method: "POST",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "application/json"},
      body: JSON.stringify(payload),
      credentials: "same-origin",
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    if (!response.ok) {
      const message = (data.error && data.error.message) || response.statusText;
      throw Object.assign(new Error(message), {code: data.error && data.error.code, status: response.status});
    }
    return data;
  }

  function show(kind, text) {
    const box = document.querySelector(".result");
    if (!box) return;
    box.hidden = false;
    box.className = box.className.replace(/\b(ok|warn|stop)\b/g, "").trim() + " " + kind;
    box.dataset.kind = kind;
    box.textContent = text;
    beep(kind);
  }

  function setCount(name, value) {
    document.querySelectorAll('[data-count="' + name + '"]').forEach((el) => { el.textContent = value; });
  }

  function drawMissing(batch) {
    const list = document.getElementById("missing");
    if (!list) return;
    const onLoan = (document.getElementById("on-loan-word") || {}).innerHTML || "on loan";
    list.replaceChildren(...batch.missing.map((item) => {
      const li = document.createElement("li");
      li.dataset.code = item.code;
      const strong = document.createElement("strong");
      strong.textContent = item.code;
      li.append(strong, " " + item.title);
      if (item.on_loan) {
        const tag = document.createElement("span");
        tag.className = "tag";
        tag.textContent = onLoan + (item.borrower ? ": " + item.borrower : "");
        li.append(" ", tag);
      }
      return li;
    }));
    setCount("missing", batch.missing.length);
    const done = document.querySelector(".all-back");
    if (done) done.hidden = batch.missing.length > 0;
  }

  function drawBatch(batch) {
    setCount("returned", batch.returned);
    setCount("total", batch.total);
    drawMissing(batch);
  }

  const RETURN_KIND = {returned: "ok", again: "warn", other_batch: "stop", not_in_batch: "stop", unknown: "stop"};
  const STOCKTAKE_KIND = {counted: "ok", again: "warn", on_loan: "stop", misplaced: "stop", unknown: "stop"};

  const handlers = {
    "start": async (code) => {
      const field = body.dataset.scanField || "code";
      const data = await post(body.dataset.scanUrl, {[field]: code});
      window.location.assign(data.next);
    },
    "batch-send": async (code) => {
      const data = await post(body.dataset.scanUrl, {code});
      setCount("total", data.batch.total);
      show("ok", data.message);
    },
    "batch-return": async (code) => {
      const data = await post(body.dataset.scanUrl, {code});
      show(RETURN_KIND[data.scan.outcome] || "warn", data.message || data.scan.message);
      body.dataset.lastOutcome = data.scan.outcome;
      drawBatch(data.batch);
    },
    "shelving": async (code) => {
      const data = await post(body.dataset.scanUrl, {code});
      const place = data.shelving;
      const card = document.getElementById("shelf-card");
      card.querySelector('[data-field="place"]').textContent = place.place;
      card.querySelector('[data-field="shelf"]').textContent = place.shelf || "–";
      card.querySelector('[data-field="classification"]').textContent = place.classification || "–";
      card.querySelector('[data-field="item"]').textContent = place.item;
      card.querySelector('[data-field="title"]').textContent = place.title;
      card.querySelector('[data-field="on-loan"]').hidden = !place.on_loan;
      card.hidden = false;
      const hint = document.getElementById("shelving-hint");
      if (hint) hint.hidden = true;
      const box = document.querySelector(".result");
      if (box) box.hidden = true;
      beep(place.on_loan ? "warn" : "ok");
    },
    "stocktake": async (code) => {
      const data = await post(body.dataset.scanUrl, {code});
      show(STOCKTAKE_KIND[data.scan.outcome] || "warn", data.scan.item + ": " + data.scan.message);
      setCount("seen", data.scan.seen);
      setCount("expected", data.scan.expected);
      const bar = document.getElementById("progress");
      if (bar) { bar.max = Math.max(1, data.scan.expected); bar.value = data.scan.seen; }
    },
  };

  // One request at a time, in scan order: a fast scanner must never reorder or drop a book.
  let queue = Promise.resolve();
  function enqueue(work) {
    queue = queue.then(work).catch((error) => {
      if (page === "shelving") {
        const card = document.getElementById("shelf-card");
        if (card) card.hidden = true;
      }
      show("stop", error.message);
    });
    return queue;
  }

  // The kiosk's scanner settings (SCAN_KEY_GAP_MS, SCAN_PAUSE_MS, DOUBLE_SCAN_SECONDS) apply here too.
  const scanning = document.querySelector('meta[name="muontra-scanning"]');
  if (window.muontra && scanning) {
    window.muontra.configureScanning({keyGapMs: Number(scanning.dataset.keyGapMs),
                                      pauseMs: Number(scanning.dataset.pauseMs),
                                      doubleScanMs: Number(scanning.dataset.doubleScanMs)});
  }

  if (window.muontra && handlers[page] && body.dataset.scanUrl) {
    window.muontra.onScan((code) => enqueue(() => handlers[page](code)));
  }
  body.dataset.ready = "true";

  const undo = document.getElementById("undo");
  if (undo) {
    undo.addEventListener("click", () => enqueue(async () => {
      const data = await post(body.dataset.undoUrl, {});
      show("warn", data.message);
      drawBatch(data.batch);
    }));
  }

  // Intake: a scanned or typed ISBN fills the title from the local catalogue.
  const isbn = document.getElementById("isbn");
  if (page === "intake" && isbn) {
    isbn.addEventListener("change", async () => {
      if (!isbn.value.trim()) return;
      try {
        const data = await post(body.dataset.isbnUrl, {isbn: isbn.value});
        const known = document.getElementById("isbn-known");
        if (data.title) {
          ["title", "author", "publisher", "year", "classification"].forEach((name) => {
            const input = document.getElementById(name);
            if (input && data.title[name] != null) input.value = data.title[name];
          });
          known.hidden = false;
          document.getElementById("count").focus();
        } else {
          known.hidden = true;
          document.getElementById("title").focus();
        }
      } catch (error) {
        show("stop", error.message);
      }
    });
    isbn.addEventListener("keydown", (event) => {
      // A scanner's Enter after the ISBN must not submit the whole form half-filled.
      if (event.key === "Enter") { event.preventDefault(); isbn.dispatchEvent(new Event("change")); }
    });
  }
  // Print buttons (no inline onclick: the Content-Security-Policy allows only these files' scripts).
  document.querySelectorAll("[data-print]").forEach((button) => {
    button.addEventListener("click", () => window.print());
  });
})();
