// The operator console: plain DOM code, no build step. Data is only ever set as text, never as HTML.
"use strict";

const KEY = "passthrough-audiences.key";
const $ = (selector) => document.querySelector(selector);
let refreshing = null;

function element(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

function say(message, isError = false) {
  const status = $("#status");
  status.textContent = message;
  status.classList.toggle("error", isError);
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "—";
}

class SignedOut extends Error {}

async function api(path) {
  const response = await fetch("console/api/" + path, { headers: { "x-api-key": sessionStorage.getItem(KEY) || "" } });
  const body = await response.json();
  if (response.status === 401) throw new SignedOut(body.error.message);
  if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
  return body;
}

function row(cells) {
  const tr = element("tr");
  for (const cell of cells) tr.append(cell instanceof Node ? wrap(cell) : element("td", cell));
  return tr;
}

function wrap(node) {
  const td = element("td");
  td.append(node);
  return td;
}

// At a phone's width each row is a card: every cell says which column it is. The roles keep
// it a table for screen readers, which a CSS display other than table would otherwise undo.
function labelCells(table) {
  const names = [...table.querySelectorAll("thead th")].map((th) => th.textContent);
  table.setAttribute("role", "table");
  for (const th of table.querySelectorAll("thead th")) th.setAttribute("role", "columnheader");
  for (const tr of table.querySelectorAll("tr")) tr.setAttribute("role", "row");
  for (const tr of table.querySelectorAll("tbody tr")) {
    [...tr.children].forEach((td, i) => {
      td.setAttribute("role", "cell");
      td.setAttribute("data-label", names[i] || "");
    });
  }
}

async function showAudiences() {
  const { audiences } = await api("audiences");
  const body = $("#audiences tbody");
  body.replaceChildren();
  for (const audience of audiences) {
    const size = element("td", audience.size.toLocaleString(), { class: "number", "data-size": audience.size });
    const chart = element("button", "Size history", { type: "button", class: "link" });
    chart.setAttribute("aria-label", `Size history of ${audience.name}`);
    chart.addEventListener("click", () => showHistory(audience).catch(failed));
    const tr = row([
      audience.name, audience.key, audience.origin || "—", audience.enabled ? "yes" : "no", "",
      `${when(audience.updated_at)} by ${audience.updated_by || "—"}`, chart,
    ]);
    tr.children[4].replaceWith(size);
    tr.dataset.key = audience.key;
    body.append(tr);
  }
  if (!audiences.length) body.append(row(["No audiences yet: create one through any dialect."]));
  labelCells($("#audiences"));
}

async function showHistory(audience) {
  const { points } = await api(`audiences/${encodeURIComponent(audience.audience_id)}/sizes`);
  $("#history").hidden = false;
  $("#history-title").textContent = `Size of ${audience.name} over time`;
  const svg = $("#chart");
  svg.replaceChildren();
  const times = points.map((p) => Date.parse(p.at));
  const sizes = points.map((p) => p.size);
  const [t0, t1] = [Math.min(...times), Math.max(...times)];
  const top = Math.max(1, ...sizes);
  const x = (t) => (t1 === t0 ? 300 : 20 + ((t - t0) / (t1 - t0)) * 560);
  const y = (size) => 200 - (size / top) * 180;
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", points.map((p, i) => `${x(times[i])},${y(p.size)}`).join(" "));
  svg.append(line);
  points.forEach((p, i) => {
    const dot = document.createElementNS("http://www.w3.org/2000/svg", "circle");
    dot.setAttribute("cx", x(times[i]));
    dot.setAttribute("cy", y(p.size));
    dot.setAttribute("r", 4);
    svg.append(dot);
  });
  const list = $("#history-points");
  list.replaceChildren(...points.map((p) => element("li", `${when(p.at)}: ${p.size.toLocaleString()} (${p.source === "now" ? "now" : "after import"})`)));
}

function progress(record) {
  if (record.status !== "PROCESSING") return record.rows === null ? "—" : `${record.rows.toLocaleString()} rows`;
  const total = record.changes_total ?? record.rows;
  const done = record.changes_total !== null ? record.changes_applied : record.rows_done;
  if (!total) return element("span", `reading… ${record.rows_done.toLocaleString()} rows`);
  return element("progress", `${done} of ${total}`, { max: total, value: done, "aria-label": `${done} of ${total}` });
}

function counts(record) {
  if (record.qualified === null) return "—";
  const after = record.size_after === null ? "" : `, size after ${record.size_after.toLocaleString()}`;
  return `+${record.qualified} −${record.disqualified} =${record.unchanged}${after}`;
}

function errors(record) {
  if (!record.error_count && !record.message) return "—";
  const details = element("details");
  details.append(element("summary", record.error_count ? `${record.error_count} line error${record.error_count === 1 ? "" : "s"}` : "why"));
  if (record.message) details.append(element("p", record.message));
  const list = element("ul");
  for (const e of record.errors) list.append(element("li", `line ${e.line}: ${e.message}`));
  if (record.errors.length) details.append(list);
  if (record.error_count) details.open = true;
  return details;
}

async function showActivity() {
  const { activity } = await api("activity?limit=25");
  const body = $("#activity tbody");
  body.replaceChildren();
  for (const record of activity) {
    const status = element("span", record.status, { class: `status-${record.status}` });
    const tr = row([when(record.uploaded_at), record.audience, record.kind, status, progress(record), counts(record), errors(record)]);
    tr.dataset.importId = record.import_id;
    body.append(tr);
  }
  if (!activity.length) body.append(row(["No imports yet."]));
  labelCells($("#activity"));
  return activity.some((record) => record.status === "PROCESSING");
}

async function lookUp(event) {
  event.preventDefault();
  const field = $("#field").value.trim();
  const value = $("#value").value.trim();
  const found = await api(`customers?field=${encodeURIComponent(field)}&value=${encodeURIComponent(value)}`);
  const out = $("#customer");
  out.replaceChildren();
  if (!found.known) return out.append(element("p", `Nothing is known of ${field} = ${value}.`));
  if (!found.audiences.length) return out.append(element("p", `${field} = ${value} is in no audience.`));
  const list = element("ul");
  for (const a of found.audiences) list.append(element("li", `${a.name} (${a.key}), since ${when(a.since)}`));
  out.append(element("p", `${field} = ${value} is in ${found.audiences.length} audiences:`), list);
}

async function showPrivacy(field, value) {
  const found = await api(`privacy?field=${encodeURIComponent(field)}&value=${encodeURIComponent(value)}`);
  const body = $("#privacy tbody");
  body.replaceChildren();
  for (const r of found.requests) {
    const status = element("span", r.status + (r.step ? ` (${r.step})` : ""), { class: `status-${r.status}` });
    body.append(row([when(r.created_at), r.kind, r.asked_through, status, r.finished_at ? when(r.finished_at) : "", r.request_id]));
  }
  if (!found.requests.length) body.append(row(["No privacy request names them."]));
  labelCells($("#privacy"));
}

async function refresh() {
  const busy = await showActivity();
  await showAudiences();
  clearTimeout(refreshing);
  refreshing = setTimeout(() => refresh().catch(failed), busy ? 2000 : 5000);  // faster while imports run
}

function signedIn(on) {
  $("#sign-in").hidden = on;
  $("#signed-in").hidden = !on;
  $("#sign-out").hidden = !on;
}

function failed(error) {
  if (error instanceof SignedOut) {
    sessionStorage.removeItem(KEY);
    clearTimeout(refreshing);
    signedIn(false);
    say(`Wrong key: ${error.message}.`, true);
  } else {
    say(error.message, true);
  }
}

async function start() {
  signedIn(true);
  say("Loading…");
  await refresh();
  say("Signed in.");
}

$("#sign-in-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY, $("#key").value.trim());
  $("#key").value = "";
  start().catch(failed);
});
$("#sign-out").addEventListener("click", () => {
  sessionStorage.removeItem(KEY);
  clearTimeout(refreshing);
  signedIn(false);
  say("Signed out.");
});
$("#customer-form").addEventListener("submit", (event) => {
  lookUp(event).catch(failed);
  showPrivacy($("#field").value.trim(), $("#value").value.trim()).catch(failed);
});
if (sessionStorage.getItem(KEY)) start().catch(failed);
