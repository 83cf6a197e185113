/* Mượn Trả kiosk screens: idle → borrow (card, books, receipt) or return → idle. */
(function () {
  "use strict";

  const muontra = window.muontra;
  const S = JSON.parse(document.getElementById("muontra-settings").textContent);
  // The words speak to the reader: em for a student, thầy / cô for a teacher (pages.SCRIPT_WORDS).
  let W = S.words.student;
  const body = document.body;
  const $ = (selector) => document.querySelector(selector);
  const PATHS = {idle: "/", borrow: "/borrow", return: "/return", search: "/search"};

  const state = {
    view: S.view,
    step: S.view === "borrow" ? "card" : null,
    patron: null,
    borrowed: [],
    reserving: null, // {item, title} while the search screen waits for a card to reserve a book
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

  // Read aloud where the platform has a voice for the page's language (Web Speech API);
  // silently nothing where it has none. The sound and the colour tell in any case.
  function speak(text) {
    const synth = window.speechSynthesis;
    if (!synth || !window.SpeechSynthesisUtterance || !text) return;
    try {
      const voice = synth.getVoices().find((v) => (v.lang || "").toLowerCase().startsWith(S.lang));
      if (!voice) return;
      synth.cancel(); // the newest answer, not a queue of old ones
      const utterance = new SpeechSynthesisUtterance(text);
      utterance.voice = voice;
      utterance.lang = voice.lang;
      synth.speak(utterance);
    } catch (error) {
      // No speech here: nothing to do.
    }
  }

  // Large text and high contrast, for this reader's session only: the next child starts plain.
  const BIG = "muontra-big-text";
  function setBigText(on) {
    document.documentElement.classList.toggle("big-text", on);
    const toggle = $("[data-action=big-text]");
    if (toggle) toggle.setAttribute("aria-pressed", String(on));
    try {
      if (on) sessionStorage.setItem(BIG, "1"); else sessionStorage.removeItem(BIG);
    } catch (error) {
      // Storage off: the switch still works on this page.
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
    if (kind !== "prompt") speak(sub ? `${text}. ${sub}` : text);
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
    setBigText(false);
    window.location.assign("/reset");
  }

  function setAudience(audience) {
    W = S.words[audience] || S.words.student;
    document.querySelectorAll("[data-word]").forEach((el) => {
      if (W[el.dataset.word]) el.textContent = W[el.dataset.word];
    });
  }

  function renderPatron(patron) {
    setAudience(patron.audience);
    const greeting = patron.kind === "helper" ? W.greeting_helper : W.greeting;
    $("[data-patron=greeting]").textContent = fmt(greeting, {name: patron.first_name});
    $("[data-patron=name]").textContent = patron.name || "";
    $("[data-patron=class]").textContent = patron.class_name ? fmt(W.class_label, {class_name: patron.class_name}) : "";
    $("[data-patron=holding]").textContent = patron.holding;
    $("[data-patron=may_borrow]").textContent = patron.may_borrow;
    // Never a green "you may still borrow" the rules will refuse: the reason instead, naming the book.
    const blocked = $("[data-patron=blocked]");
    blocked.hidden = !patron.blocked;
    blocked.textContent = patron.blocked ? patron.blocked.message : "";
    $("[data-tile=may_borrow]").className = `tile ${patron.blocked ? "bad" : "good"}`;
    const overdue = $("[data-patron=overdue]");
    overdue.hidden = !patron.overdue || !!patron.blocked;
    overdue.textContent = patron.overdue ? fmt(W.overdue_warning, {count: patron.overdue}) : "";
    // A helper's card also opens the helpers' work (batch return, shelving, stock-take).
    $("[data-patron=helper]").hidden = patron.kind !== "helper";
    renderMyBooks(patron.loans || []);
  }

  // "My books": the reader's own loans other than those borrowed just now, overdue first, with Renew.
  function renderMyBooks(loans) {
    const now = new Set(state.borrowed.map((loan) => loan.item));
    const list = $("[data-list=mine]");
    list.replaceChildren();
    for (const loan of loans) {
      if (now.has(loan.item)) continue;
      const item = document.createElement("li");
      item.className = loan.overdue_days > 0 ? "late" : "mine";
      item.dataset.item = loan.item;
      const name = document.createElement("span");
      name.className = "item-title";
      name.textContent = loan.title;
      const detail = document.createElement("span");
      detail.className = "item-detail";
      detail.textContent = loan.overdue_days > 0 ? fmt(W.overdue_days, {days: loan.overdue_days})
        : fmt(W.due, {due: formatDate(loan.due)});
      const renew = document.createElement("button");
      renew.type = "button";
      renew.className = "button secondary renew";
      renew.dataset.action = "renew";
      renew.dataset.item = loan.item;
      renew.textContent = W.renew;
      item.append(name, detail, renew);
      list.append(item);
    }
    $("[data-list-section=mine]").hidden = list.children.length === 0;
  }

  // Reservations: the card holder's own, on the card screen (a book set aside for them first).
  async function showHolds(patronCode) {
    const list = $("[data-list=notices]");
    list.replaceChildren();
    const answer = await api("/api/holds", {patron: patronCode});
    const holds = answer.ok ? answer.data.holds.filter((hold) => hold.state !== "expired") : [];
    for (const hold of holds) {
      const line = document.createElement("li");
      line.className = `notice hold-${hold.state}`;
      line.textContent = hold.state === "ready"
        ? fmt(W.hold_ready, {title: hold.title, until: formatDate(hold.until)})
        : fmt(W.hold_waiting, {title: hold.title, position: hold.position});
      list.append(line);
    }
    list.hidden = holds.length === 0;
  }

  async function placeHold(cardCode) {
    const wanted = state.reserving;
    state.reserving = null;
    const box = $("[data-result=search]");
    const answer = await api("/api/hold", {patron: cardCode, item: wanted.item});
    if (answer.ok) {
      show(box, "ok", fmt(W.hold_placed, {title: answer.data.hold.title, position: answer.data.hold.position || 1}));
      beep("ok");
    } else {
      show(box, "bad", answer.error.message);
      beep("bad");
    }
  }

  async function renewBook(code) {
    const box = $("[data-result=books]");
    const answer = await api("/api/renew", {patron: state.patron.code, item: code});
    if (!answer.ok) {
      show(box, "bad", answer.error.message);
      beep("bad");
      return;
    }
    const loan = answer.data.loan;
    const due = fmt(W.due, {due: formatDate(loan.due)});
    show(box, "ok", fmt(W.renewed, {title: loan.title}), due);
    const line = document.querySelector(`[data-list=mine] li[data-item="${CSS.escape(loan.item)}"] .item-detail`);
    if (line) line.textContent = due;
    beep("ok");
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
    const who = [patron.name || patron.first_name, patron.class_name ? fmt(W.class_label, {class_name: patron.class_name}) : ""];
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

  // ------------------------------------------------------------ find a book (Tra cứu)

  let searchTimer = null;
  let searchAsked = 0;

  function placeText(place) {
    const parts = [place.where];
    if (place.status === "on_loan") {
      parts.push(place.due ? fmt(W.search_on_loan, {due: formatDate(place.due)}) : W.search_none_available);
    } else {
      if (place.shelf) parts.push(fmt(W.search_shelf, {shelf: place.shelf}));
      if (place.status === "not_for_loan") parts.push(W.search_read_here);
      if (place.status === "damaged") parts.push(W.search_repair);
    }
    parts.push(fmt(W.search_copies, {count: place.count}));
    return parts.join(" · ");
  }

  function renderResults(query, results) {
    const list = $("[data-list=search]");
    list.replaceChildren();
    const box = $("[data-result=search]");
    if (!results.length) {
      show(box, "info", fmt(W.search_none, {q: query}));
      return;
    }
    box.hidden = true;
    for (const found of results) {
      const item = document.createElement("li");
      item.className = `search-result ${found.available ? "in" : "out"}`;
      const head = document.createElement("div");
      head.className = "search-head";
      const title = document.createElement("span");
      title.className = "item-title";
      title.textContent = found.title;
      const badge = document.createElement("span");
      badge.className = "badge";
      badge.textContent = found.available ? fmt(W.search_available, {count: found.available}) : W.search_none_available;
      head.append(title, badge);
      const author = document.createElement("span");
      author.className = "item-detail";
      author.textContent = found.author || "";
      const places = document.createElement("ul");
      places.className = "places";
      for (const place of found.places) {
        const line = document.createElement("li");
        line.className = `place ${place.status}`;
        line.textContent = placeText(place);
        places.append(line);
      }
      item.append(head, author, places);
      if (!found.available && found.item) {
        // All copies out: the reader can reserve it, with their card.
        const reserve = document.createElement("button");
        reserve.type = "button";
        reserve.className = "button secondary reserve";
        reserve.dataset.action = "reserve";
        reserve.dataset.item = found.item;
        reserve.dataset.title = found.title;
        reserve.textContent = W.hold_button;
        item.append(reserve);
      }
      list.append(item);
    }
  }

  async function runSearch(query) {
    const asked = ++searchAsked;
    const text = query.trim();
    if (text.length < 2) return;
    const answer = await api("/api/search", {q: text});
    if (asked !== searchAsked) return; // a newer search was typed meanwhile
    if (!answer.ok) {
      show($("[data-result=search]"), "bad", answer.error.message);
      return;
    }
    renderResults(text, answer.data.results);
  }

  const searchField = $("#search-q");
  searchField.addEventListener("input", () => {
    touch();
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => runSearch(searchField.value), 350); // as the child types
  });
  document.querySelector("[data-search-form]").addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(searchTimer);
    runSearch(searchField.value);
  });

  // ------------------------------------------------------------ scans

  async function helperSignIn(code, fallback) {
    const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
    try {
      const response = await fetch("/staff/helper", {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "application/json"},
        body: JSON.stringify({card: code, lang: S.lang}),
      });
      const data = await response.json();
      window.location.assign(response.ok && data.next ? data.next : fallback);
    } catch (error) {
      window.location.assign(fallback);
    }
  }

  async function lookUpCard(code, resultBox) {
    const answer = await api("/api/patron", {patron: code});
    if (answer.ok) {
      startBorrowing(answer.data.patron);
      beep("ok");
      await showHolds(answer.data.patron.code);
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
    // A book the reader already holds (often the one just borrowed): a friendly note, not a buzz.
    const kind = answer.error.code === "already_yours" ? "info" : "bad";
    show(box, kind, answer.error.message);
    beep(kind);
  }

  // The optional return receipt: only books whose loan ended here, printed on request.
  function addReturnReceiptRow(title, item) {
    const row = document.createElement("tr");
    const name = document.createElement("td");
    name.textContent = `${title} (${item})`;
    const when = document.createElement("td");
    when.textContent = formatDate(todayIso());
    row.append(name, when);
    $("[data-return-receipt=rows]").append(row);
    $("[data-return-receipt=date]").textContent = formatDate(todayIso());
    $("[data-action=print-return]").hidden = false;
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
    if (checkin.outcome === "returned") addReturnReceiptRow(title, checkin.item);
    beep(kind);
  }

  // Not a card on the start screen: most likely a book someone brings back. Ask, then return it.
  function askToReturn(code) {
    const box = $("[data-result=idle]");
    show(box, "info", W.return_this);
    const actions = document.createElement("span");
    actions.className = "result-actions";
    const yes = document.createElement("button");
    yes.type = "button";
    yes.className = "button";
    yes.dataset.action = "return-this";
    yes.dataset.code = code;
    yes.textContent = W.yes_return;
    const no = document.createElement("button");
    no.type = "button";
    no.className = "button secondary";
    no.dataset.action = "not-return";
    no.textContent = W.no;
    actions.append(yes, no);
    box.append(actions);
    beep("info");
  }

  async function onScan(code, source) {
    touch();
    state.scans.push([code, source]);
    if (state.view === "idle") {
      if (!(await lookUpCard(code, null))) askToReturn(code);
    } else if (state.view === "borrow" && state.step === "books") {
      await borrowBook(code);
    } else if (state.view === "borrow") {
      // The card step, or a receipt left on screen: a card starts a new session.
      await lookUpCard(code, $("[data-result=card]"));
    } else if (state.view === "return") {
      await returnBook(code);
    } else if (state.view === "search" && state.reserving) {
      await placeHold(code);
    } else if (state.view === "search") {
      // A cover ISBN scanned on the search screen looks the book up.
      searchField.value = code;
      await runSearch(code);
    }
    touch();
  }

  // Scans and taps that ask the server run one after another: answers arrive in order, and the
  // screen never resets under a reader's answer.
  function enqueue(job) {
    state.busy += 1;
    queue = queue.then(job).catch(() => undefined).then(() => {
      state.busy -= 1;
    });
    return queue;
  }

  muontra.onScan((code, source) => enqueue(() => onScan(code, source)));

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
    } else if (action === "print-return") {
      window.print();
    } else if (action === "reserve") {
      state.reserving = {item: button.dataset.item, title: button.dataset.title};
      show($("[data-result=search]"), "prompt", fmt(W.hold_scan_card, {title: button.dataset.title}));
      touch();
    } else if (action === "finish") {
      goIdle();
    } else if (action === "big-text") {
      setBigText(!document.documentElement.classList.contains("big-text"));
    } else if (action === "still-here") {
      touch();
    } else if (action === "renew" && state.patron) {
      enqueue(() => renewBook(button.dataset.item));
    } else if (action === "return-this") {
      $("[data-result=idle]").hidden = true;
      setView("return");
      enqueue(() => returnBook(button.dataset.code));
    } else if (action === "not-return") {
      $("[data-result=idle]").hidden = true;
    } else if (action === "helper-work" && state.patron) {
      // The helper's card was just scanned: it signs them in; no second scan on the staff page.
      event.preventDefault();
      enqueue(() => helperSignIn(state.patron.code, button.href));
    }
  });

  try {
    setBigText(sessionStorage.getItem(BIG) === "1");
  } catch (error) {
    setBigText(false);
  }
  setView(state.view);
  setStep(state.step);
  body.dataset.ready = "true";
})();
