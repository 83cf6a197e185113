/* The kiosk's pairing form: fill it from the server's QR code (camera or 2D scanner, through
 * scan.js's one entry point) or from a server found on the LAN. The server checks everything again. */
(function () {
  "use strict";
  const form = document.getElementById("pair-form");
  const configNode = document.getElementById("pair-config");
  if (!form || !configNode) return;
  const config = JSON.parse(configNode.textContent);
  const PREFIX = "muontra://pair?";
  // The kiosk's scanner timing (SCAN_KEY_GAP_MS, SCAN_PAUSE_MS) holds here too.
  if (window.muontra && window.muontra.configureScanning) {
    window.muontra.configureScanning({keyGapMs: config.scanKeyGapMs, pauseMs: config.scanPauseMs});
  }

  document.addEventListener("muontra:scan", function (event) {
    const text = String(event.detail.code || "");
    if (text.toLowerCase().indexOf(PREFIX) < 0) return;
    form.querySelector("#pair-qr").value = text;
    // Pairing again replaces the old server: that still needs the librarian's tick.
    if (form.dataset.again === "yes") {
      const box = form.querySelector("input[name=confirm]");
      if (box && !box.checked) { box.focus(); return; }
    }
    form.submit();
  });

  const found = document.getElementById("pair-found");
  const list = document.getElementById("pair-found-list");
  fetch(config.servers, {credentials: "same-origin"})
    .then(function (r) { return r.ok ? r.json() : {servers: []}; })
    .then(function (data) {
      (data.servers || []).forEach(function (server) {
        const item = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = config.use + ": " + server.name + " (" + server.url + ")";
        button.addEventListener("click", function () {
          form.querySelector("#pair-server").value = server.url;
          form.querySelector("#pair-code").focus();
        });
        item.appendChild(button);
        list.appendChild(item);
      });
      found.hidden = !list.children.length;
    })
    .catch(function () { /* no discovery: typing the address still works */ });
})();
