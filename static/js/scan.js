/* Mượn Trả: every scan, from any source, goes through window.muontra.handleScan(code, source).
 *
 * Sources: "scanner" (a USB keyboard-wedge scanner typing anywhere on the page),
 * "keyboard" (typed by hand into a .scan-input field), "camera" (fed by the camera
 * module). A wedge scanner is told apart from a person by speed: its keys arrive on
 * average less than keyGapMs apart and end with Enter, Tab or a pause of pauseMs.
 */
(function () {
  "use strict";

  const muontra = (window.muontra = window.muontra || {});
  const config = {keyGapMs: 50, pauseMs: 100, minLength: 3, doubleScanMs: 2000};
  let handler = null;
  let last = {code: null, at: -Infinity};

  // The burst of keys being collected: outside any field into `buffer`; inside a scan
  // field the field itself holds the text and only the timing is tracked.
  let buffer = "";
  let burst = {count: 0, first: 0, last: -Infinity};
  let pauseTimer = null;

  function normalise(code) {
    return String(code == null ? "" : code).replace(/[\u0000-\u001f\u007f]/g, "").trim();
  }

  /* The one entry point. Returns false when the scan was empty or a double scan. */
  function handleScan(code, source) {
    const text = normalise(code);
    if (!text) return false;
    const now = performance.now();
    const key = text.toUpperCase();
    if (key === last.code && now - last.at < config.doubleScanMs) {
      // A book held under a camera re-reads continuously: keep extending the window.
      last.at = now;
      document.dispatchEvent(new CustomEvent("muontra:double-scan", {detail: {code: text, source}}));
      return false;
    }
    last = {code: key, at: now};
    document.dispatchEvent(new CustomEvent("muontra:scan", {detail: {code: text, source}}));
    if (handler) handler(text, source || "unknown");
    return true;
  }

  function isScanField(el) {
    return !!(el && el.classList && el.classList.contains("scan-input"));
  }

  function isOtherField(el) {
    if (!el || isScanField(el)) return false;
    return el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName);
  }

  function resetBuffer() {
    buffer = "";
    burst = {count: 0, first: 0, last: -Infinity};
    clearTimeout(pauseTimer);
    pauseTimer = null;
  }

  /* A scanner's burst: enough keys, arriving on average faster than a person types.
   * The average (not every gap) decides, so one key delayed by a busy CPU doesn't split a scan. */
  function isMachineBurst() {
    if (burst.count < config.minLength) return false;
    return (burst.last - burst.first) / (burst.count - 1) < config.keyGapMs;
  }

  function submitField(input) {
    const code = input.value;
    input.value = "";
    resetBuffer();
    handleScan(code, "keyboard");
  }

  function onPause(target) {
    // Scanners configured without a suffix: the pause ends the scan.
    if (isMachineBurst()) {
      if (isScanField(target)) {
        if (burst.count >= target.value.length) submitField(target);
      } else {
        const code = buffer;
        resetBuffer();
        handleScan(code, "scanner");
      }
    }
    resetBuffer();
  }

  function onKeyDown(event) {
    if (event.ctrlKey || event.altKey || event.metaKey || event.isComposing) return;
    const target = event.target;
    if (isOtherField(target)) return; // the librarian's forms are ordinary forms
    const now = performance.now();

    if (event.key === "Enter" || event.key === "Tab") {
      if (isScanField(target)) {
        // Enter submits the field's form; a scanner's Tab would only move the focus away.
        if (event.key === "Tab" && target.value.trim()) {
          event.preventDefault();
          submitField(target);
        }
        resetBuffer();
        return;
      }
      if (isMachineBurst() && now - burst.last < config.pauseMs) {
        event.preventDefault();
        const code = buffer;
        resetBuffer();
        handleScan(code, "scanner");
      } else {
        resetBuffer();
      }
      return;
    }
    if (event.key.length !== 1) return; // Shift, arrows…: a scanner presses Shift for capitals

    clearTimeout(pauseTimer);
    if (now - burst.last >= config.pauseMs) {
      buffer = "";
      burst = {count: 0, first: now, last: now};
    }
    burst.count += 1;
    burst.last = now;
    if (!isScanField(target)) {
      buffer += event.key;
      // Outside a field a key means nothing else here; a space must not press a focused button.
      event.preventDefault();
    }
    pauseTimer = setTimeout(() => onPause(target), config.pauseMs);
  }

  function bindForms(root) {
    (root || document).querySelectorAll("form[data-scan-form]").forEach((form) => {
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const input = form.querySelector(".scan-input");
        if (input) submitField(input);
      });
    });
  }

  window.addEventListener("keydown", onKeyDown, true);
  document.addEventListener("DOMContentLoaded", () => bindForms(document));

  muontra.handleScan = handleScan;
  muontra.onScan = function (fn) {
    handler = fn;
  };
  muontra.configureScanning = function (options) {
    Object.assign(config, options || {});
  };
})();
