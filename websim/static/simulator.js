// Parley simulator page. Plain JavaScript, no build step: it calls the HTTP
// API (see docs/api.md and docs/simulator.md) and renders what comes back.
"use strict";

(() => {
  const $ = (sel) => document.querySelector(sel);
  const el = (tag, attrs, ...kids) => {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") n.className = v;
      else if (k === "text") n.textContent = v;
      else n.setAttribute(k, v === true ? "" : v);
    }
    for (const k of kids) if (k !== null && k !== undefined) n.append(k);
    return n;
  };

  const ui = {
    apiKey: $("#api-key"), flowSelect: $("#flow-select"), flowJSON: $("#flow-json"),
    flowErrors: $("#flow-errors"), flowWarnings: $("#flow-warnings"), setup: $("#setup"), name: $("#contact-name"), urn: $("#contact-urn"),
    language: $("#contact-language"), languageError: $("#language-error"),
    fields: $("#contact-fields"), fieldsError: $("#fields-error"),
    caller: $("#caller"), variables: $("#variables"), mocks: $("#mocks"), addMock: $("#add-mock"),
    widgets: $("#webhook-widgets"), start: $("#start"), startStatus: $("#start-status"),
    status: $("#session-status"), restart: $("#restart"), chat: $("#chat"), quick: $("#quick-replies"),
    composer: $("#composer"), message: $("#message"), send: $("#send"),
    keypadArea: $("#keypad-area"), digitsForm: $("#digits-form"), digits: $("#digits"),
    sendDigits: $("#send-digits"), hangup: $("#hangup"), fireTimeout: $("#fire-timeout"), expire: $("#expire"),
    recordingForm: $("#recording-form"), recordingURL: $("#recording-url"), recordingSeconds: $("#recording-seconds"),
    sendRecording: $("#send-recording"), noRecording: $("#no-recording"),
    waitInfo: $("#wait-info"), vars: $("#variables-view"), events: $("#events"),
    layout: $("main.layout"), phone: $("section.phone"), setupPanel: $("section.setup"),
  };

  // state of the running session
  let session = null; // {id, voice, status, waiting, hungUp}
  let lastSeq = 0;
  let busy = false;

  // ---- API ----
  ui.apiKey.value = localStorage.getItem("parley.apiKey") || "";
  ui.apiKey.addEventListener("change", () => {
    localStorage.setItem("parley.apiKey", ui.apiKey.value.trim());
    loadFlows();
  });

  class APIError extends Error {
    constructor(status, body) {
      const e = (body && body.error) || {};
      super(e.message || `HTTP ${status}`);
      this.status = status;
      this.code = e.code;
      this.field = e.field;
      this.details = e.errors || [];
    }
  }

  // The server's paths are under the page's own prefix: a proxy that serves
  // the server under /parley (parley serve --public-url .../parley) serves the
  // page at /parley/simulator and the API at /parley/v1.
  const base = location.pathname.replace(/\/simulator\/?$/, "");

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    const key = ui.apiKey.value.trim();
    if (key) headers.Authorization = "Bearer " + key;
    let payload;
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = typeof body === "string" ? body : JSON.stringify(body);
    }
    const res = await fetch(base + path, { method, headers, body: payload });
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = { error: { message: text } }; }
    if (!res.ok) throw new APIError(res.status, data);
    return data;
  }

  // ---- flows ----
  let listError = ""; // the start status line saying the flows could not be listed
  async function loadFlows() {
    let list;
    try {
      list = (await api("GET", "/v1/flows")).flows || [];
    } catch (err) {
      ui.startStatus.textContent = listError = "Could not list flows: " + err.message;
      return;
    }
    // Listed now (e.g. after an API key was entered): the earlier failure is
    // no longer news.
    if (listError && ui.startStatus.textContent === listError) ui.startStatus.textContent = "";
    listError = "";
    const keep = ui.flowSelect.value;
    ui.flowSelect.replaceChildren(el("option", { value: "", text: "(paste or write JSON below)" }));
    const stored = el("optgroup", { label: "Flows" });
    const drafts = el("optgroup", { label: "Simulator drafts" });
    for (const f of list) {
      const label = `${f.name || f.id} (${f.id}${f.kind === "voice" ? ", voice" : ""})`;
      (f.id.startsWith("sim.") ? drafts : stored).append(el("option", { value: f.id, text: label }));
    }
    ui.flowSelect.append(stored);
    if (drafts.children.length) ui.flowSelect.append(drafts);
    if (keep) {
      ui.flowSelect.value = keep;
    } else if (stored.children.length && !ui.flowJSON.value.trim()) {
      // Ready to start: the first stored flow, loaded into the editor.
      ui.flowSelect.value = stored.children[0].value;
      ui.flowSelect.dispatchEvent(new Event("change"));
    }
  }

  // loadSeq counts flow loads and edits: a flow that arrives after a later
  // load or after the JSON was edited is not put in the editor.
  let loadSeq = 0;
  ui.flowSelect.addEventListener("change", async () => {
    const id = ui.flowSelect.value;
    if (!id) return;
    const seq = ++loadSeq;
    try {
      // The flow's current revision, the one new sessions start on (the
      // published one, or the latest when none is): left unchanged, it runs
      // as is rather than as a draft.
      const info = ((await api("GET", "/v1/flows")).flows || []).find((f) => f.id === id);
      const rev = info ? (info.published || info.latest) : 0;
      const doc = await api("GET", "/v1/flows/" + encodeURIComponent(id) + (rev ? "?revision=" + rev : ""));
      if (seq !== loadSeq) return;
      const pretty = JSON.stringify(doc.definition, null, 2);
      ui.flowJSON.value = pretty;
      flowChanged();
      // Mocks belong to a flow's widgets: drop those the new flow does not have.
      const hooks = new Set([...ui.widgets.querySelectorAll("option")].map((o) => o.value));
      for (const row of ui.mocks.querySelectorAll(".mock")) {
        if (!hooks.has(row.querySelector(".mock-widget").value.trim())) row.remove();
      }
    } catch (err) {
      showFlowErrors([{ path: "$", message: err.message }]);
    }
  });

  // parseFlow returns the editor's JSON, or null after showing why it is not JSON.
  function parseFlow() {
    const text = ui.flowJSON.value.trim();
    if (!text) {
      showFlowErrors([{ path: "$", message: "choose a stored flow or paste flow JSON" }]);
      return null;
    }
    try {
      return JSON.parse(text);
    } catch (err) {
      showFlowErrors([{ path: "$", message: "not JSON: " + err.message }]);
      return null;
    }
  }

  // shownSeq counts what the lists below the editor showed; validate
  // shows its answer only when nothing was shown since it asked.
  let shownSeq = 0;
  function showFlowErrors(errors, warnings, stored) {
    shownSeq++;
    listFlowErrors(errors, warnings, stored);
  }

  // listFlowErrors lists the flow's errors (it does not start) and, apart
  // from them, its warnings (it starts and runs with them), as the server
  // classed them. stored is the stored revision the editor holds unchanged,
  // which Start runs as it is stored (see validate).
  function listFlowErrors(errors, warnings, stored) {
    const n = (errors || []).length, w = (warnings || []).length;
    listProblems(ui.flowErrors, errors, "flow-error", `${n} problem${n > 1 ? "s" : ""} in the flow:`);
    const runs = stored
      ? `Start runs stored revision ${stored.revision} as it is; an edited copy must pass today's checks`
      : "the flow runs";
    listProblems(ui.flowWarnings, warnings, "flow-warning", `${w} warning${w > 1 ? "s" : ""} (${runs}):`);
  }

  function listProblems(box, list, cls, heading) {
    box.replaceChildren();
    if (!list || !list.length) return;
    const ul = el("ul");
    for (const e of list) {
      const where = [e.widget ? `widget ${e.widget}` : "", e.path || ""].filter(Boolean).join(" · ");
      ul.append(el("li", { class: cls }, el("span", { class: "where", text: where }), document.createTextNode(" " + e.message)));
    }
    box.append(el("strong", { text: heading }), ul);
  }

  let validateTimer = 0;
  function flowChanged() {
    const text = ui.flowJSON.value.trim();
    let flow = null;
    try { flow = text ? JSON.parse(text) : null; } catch (_) { /* reported on validate */ }
    const voice = !!(flow && flow.kind === "voice");
    document.body.classList.toggle("voice", voice);
    ui.widgets.replaceChildren();
    for (const w of (flow && Array.isArray(flow.widgets) ? flow.widgets : [])) {
      if (w && w.type === "webhook" && w.id) ui.widgets.append(el("option", { value: w.id, text: w.url || w.webhook || "" }));
    }
    clearTimeout(validateTimer);
    validateTimer = setTimeout(validate, 400);
  }
  ui.flowJSON.addEventListener("input", () => { loadSeq++; flowChanged(); });

  // validate checks the editor's JSON as Start would run it: a stored
  // flow's current revision, unchanged, as stored (what only a check added
  // since finds is a warning, as its start says), anything else as POST
  // /v1/flows/validate checks it.
  // The answer of a check that a later one (or a start's warnings, or a
  // flow's load) has followed is not shown: answers may come back in any
  // order, and the list must be of the flow in the editor.
  async function validate() {
    const seq = ++shownSeq;
    const text = ui.flowJSON.value.trim();
    if (!text) { showFlowErrors([]); return true; }
    try { JSON.parse(text); } catch (err) {
      showFlowErrors([{ path: "$", message: "not JSON: " + err.message }]);
      return false;
    }
    try {
      const r = await api("POST", "/v1/simulator/validate", text);
      if (seq === shownSeq) listFlowErrors(r.errors, r.warnings, r.stored);
      return r.valid;
    } catch (err) {
      if (seq === shownSeq) listFlowErrors([{ path: err.field || "$", message: err.message }]);
      return false;
    }
  }

  // ---- mocks ----
  let mockSeq = 0;
  function addMock(widget, status, body) {
    const row = $("#mock-row").content.firstElementChild.cloneNode(true);
    const n = ++mockSeq;
    for (const [cls, name] of [["mock-widget", "widget"], ["mock-status", "status"], ["mock-body", "body"]]) {
      const input = row.querySelector("." + cls);
      input.id = `mock-${n}-${name}`;
      input.previousElementSibling.setAttribute("for", input.id);
    }
    const error = row.querySelector(".mock-error");
    error.id = `mock-${n}-error`;
    row.querySelector(".mock-status").setAttribute("aria-describedby", error.id);
    if (widget) row.querySelector(".mock-widget").value = widget;
    if (status) row.querySelector(".mock-status").value = status;
    if (body !== undefined) row.querySelector(".mock-body").value = typeof body === "string" ? body : JSON.stringify(body, null, 2);
    row.querySelector(".mock-remove").addEventListener("click", () => {
      row.remove();
      ui.addMock.focus();
    });
    ui.mocks.append(row);
    return row;
  }
  ui.addMock.addEventListener("click", () => {
    const first = ui.widgets.querySelector("option");
    addMock(first ? first.value : "", 200).querySelector(".mock-widget").focus();
  });

  // mockStatus reads a mock's status: empty is 200; anything else must be
  // a whole number from 100 to 599, as the server requires. It returns
  // {status} or {error}. A number field holds "" for text that is no
  // number, so its validity tells that from an empty one.
  function mockStatus(input) {
    const text = input.value.trim();
    if (input.validity && input.validity.badInput) return { error: "the status is not a number: give an HTTP status from 100 to 599" };
    if (text === "") return { status: 200 };
    const n = Number(text);
    if (!Number.isInteger(n)) return { error: `status "${text}" is not a whole number: give an HTTP status from 100 to 599` };
    if (n < 100 || n > 599) return { error: `status ${n} is not an HTTP status (100-599)` };
    return { status: n };
  }

  // collectMocks reads the mock rows; a row whose status is wrong is
  // named under it, focused, and nothing is returned.
  function collectMocks() {
    const out = {};
    let bad = null;
    const rows = ui.mocks.querySelectorAll(".mock");
    for (let n = 0; n < rows.length; n++) {
      const row = rows[n];
      const error = row.querySelector(".mock-error");
      error.textContent = "";
      const id = row.querySelector(".mock-widget").value.trim();
      if (!id) continue;
      const input = row.querySelector(".mock-status");
      const { status, error: why } = mockStatus(input);
      if (why) {
        error.textContent = `Mock ${n + 1} (widget "${id}"): ${why}`;
        bad = bad || input;
        continue;
      }
      const raw = row.querySelector(".mock-body").value.trim();
      let body = raw;
      if (raw) { try { body = JSON.parse(raw); } catch (_) { body = raw; } }
      out[id] = { status, body: raw ? body : undefined };
    }
    if (bad) { bad.focus(); return null; }
    return out;
  }

  function collectVariables() {
    const out = {};
    for (const line of ui.variables.value.split("\n")) {
      const i = line.indexOf("=");
      if (i < 0) continue;
      const k = line.slice(0, i).trim();
      if (k) out[k] = line.slice(i + 1).trim();
    }
    return out;
  }

  // collectFields reads the contact fields, one "key = value" a line; a
  // line that is not one is named and nothing is returned.
  function collectFields() {
    const out = {};
    const lines = ui.fields.value.split("\n");
    for (let n = 0; n < lines.length; n++) {
      const line = lines[n];
      if (!line.trim()) continue;
      const i = line.indexOf("=");
      const k = i < 0 ? "" : line.slice(0, i).trim();
      if (!k) {
        ui.fieldsError.textContent = `Contact fields, line ${n + 1}: "${line.trim()}" is not key = value`;
        return null;
      }
      out[k] = line.slice(i + 1).trim();
    }
    ui.fieldsError.textContent = "";
    return out;
  }

  // ---- session ----
  ui.setup.addEventListener("submit", (ev) => { ev.preventDefault(); start(); });
  ui.restart.addEventListener("click", () => { if (lastStart) start(lastStart); });

  // lastStart is the request of the last session that started: Restart
  // sends it again, whatever the form holds since.
  let lastStart = null;

  // start starts a session from the form, or from again (a request that
  // started one before).
  async function start(again) {
    if (checking) await checking;
    if (busy) return;
    let body = again;
    if (!body) {
      const flow = parseFlow();
      if (!flow) { ui.flowJSON.focus(); return; }
      const fields = collectFields();
      if (!fields) { ui.fields.focus(); return; }
      const mocks = collectMocks();
      if (!mocks) return;
      body = {
        definition: flow,
        contact: { name: ui.name.value.trim(), urn: ui.urn.value.trim(), language: ui.language.value.trim(), fields },
        variables: collectVariables(),
        mocks,
      };
      if (flow.kind === "voice") body.call = { from: ui.caller.value.trim() };
    }
    // The session shown takes no input while another starts: what is typed
    // meanwhile would go nowhere.
    busy = true;
    setControls();
    ui.start.disabled = true;
    ui.startStatus.textContent = again ? "Restarting…" : "Starting…";
    ui.languageError.textContent = "";
    try {
      const voice = body.definition.kind === "voice";
      const reply = await api("POST", "/v1/simulator/sessions", body);
      lastStart = body;
      // The session running until now ends only once the new one has
      // started: a start that fails leaves it running, shown as it was.
      const old = session;
      if (old && !isEnded(old.status)) {
        await api("POST", `/v1/sessions/${old.id}/interrupt`).catch(() => {});
      }
      // The errors and warnings shown are the editor's: a restart of an
      // earlier definition leaves them alone.
      if (!again) showFlowErrors([], reply.warnings, reply.flow === body.definition.id ? { revision: reply.revision } : null);
      session = { id: reply.id, voice, status: reply.status, waiting: reply.waiting_for, flow: reply.flow };
      lastSeq = 0;
      ui.chat.replaceChildren();
      ui.events.replaceChildren();
      ui.layout.classList.add("live");
      placePanels();
      system(`Session ${reply.id} on ${reply.flow}${reply.revision ? " revision " + reply.revision : ""}`);
      ui.startStatus.textContent = "";
      if (reply.flow && reply.flow.startsWith("sim.")) loadFlows();
      await turn(reply);
    } catch (err) {
      if (err.details && err.details.length) {
        showFlowErrors(err.details);
        ui.startStatus.textContent = "The flow has errors: fix them and start again.";
        ui.flowJSON.focus();
      } else {
        ui.startStatus.textContent = (again ? "Could not restart: " : "Could not start: ") + err.message;
        // The server checks the language as it reads a contact's: its
        // message goes next to the field too.
        if (err.field === "contact.language" && !again) {
          ui.languageError.textContent = err.message;
          ui.language.focus();
        }
      }
    } finally {
      busy = false;
      ui.start.disabled = false;
      setControls();
      focusInput();
    }
  }

  function isEnded(status) {
    return ["completed", "expired", "failed", "interrupted"].includes(status);
  }

  // send runs one resume: what the contact did is shown first, then the turn.
  // It reports whether the server took the input, also when showing the
  // turn then failed, so that a form is cleared only of what was taken.
  async function send(body, shown) {
    if (checking) await checking;
    if (!session || busy) return false;
    busy = true;
    setControls();
    if (shown && shown.system) system(shown.system);
    else if (shown) {
      const b = bubble("contact", shown.text, shown.kind);
      for (const a of body.attachments || []) b.append(el("br"), attachment(a));
    }
    let taken = false;
    try {
      // A hang-up and an expiry are the simulator's own calls, without a body.
      const own = body.hangup ? "hangup" : body.expire ? "expire" : "";
      const path = own ? `/v1/simulator/sessions/${session.id}/${own}` : `/v1/sessions/${session.id}/resume`;
      const reply = await api("POST", path, own ? undefined : body);
      taken = true;
      await turn(reply);
      if (body.hangup && session.status === "waiting") {
        // Hung up while recording: as on a real call, the recording is
        // still taken for --call-timeout-grace, then the session ends.
        session.hungUp = true;
        const until = session.waiting && session.waiting.timeout_at ? new Date(session.waiting.timeout_at).toLocaleTimeString() : "";
        system(`The call ended while recording: a recording sent${until ? " until " + until : ""} is still taken, then the session ends`);
      }
      return true;
    } catch (err) {
      system(err.message, true);
      // A session that no longer waits (409) has moved on without the page
      // (a timeout the server fired, an interrupt): show what it did.
      const before = session.status;
      await refresh(err.status === 409 ? "Meanwhile, on the server:" : undefined);
      if (isEnded(session.status) && session.status !== before) system(`Session ${session.status}`);
      return taken;
    } finally {
      busy = false;
      setControls();
      focusInput();
    }
  }

  // turn renders a turn's reply and refreshes variables and events.
  async function turn(reply) {
    ui.quick.replaceChildren();
    for (const m of reply.messages || []) renderMessage(m);
    session.status = reply.status;
    session.waiting = reply.waiting_for || null;
    await refresh();
    if (isEnded(session.status)) system(`Session ${session.status}`);
    setControls();
  }

  function renderMessage(m) {
    switch (m.type) {
      case "message_out": {
        const b = bubble("flow", m.text);
        for (const a of m.attachments || []) b.append(el("br"), attachment(a));
        ui.quick.replaceChildren();
        for (const q of m.quick_replies || []) {
          const btn = el("button", { type: "button", text: q });
          btn.addEventListener("click", () => send({ text: q }, { text: q }));
          ui.quick.append(btn);
        }
        break;
      }
      case "say": bubble("flow", m.text, "says"); break;
      case "play": bubble("flow", m.url, "plays"); break;
      case "gather":
        if (m.text) bubble("flow", m.text, "says");
        else if (m.url) bubble("flow", m.url, "plays");
        break;
      case "record":
        bubble("flow", `Recording after ${m.play_beep ? "the beep" : "the prompt"}: up to ${m.max_length}s, ${m.timeout}s of silence${m.finish_key ? " or " + m.finish_key : ""} ends it`, "records");
        break;
      case "hangup": system("The flow hung up"); break;
      default: if (m.text) bubble("flow", m.text, m.type);
    }
  }

  // attachment is a message's attachment ("image/jpeg:https://..." or a
  // URL): a link when it is an http: or https: URL, else plain text, so that
  // a flow's attachment cannot make a javascript: or data: link on this page.
  function attachment(a) {
    const href = a.replace(/^[^:]*:(?=https?:)/i, "");
    let url = null;
    try { url = new URL(href); } catch { /* not an absolute URL */ }
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
      return el("span", { class: "attachment", text: a });
    }
    return el("a", { href: url.href, target: "_blank", rel: "noopener noreferrer", text: a });
  }

  function bubble(who, text, kind) {
    const b = el("div", { class: `bubble ${who}` });
    if (kind) b.append(el("span", { class: "kind", text: kind }));
    b.append(document.createTextNode(text || ""));
    ui.chat.append(b);
    ui.chat.scrollTop = ui.chat.scrollHeight;
    return b;
  }

  function system(text, error) {
    ui.chat.append(el("div", { class: "system" + (error ? " error" : ""), text }));
    ui.chat.scrollTop = ui.chat.scrollHeight;
  }

  function setControls() {
    const s = session;
    const waiting = !!(s && s.status === "waiting" && s.waiting);
    const digits = waiting && s.waiting.kind === "digits";
    const recording = waiting && s.waiting.kind === "recording";
    ui.status.textContent = s ? s.status : "no session";
    ui.status.className = "badge " + (s ? s.status : "");
    ui.restart.disabled = !s || busy;
    ui.composer.hidden = !!(s && s.voice);
    ui.keypadArea.hidden = !(s && s.voice);
    ui.message.disabled = ui.send.disabled = busy || !waiting || digits || recording;
    ui.recordingForm.hidden = !recording;
    ui.recordingURL.disabled = ui.recordingSeconds.disabled = busy || !recording;
    ui.sendRecording.disabled = ui.noRecording.disabled = busy || !recording;
    ui.digits.disabled = ui.sendDigits.disabled = busy || !digits;
    for (const k of ui.keypadArea.querySelectorAll(".keypad button")) k.disabled = busy || !digits;
    ui.hangup.disabled = busy || !s || !s.voice || isEnded(s.status) || !!s.hungUp;
    for (const q of ui.quick.querySelectorAll("button")) q.disabled = busy || !waiting;
    ui.fireTimeout.disabled = busy || !waiting || !s.waiting.timeout;
    ui.expire.disabled = busy || !s || s.status !== "waiting";
    let info = "";
    if (waiting) {
      const w = s.waiting;
      info = w.kind === "digits"
        ? `Waiting for ${w.num_digits ? w.num_digits + " digit" + (w.num_digits > 1 ? "s" : "") : "digits"}${w.finish_key ? ", end with " + w.finish_key : ""}`
        : w.kind === "recording" ? "Waiting for a recording: give its URL, or press Nothing recorded"
        : "Waiting for a message";
      if (w.timeout) info += ` (timeout ${w.timeout}s)`;
    }
    ui.waitInfo.textContent = info;
    if (!busy && !checking) watchTimeout();
  }

  function focusInput() {
    if (!session || session.status !== "waiting") return;
    if (session.waiting && session.waiting.kind === "recording") ui.recordingURL.focus();
    else if (session.voice) ui.digits.focus(); else ui.message.focus();
  }

  // The text is cleared once the server has taken the message; one it
  // refuses (an attachment not CONTENT-TYPE:URL) stays, to be corrected.
  ui.composer.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = ui.message.value;
    if (!text.trim()) return;
    const m = messageOf(text);
    if (m.error) {
      // Nothing is sent: the text stays, to be completed.
      system(m.error, true);
      return;
    }
    if (m.expire) {
      if (await send({ expire: true }, { system: "Session expiry passed" }) && ui.message.value === text) ui.message.value = "";
      return;
    }
    if (await send(m, { text: m.text }) && ui.message.value === text) ui.message.value = "";
  });

  // messageOf reads what the author typed: "/attach CONTENT-TYPE:URL [TEXT]"
  // sends an attachment (image/jpeg:https://...), "/location LAT,LNG [TEXT]"
  // a location (geo:LAT,LNG), each with the text after it if any, as the
  // terminal simulator reads them ("//attach ..." is the text "/attach
  // ..."); "/expire" expires the session, as the Expire now button does
  // ("//expire" is the text "/expire"); anything else is the text. The
  // server checks the attachment; a command without one is an error, as in
  // the terminal simulator.
  function messageOf(text) {
    if (/^\/\/(attach|location|expire)\b/.test(text.trim())) return { text: text.trim().slice(1) };
    if (text.trim() === "/expire") return { expire: true };
    if (/^\/expire\s/.test(text.trim())) return { error: `${text.trim()}: /expire takes nothing after it` };
    if (text.trim() === "/attach") return { error: "/attach needs an attachment: /attach image/jpeg:https://example.com/photo.jpg [TEXT]" };
    if (text.trim() === "/location") return { error: "/location needs a latitude and longitude: /location -1.2921,36.8219 [TEXT]" };
    const m = /^\/(attach|location)\s+(\S+)\s*([\s\S]*)$/.exec(text.trim());
    if (!m) return { text };
    const a = m[1] === "location" ? "geo:" + m[2] : m[2];
    return { text: m[3], attachments: [a] };
  }

  // A recording is given as its URL, with its length when known; nothing
  // recorded is a recording without a URL, which takes No Input. A URL the
  // server refuses stays in the form, to be corrected.
  ui.recordingForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const url = ui.recordingURL.value.trim();
    if (!url) return;
    const body = { recording_url: url };
    const seconds = ui.recordingSeconds.value.trim();
    if (seconds !== "") body.recording_duration = Number(seconds);
    if (await send(body, { text: url + (seconds !== "" ? ` (${seconds}s)` : ""), kind: "recorded" })) {
      ui.recordingURL.value = ui.recordingSeconds.value = "";
    }
  });
  ui.noRecording.addEventListener("click", () => send({ recording_url: "" }, { text: "nothing", kind: "recorded" }));

  ui.digitsForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    sendDigits();
  });
  function sendDigits() {
    const d = ui.digits.value.trim();
    if (!d) return;
    ui.digits.value = "";
    send({ digits: d }, { text: d, kind: "pressed" });
  }
  for (const k of ui.keypadArea.querySelectorAll(".keypad button")) {
    k.addEventListener("click", () => {
      const key = k.dataset.key;
      const w = session && session.waiting;
      if (!w) return;
      if (w.finish_key && key === w.finish_key) { sendDigits(); return; }
      ui.digits.value += key;
      if (w.num_digits && ui.digits.value.length >= w.num_digits) sendDigits();
    });
  }
  ui.hangup.addEventListener("click", () => send({ hangup: true }, { text: "hung up", kind: "call" }));
  ui.fireTimeout.addEventListener("click", () => send({ timeout: true }, { system: "Timeout fired" }));
  ui.expire.addEventListener("click", () => send({ expire: true }, { system: "Session expiry passed" }));

  // ---- variables and events ----
  // refresh reads the session and its new events. With serverTurn (a line
  // for the chat) it also shows the messages among those events: they come
  // from a turn the server ran on its own (a wait's timeout), whose reply the
  // page never saw. It returns the new events.
  async function refresh(serverTurn) {
    if (!session) return [];
    const id = session.id;
    try {
      const [s, events] = await Promise.all([api("GET", `/v1/sessions/${id}`), eventsAfter(id, lastSeq)]);
      if (!session || session.id !== id) return [];
      session.status = s.status;
      session.waiting = s.waiting_for || null;
      session.channel = s.channel ? s.channel.id : "";
      renderVariables(s.variables || {});
      if (serverTurn && events.length) {
        system(serverTurn);
        ui.quick.replaceChildren();
      }
      for (const e of events) {
        if (serverTurn && messageTypes.includes(e.type)) renderMessage(e);
        renderEvent(e);
        lastSeq = Math.max(lastSeq, e.seq);
      }
      ui.events.lastElementChild && ui.events.parentElement && (ui.events.scrollTop = ui.events.scrollHeight);
      return events;
    } catch (err) {
      system("Could not refresh: " + err.message, true);
      return [];
    }
  }

  // eventsAfter reads all of a session's events after seq, page by page (a
  // page holds 500; "next" names where the following one starts).
  async function eventsAfter(id, seq) {
    const out = [];
    for (let after = seq; ;) {
      const page = await api("GET", `/v1/sessions/${id}/events?after=${after}`);
      const events = page.events || [];
      out.push(...events);
      if (!page.next || !events.length) return out;
      after = page.next;
    }
  }

  // Events that are something the flow said, as in a turn's messages.
  const messageTypes = ["message_out", "say", "play", "gather", "record", "hangup"];

  // The server fires a wait's timeout by itself (at waiting_for.timeout_at):
  // the page looks again a little after that time, and again every 1.2 s
  // while it is overdue (the server scans its timers every second; after 10 s
  // overdue every 5 s), to show what the Timeout branch did.
  let waitTimer = 0;
  let waitTimerFor = "";
  function watchTimeout() {
    const w = session && session.status === "waiting" && session.waiting;
    const due = w && w.timeout_at ? Date.parse(w.timeout_at) : NaN;
    const key = session && !isNaN(due) ? `${session.id} ${w.timeout_at}` : "";
    if (key === waitTimerFor) return;
    clearTimeout(waitTimer);
    waitTimerFor = key;
    if (!key) return;
    const now = Date.now();
    // Overdue for long, the server may be busy or its timers stopped: look
    // less often.
    const delay = due > now ? due - now + 1200 : (now - due > 10000 ? 5000 : 1200);
    waitTimer = setTimeout(checkTimeout, delay);
  }

  // checking is the look at a wait's timeout in progress, if any: a send or
  // start waits for it rather than running beside it. The controls stay
  // enabled meanwhile, so the one being typed in keeps its focus.
  let checking = null;
  async function checkTimeout() {
    const key = waitTimerFor;
    waitTimerFor = "";
    if (!session) return;
    if (busy) { waitTimer = setTimeout(checkTimeout, 500); waitTimerFor = key; return; }
    checking = (async () => {
      const before = session.status;
      await refresh("Timeout fired by the server");
      if (isEnded(session.status) && session.status !== before) system(`Session ${session.status}`);
    })();
    try {
      await checking;
    } finally {
      checking = null;
      setControls();
    }
  }

  function table(rows) {
    const t = el("table");
    for (const [k, v] of rows) t.append(el("tr", null, el("th", { scope: "row", text: k }), el("td", { text: v })));
    return t;
  }

  function renderVariables(v) {
    const parts = [];
    const results = Object.entries(v.flow || {});
    parts.push(el("h3", { text: "@flow" }));
    parts.push(results.length
      ? table(results.map(([k, r]) => [`@flow.${k}`, r.value + (r.category ? `  (${r.category})` : "")]))
      : el("p", { class: "hint", text: "no results yet" }));
    parts.push(el("h3", { text: "@extra" }));
    parts.push(v.extra ? el("pre", { text: JSON.stringify(v.extra, null, 2) }) : el("p", { class: "hint", text: "empty" }));
    if (v.call) {
      parts.push(el("h3", { text: "$call" }));
      parts.push(table(Object.entries(v.call).filter(([, x]) => x !== "" && x !== null).map(([k, x]) => [`$call.${k}`, String(x)])));
    }
    const user = Object.entries(v.user || {});
    parts.push(el("h3", { text: "$user.key" }));
    parts.push(user.length ? table(user.map(([k, x]) => [`$user.key.${k}`, x])) : el("p", { class: "hint", text: "none" }));
    ui.vars.replaceChildren(...parts);
  }

  function statusOf(e) {
    if (e.type === "webhook_called") {
      const ok = e.outcome === "success";
      return { text: e.status ? `${e.status} ${e.outcome || ""}`.trim() : (e.outcome || "no answer"), ok };
    }
    if (e.session_status) return { text: e.session_status, ok: e.session_status === "completed" };
    if (e.type === "error") return { text: "error", ok: false };
    if (e.category) return { text: e.category, ok: true };
    return null;
  }

  function summaryText(e) {
    return e.text || e.message || (e.type === "webhook_called" && e.request ? `${e.request.method || e.method || ""} ${e.request.url || e.url || ""}` : "")
      || (e.name ? `${e.name} = ${e.value || ""}` : "") || e.url || "";
  }

  function traceBlock(title, t) {
    const lines = [];
    if (t.method || t.url) lines.push(`${t.method || ""} ${t.url || ""}`.trim());
    if (t.status) lines.push(`HTTP ${t.status}`);
    for (const [k, v] of Object.entries(t.headers || {})) lines.push(`${k}: ${v}`);
    let body = t.body || "";
    try { body = JSON.stringify(JSON.parse(body), null, 2); } catch (_) { /* not JSON: as sent */ }
    if (body) lines.push("", body);
    if (t.truncated) lines.push("(truncated)");
    return [el("h4", { text: title }), el("pre", { class: "trace", text: lines.join("\n") })];
  }

  function renderEvent(e) {
    const st = statusOf(e);
    const time = e.time ? new Date(e.time).toLocaleTimeString() : "";
    const summary = el("summary", null,
      el("span", { class: "etype", text: e.type }),
      st ? el("span", { class: "estatus " + (st.ok ? "ok" : "bad"), text: st.text }) : null,
      e.widget ? el("span", { class: "meta", text: "widget " + e.widget }) : null,
      el("span", { class: "meta", text: "channel " + (session.channel || "simulator") }),
      e.attempts ? el("span", { class: "meta", text: `${e.attempts} attempt${e.attempts > 1 ? "s" : ""}` }) : null,
      el("span", { class: "meta", text: time }),
      summaryText(e) ? el("span", { class: "etext", text: summaryText(e) }) : null);
    const body = el("div", { class: "body" });
    if (e.type === "webhook_called") {
      if (e.request) body.append(...traceBlock("Request sent", e.request));
      if (e.response) body.append(...traceBlock("Response received", e.response));
      else body.append(el("h4", { text: "Response received" }), el("p", { class: "hint", text: e.message || "no response" }));
    }
    body.append(el("h4", { text: "JSON" }), el("pre", { class: "json", text: JSON.stringify(e, null, 2) }));
    const li = el("li", { class: "event", "data-type": e.type, "data-seq": e.seq }, el("details", null, summary, body));
    ui.events.append(li);
  }

  // ---- layout ----
  // On a narrow screen (one column) the conversation comes first once a
  // session runs. It is moved in the document, not only drawn first, so that
  // Tab goes through the page in the order it is shown.
  const narrow = window.matchMedia("(max-width: 44rem)");
  function placePanels() {
    const first = narrow.matches && ui.layout.classList.contains("live") ? ui.phone : ui.setupPanel;
    if (ui.layout.firstElementChild === first) return;
    const focused = document.activeElement;
    ui.layout.insertBefore(first, ui.layout.firstElementChild);
    if (focused && focused !== document.activeElement) focused.focus({ preventScroll: true });
  }
  narrow.addEventListener("change", placePanels);

  // ---- init ----
  loadFlows();
  setControls();
})();
