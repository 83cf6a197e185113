/* Mượn Trả kiosk screens: idle → borrow (card, books, receipt) or return → idle. */
(function () {
  "use strict";

  const muontra = window.muontra;
  const S = JSON.parse(document.getElementById("muontra-settings").textContent);
  const W = S.words;
  const body = document.body;
  const $ = (selector) => document.querySelector(selector);
  const PATHS = {idle: "/", borrow: "/borrow", return: "/return"};

  const state = {
    view: S.view,
    step: S.view === "borrow" ? "card" : null,
    patron: null,
    borrowed: [],
    returned: [],
    sounds: [],
    scans: [],
    busy: 0, // scans waiting for the server: the screen never resets under a student's answer
    lastActivity: Date.now(),
  };
  let queue = Promise.resolve();

  muontra.configureScanning({doubleScanMs: S.doubleScanSeconds * 1000, keyGapMs: S.scanKeyGapMs,
                             pauseMs: S.scanPauseMs});
  muontra.state = state;
  muontra.settings = S;

  // ------------------------------------------------------------ helpers

  function fmt(message, params) {
    return message.replace(/%\((\w+)\)s/g, (_, name) => (params[name] == null ? "" : params[name]));
  }

  function formatDate(iso) {
    const [y, m, d] = iso.split("-");
    if (S.lang === "vi") return `${d}/${m}/${y}`;
    return new Date(Date.UTC(+y, +m - 1, +d)).toLocaleDateString("en-GB",
      {day: "numeric", month: "short", year: "numeric", timeZone: "UTC"});
  }

  function todayIso() {
    const now = new Date();
    const pad = (n) => String(n).padStart(2, "0");
    return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
  }

  async function api(path, payload) {
    let response;
    try {
      response = await fetch(path, {
        method: "POST",
        headers: {"Content-Type": "application/json"},
        body: JSON.stringify(Object.assign({lang: S.lang}, payload)),
        credentials: "same-origin",
      });
    } catch (error) {
      return {ok: false, error: {code: "offline", message: W.no_connection}};
    }
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      data = null;
    }
    if (response.ok && data) return {ok: true, data};
    return {ok: false, error: (data && data.error) || {code: `http_${response.status}`, message: W.no_connection}};
  }

  // Distinct sounds without sound files: a rising chime for yes, a low buzz for no.
  let audio = null;
  const TUNES = {
    ok: {type: "sine", notes: [[880, 0, 0.12], [1320, 0.12, 0.3]]},
    info: {type: "sine", notes: [[660, 0, 0.2]]},
    bad: {type: "square", notes: [[220, 0, 0.22], [165, 0.26, 0.55]]},
  };

  function beep(kind) {
    state.sounds.push(kind);
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      const tune = TUNES[kind];
      const t0 = audio.currentTime + 0.01;
      for (const [freq, start, end] of tune.notes) {
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.type = tune.type;
        osc.frequency.value = freq;
        gain.gain.setValueAtTime(0.0001, t0 + start);
        gain.gain.exponentialRampToValueAtTime(0.25, t0 + start + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, t0 + end);
        osc.connect(gain).connect(audio.destination);
        osc.start(t0 + start);
        osc.stop(t0 + end + 0.05);
      }
    } catch (error) {
      // No audio device: the colour and the words still tell.
    }
  }

  function icon(name) {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("class", "icon result-icon");
    svg.setAttribute("aria-hidden", "true");
    const use = document.createElementNS("http://www.w3.org/2000/svg", "use");
    use.setAttribute("href", `#i-${name}`);
    svg.append(use);
    return svg;
  }

  function show(box, kind, text, sub) {
    box.hidden = false;
    box.className = `result ${kind}`;
    box.replaceChildren();
    const words = document.createElement("span");
    words.className = "result-text";
    words.textContent = text;
    box.append(icon(kind), words);
    if (sub) {
      const small = document.createElement("span");
      small.className = "result-sub";
      small.textContent = sub;
      box.append(small);
    }
    // Restart the flash so two refusals in a row are both noticed.
    box.classList.remove("flash");
    void box.offsetWidth;
    box.classList.add("flash");
  }

  function addToList(list, kind, title, detail) {
    const item = document.createElement("li");
    item.className = kind;
    const name = document.createElement("span");
    name.className = "item-title";
    name.textContent = title;
    const extra = document.createElement("span");
    extra.className = "item-detail";
    extra.textContent = detail;
    item.append(name, extra);
    list.prepend(item);
  }

  // ------------------------------------------------------------ views

  function setView(view) {
    state.view = view;
    body.dataset.view = view;
    if (history.replaceState) history.replaceState(null, "", PATHS[view]);
  }

  function setStep(step) {
    state.step = step;
    body.dataset.step = step || "";
    document.querySelectorAll(".step[data-step]").forEach((el) => {
      el.hidden = el.dataset.step !== step;
    });
  }

  function goIdle() {
    window.location.assign("/reset");
  }

  function renderPatron(patron) {
    const greeting = patron.kind === "teacher" ? W.greeting_teacher : W.greeting_student;
    $("[data-patron=greeting]").textContent = fmt(greeting, {name: patron.first_name});
    $("[data-patron=class]").textContent = patron.class_name ? fmt(W.class_label, {class_name: patron.class_name}) : "";
    $("[data-patron=holding]").textContent = patron.holding;
    $("[data-patron=may_borrow]").textContent = patron.may_borrow;
    const overdue = $("[data-patron=overdue]");
    overdue.hidden = !patron.overdue;
    overdue.textContent = patron.overdue ? fmt(W.overdue_warning, {count: patron.overdue}) : "";
    // A helper's card also opens the helpers' work (batch return, shelving, stock-take).
    $("[data-patron=helper]").hidden = patron.kind !== "helper";
  }

  function startBorrowing(patron) {
    state.patron = patron;
    state.borrowed = [];
    $("[data-list=borrowed]").replaceChildren();
    renderPatron(patron);
    setView("borrow");
    setStep("books");
    show($("[data-result=books]"), "prompt", W.scan_book);
  }

  function showReceipt() {
    const patron = state.patron;
    const who = [patron.first_name, patron.class_name ? fmt(W.class_label, {class_name: patron.class_name}) : ""];
    $("[data-receipt=who]").textContent = who.filter(Boolean).join(" · ");
    $("[data-receipt=date]").textContent = formatDate(todayIso());
    const rows = $("[data-receipt=rows]");
    rows.replaceChildren();
    for (const loan of state.borrowed) {
      const row = document.createElement("tr");
      const title = document.createElement("td");
      title.textContent = `${loan.title} (${loan.item})`;
      const due = document.createElement("td");
      due.textContent = formatDate(loan.due);
      row.append(title, due);
      rows.append(row);
    }
    $("[data-receipt=empty]").hidden = state.borrowed.length > 0;
    setStep("receipt");
  }

  // ------------------------------------------------------------ scans

  async function lookUpCard(code, resultBox) {
    const answer = await api("/api/patron", {patron: code});
    if (answer.ok) {
      startBorrowing(answer.data.patron);
      beep("ok");
      return true;
    }
    if (resultBox) {
      show(resultBox, "bad", answer.error.message);
      beep("bad");
    }
    return false;
  }

  async function borrowBook(code) {
    const box = $("[data-result=books]");
    if (code.toUpperCase() === state.patron.code.toUpperCase()) {
      show(box, "info", W.same_card);
      beep("info");
      return;
    }
    const answer = await api("/api/checkout", {patron: state.patron.code, item: code});
    if (answer.ok) {
      const loan = answer.data.loan;
      const due = fmt(W.due, {due: formatDate(loan.due)});
      state.borrowed.push(loan);
      state.patron = answer.data.patron;
      renderPatron(answer.data.patron);
      addToList($("[data-list=borrowed]"), "ok", loan.title, due);
      show(box, "ok", `${W.borrowed_ok} ${loan.title}`, due);
      beep("ok");
      return;
    }
    // A new student's card while the last one walked away without pressing Done.
    if (answer.error.code === "unknown_copy" && (await lookUpCard(code, null))) return;
    show(box, "bad", answer.error.message);
    beep("bad");
  }

  async function returnBook(code) {
    const box = $("[data-result=return]");
    const answer = await api("/api/checkin", {item: code});
    if (!answer.ok) {
      show(box, "bad", answer.error.message);
      beep("bad");
      return;
    }
    const checkin = answer.data.checkin;
    const notes = [];
    if (checkin.late) notes.push(W.returned_late);
    if (checkin.location && checkin.location !== "main") notes.push(fmt(W.class_library, {location: checkin.location}));
    if (checkin.hold_message) notes.push(checkin.hold_message);  // set aside for a reservation: never whose
    const kind = checkin.outcome === "returned" ? "ok" : "info";
    const title = checkin.title || checkin.item;
    show(box, kind, `${checkin.message}`, [title].concat(notes).join(" · "));
    addToList($("[data-list=returned]"), kind, title, checkin.message);
    state.returned.push(checkin);
    beep(kind);
  }

  async function onScan(code, source) {
    touch();
    state.scans.push([code, source]);
    if (state.view === "idle") {
      if (!(await lookUpCard(code, null))) {
        show($("[data-result=idle]"), "info", W.scan_card_first);
        beep("info");
      }
    } else if (state.view === "borrow" && state.step === "books") {
      await borrowBook(code);
    } else if (state.view === "borrow") {
      // The card step, or a receipt left on screen: a card starts a new session.
      await lookUpCard(code, $("[data-result=card]"));
    } else if (state.view === "return") {
      await returnBook(code);
    }
    touch();
  }

  muontra.onScan((code, source) => {
    state.busy += 1;
    queue = queue.then(() => onScan(code, source)).catch(() => undefined).then(() => {
      state.busy -= 1;
    });
    return queue;
  });

  // ------------------------------------------------------------ idle reset

  const countdown = $(".countdown");

  function touch() {
    state.lastActivity = Date.now();
    countdown.hidden = true;
  }

  function needsReset() {
    // The idle screen only resets a language a child switched to, or a message left on it.
    if (state.view !== "idle") return true;
    return S.lang !== S.defaultLang || !$("[data-result=idle]").hidden;
  }

  function tick() {
    if (state.busy || !needsReset()) return;
    const receipt = state.view === "borrow" && state.step === "receipt";
    const limit = receipt ? Math.min(S.receiptSeconds, S.idleSeconds) : S.idleSeconds;
    const left = Math.ceil(limit - (Date.now() - state.lastActivity) / 1000);
    if (left <= 0) {
      goIdle();
      return;
    }
    const warnFrom = receipt ? limit : Math.min(10, Math.max(3, Math.floor(limit / 2)));
    if (left <= warnFrom) {
      countdown.hidden = false;
      $("[data-countdown=text]").textContent = fmt(W.returning_in, {seconds: left});
    } else {
      countdown.hidden = true;
    }
  }

  ["pointerdown", "keydown", "touchstart"].forEach((name) =>
    window.addEventListener(name, touch, {capture: true, passive: true}));
  setInterval(tick, 250);

  // A thermal printer when the kiosk has one (the server draws and prints the receipt), else the
  // browser's printing (silent with Chromium's --kiosk-printing); a failing printer falls back too.
  async function printReceipt() {
    if (S.receiptPrinter && state.patron) {
      const copies = state.borrowed.map((loan) => loan.item).join(" ");
      const result = await api("/api/receipt", {patron: state.patron.code, copies});
      touch();
      if (result.ok) return;
    }
    window.print();
  }

  // ------------------------------------------------------------ buttons

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-action]");
    if (!button) return;
    const action = button.dataset.action;
    if (action === "done") {
      event.preventDefault();
      if (state.view === "borrow" && state.step === "books") {
        showReceipt();
        touch();
      } else {
        goIdle();
      }
    } else if (action === "print") {
      printReceipt();
    } else if (action === "finish") {
      goIdle();
    } else if (action === "still-here") {
      touch();
    }
  });

  setView(state.view);
  setStep(state.step);
  body.dataset.ready = "true";
})();
