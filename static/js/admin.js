/* The librarian's pages: a USB scan is never lost. A scan arriving while no field has the focus
   goes into the page's scan field (data-scan-target: the reader's "lend a book" field) and is
   submitted; on a page without one it opens the search for that code. */
(function () {
  "use strict";

  const muontra = window.muontra;
  const meta = document.querySelector('meta[name="muontra-scanning"]');
  if (meta) {
    muontra.configureScanning({keyGapMs: +meta.dataset.keyGapMs, pauseMs: +meta.dataset.pauseMs,
                               doubleScanMs: +meta.dataset.doubleScanMs});
  }

  muontra.onScan((code) => {
    const target = document.querySelector("[data-scan-target]");
    if (target && target.form) {
      target.value = code;
      target.form.requestSubmit();
      return;
    }
    window.location.assign(`${document.body.dataset.searchUrl}?q=${encodeURIComponent(code)}`);
  });

  document.body.dataset.ready = "true";
})();
