// The tunegen page: settings built from GET /api/models (only the options a model takes are
// offered), POST /api/pieces, the sheet, the audio and the downloads. `?kiosk=1` plays new pieces
// one after another (`&model=folk&model=piano` rotates models, `&pause=2` seconds between them).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { models: [], history: [] };
const FILE_LABELS = { abc: "ABC", mid: "MIDI", wav: "WAV", svg: "SVG" };

function model() {
  return state.models.find((m) => m.name === $("model").value) || state.models[0];
}

function say(text) { $("status").textContent = text; }

function showError(text) {
  $("error").textContent = text || "";
  $("error").hidden = !text;
}

function control(opt) {
  // one labelled input per option; "choice" options (form and key controls) become a select
  const id = "opt-" + opt.name;
  const wrap = document.createElement("div");
  const label = document.createElement("label");
  label.htmlFor = id;
  label.textContent = opt.label;
  label.title = opt.help || "";
  let input;
  if (opt.type === "choice") {
    input = document.createElement("select");
    for (const c of ["", ...opt.choices]) {
      const o = document.createElement("option");
      o.value = c;
      o.textContent = c || "model's choice";
      input.append(o);
    }
  } else {
    input = document.createElement("input");
    input.type = opt.type === "text" ? "text" : "number";
    if (opt.step !== undefined) input.step = opt.step;
    if (opt.type !== "text" && opt.min !== undefined) input.min = opt.min;
    if (opt.type !== "text" && opt.max !== undefined) input.max = opt.max;
    if (opt.type === "number") input.inputMode = "decimal";
    input.placeholder = opt.default !== undefined ? String(opt.default) : (opt.name === "seed" ? "new" : "");
  }
  input.id = id;
  input.name = opt.name;
  input.dataset.type = opt.type;
  input.setAttribute("aria-describedby", "error");
  wrap.append(label, input);
  return wrap;
}

function buildOptions() {
  const m = model();
  $("options").replaceChildren(...m.options.filter((o) => !o.more).map(control));
  $("more-options").replaceChildren(...m.options.filter((o) => o.more).map(control));
  $("new").textContent = "New " + m.noun;
}

function settings() {
  // what the form says; empty fields are left out, so the model's defaults apply
  const body = { model: model().name };
  for (const input of document.querySelectorAll("#options [name], #more-options [name]")) {
    const raw = input.value.trim();
    if (raw === "") continue;
    const type = input.dataset.type;
    body[input.name] = type === "int" || type === "number" ? Number(raw) : raw;
  }
  return body;
}

async function request(body) {
  const r = await fetch("/api/pieces", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  let data = {};
  try { data = await r.json(); } catch (e) { data = { error: `the server answered ${r.status}` }; }
  if (r.status === 503) {
    const wait = r.headers.get("Retry-After") || "a few";
    throw new Error(`The device is busy: try again in ${wait} s.`);
  }
  if (!r.ok) throw new Error(data.error || `the server answered ${r.status}`);
  return data;
}

function show(piece) {
  const sheet = $("sheet");
  if (piece.files.svg) {
    const img = new Image();
    img.alt = `Sheet music of ${piece.model}, seed ${piece.seed}`;
    img.src = piece.files.svg;
    sheet.replaceChildren(img);
  } else {
    const p = document.createElement("p");
    p.className = "hint";
    p.textContent = (piece.problems || ["no sheet music"]).join("; ");
    sheet.replaceChildren(p);
  }
  const audio = $("audio");
  audio.src = piece.files.wav || "";
  $("description").textContent = `${piece.model}: ${piece.description}`;
  const links = Object.entries(piece.files).map(([ext, url]) => {
    const a = document.createElement("a");
    a.href = url;
    a.download = url.split("/").pop();
    a.textContent = FILE_LABELS[ext] || ext.toUpperCase();
    a.dataset.ext = ext;
    return a;
  });
  $("downloads").replaceChildren(...links);
}

function remember(piece) {
  state.history.unshift(piece);
  state.history.length = Math.min(state.history.length, 12);
  try { sessionStorage.setItem("tunegen-history", JSON.stringify(state.history)); } catch (e) { /* private mode */ }
  drawHistory();
}

function drawHistory() {
  $("history").replaceChildren(...state.history.map((p) => {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = `${p.model}: ${p.description}`;
    b.title = "Show it again (and put its seed in the settings)";
    b.addEventListener("click", () => again(p));
    li.append(b);
    return li;
  }));
}

async function again(p) {
  // the server keeps a bounded number of pieces: one it dropped is made again from its settings
  $("model").value = p.model;
  buildOptions();
  $("opt-seed").value = p.seed;
  const r = await fetch(`/api/pieces/${p.id}`);
  if (r.ok) { show(await r.json()); return; }
  await make({ model: p.model, ...p.settings });
}

async function make(body) {
  const button = $("new");
  button.disabled = true;
  showError("");
  const started = performance.now();
  say("composing…");
  try {
    const piece = await request(body);
    show(piece);
    remember(piece);
    say(`made in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return piece;
  } catch (e) {
    showError(e.message);
    say("");
    return null;
  } finally {
    button.disabled = false;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function kiosk(params) {
  // the next piece is made while the current one plays, so the pause is the only gap
  document.body.classList.add("kiosk");
  const names = params.getAll("model").filter((n) => state.models.some((m) => m.name === n));
  const rotation = names.length ? names : state.models.map((m) => m.name);
  const pause = Math.max(0, Number(params.get("pause") || 1)) * 1000;
  const extra = {};
  if (params.get("temperature")) extra.temperature = Number(params.get("temperature"));
  const audio = $("audio");
  let turn = 0;
  const next = async () => {
    for (;;) {
      try { return await request({ model: rotation[turn++ % rotation.length], ...extra }); }
      catch (e) { $("description").textContent = e.message; await sleep(5000); }
    }
  };
  let coming = next();
  for (;;) {
    const piece = await coming;
    show(piece);
    coming = next();
    const ended = new Promise((r) => audio.addEventListener("ended", r, { once: true }));
    try { await audio.play(); } catch (e) {
      // the browser wants a touch before it plays sound (start Chromium with
      // --autoplay-policy=no-user-gesture-required to skip this)
      $("start").hidden = false;
      await new Promise((r) => $("start-button").addEventListener("click", r, { once: true }));
      $("start").hidden = true;
      await audio.play();
    }
    await ended;
    await sleep(pause);
  }
}

async function main() {
  try {
    const r = await fetch("/api/models");
    state.models = (await r.json()).models;
  } catch (e) {
    say("cannot reach the tunegen server");
    return;
  }
  const select = $("model");
  for (const m of state.models) {
    const o = document.createElement("option");
    o.value = m.name;
    o.textContent = `${m.name} (${m.noun}s)`;
    o.selected = m.default;
    select.append(o);
  }
  select.addEventListener("change", buildOptions);
  buildOptions();
  try { state.history = JSON.parse(sessionStorage.getItem("tunegen-history") || "[]"); } catch (e) { state.history = []; }
  drawHistory();
  $("settings").addEventListener("submit", (ev) => { ev.preventDefault(); make(settings()); });
  $("new").disabled = false;
  say("ready");
  const params = new URLSearchParams(location.search);
  if (params.get("kiosk")) kiosk(params);
}

main();
