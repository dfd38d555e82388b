// The kfstack UI: a page per view, routed by the location's hash
// (#/ns/<namespace>/runs, …/runs/<run>, …/experiments/<name>,
// …/pipelines/<name>, …/lineage/…). Data comes from the UI's API
// (/api/v1), which answers for the signed-in user only; live updates come
// as server-sent events. Everything is built as DOM nodes with text
// content: nothing a run, a task or an artifact holds is ever parsed as
// HTML.

import { Graph, duration, countsText, drawPlain, expandable } from "./dag.js";
import { confusionMatrix, rocCurve, barChart, fmt } from "./charts.js";
import { renderMarkdown } from "./markdown.js";

// Every URL is relative to the page, so the UI works under any path prefix
// (the Istio gateway routes a prefix such as /pipelines-ui/ to it).
const API = "api/v1";
const PHASES = ["Pending", "Running", "Succeeded", "Failed", "Cancelled"];
let cleanups = [];
let namespaces = [];

// h builds an element: h("a", {href, class, onclick}, children…).
function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k in e && typeof v !== "string") e[k] = v;
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) e.append(c);
  return e;
}

class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function request(path, opts = {}) {
  const headers = { ...(opts.headers || {}) };
  if (opts.method && opts.method !== "GET") {
    headers["X-Kfstack-Request"] = "1";
    headers["Content-Type"] = "application/json";
  }
  const res = await fetch(path.startsWith(API) ? path : API + "/" + path, { ...opts, headers, credentials: "same-origin" });
  if (res.status === 401) {
    const body = await res.json().catch(() => ({}));
    if (body.login) {
      location.href = body.login + "?return=" + encodeURIComponent(location.pathname + location.search + location.hash);
    }
    throw new APIError(401, body.error || "not signed in");
  }
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    throw new APIError(res.status, body.error || res.status + " " + res.statusText);
  }
  return res;
}

async function api(path, opts) {
  const res = await request(path, opts);
  return res.json();
}

function post(path, body) {
  return api(path, { method: "POST", body: JSON.stringify(body) });
}

function banner(msg, kind) {
  const b = document.getElementById("banner");
  if (!msg) {
    b.hidden = true;
    return;
  }
  b.hidden = false;
  b.className = "banner" + (kind ? " " + kind : "");
  b.textContent = msg;
}

function badge(phase, extra) {
  return h("span", { class: "badge phase-" + (phase || "Pending"), "data-phase": phase || "Pending" }, (phase || "Pending") + (extra || ""));
}

function when(t) {
  if (!t) return "";
  const d = new Date(t);
  return d.toLocaleString(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function phaseBar(tasks) {
  const total = Object.values(tasks || {}).reduce((a, b) => a + b, 0);
  const bar = h("span", { class: "bar", title: countsText(tasks) });
  if (!total) return bar;
  for (const p of ["Succeeded", "Running", "Ready", "Waiting", "Failed", "Cancelled", "Skipped", "Pending"]) {
    if (!tasks[p]) continue;
    const s = h("span", { class: "phase-" + p });
    s.style.width = (100 * tasks[p]) / total + "%";
    bar.append(s);
  }
  return bar;
}

function json(v) {
  return typeof v === "string" ? v : JSON.stringify(v);
}

function enc(s) {
  return encodeURIComponent(s);
}

function link(hash, text) {
  return h("a", { href: "#" + hash }, text);
}

function main() {
  return document.getElementById("main");
}

// fill replaces an element's children, skipping the absent ones (a
// condition's null or false), which replaceChildren would show as text.
function fill(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== undefined && c !== null && c !== false));
}

function setMain(...children) {
  fill(main(), ...children);
}

function onCleanup(f) {
  cleanups.push(f);
}

// live opens a server-sent event stream closed when the page changes.
function live(url, handlers) {
  const es = new EventSource(url);
  for (const [ev, f] of Object.entries(handlers)) es.addEventListener(ev, (e) => f(e.data ? JSON.parse(e.data) : {}));
  onCleanup(() => es.close());
  return es;
}

function throttle(f, ms) {
  let timer = null, again = false;
  const run = async () => {
    again = false;
    try {
      await f();
    } finally {
      timer = setTimeout(() => {
        timer = null;
        if (again) run();
      }, ms);
    }
  };
  const t = () => {
    if (timer) again = true;
    else run();
  };
  onCleanup(() => clearTimeout(timer));
  return t;
}

// ---- shell ----

async function shell() {
  const me = await api("whoami");
  const user = document.getElementById("user");
  fill(user, h("span", { "data-testid": "user" }, me.user));
  if (me.logout) user.append(h("a", { href: me.logout }, "sign out"));
  namespaces = await api("namespaces");
  const sel = document.getElementById("namespace");
  fill(sel, ...namespaces.map((n) => h("option", { value: n.name }, n.name)));
  sel.addEventListener("change", () => {
    const parts = location.hash.split("/");
    const section = parts[3] && ["runs", "experiments", "pipelines"].includes(parts[3].split("?")[0]) ? parts[3].split("?")[0] : "runs";
    location.hash = "#/ns/" + enc(sel.value) + "/" + section;
  });
}

function nav(ns, active) {
  const n = document.getElementById("nav");
  fill(n, 
    ...["runs", "experiments", "pipelines"].map((s) => h("a", { href: "#/ns/" + enc(ns) + "/" + s, class: s === active ? "active" : "" }, s[0].toUpperCase() + s.slice(1))),
  );
  const sel = document.getElementById("namespace");
  if (![...sel.options].some((o) => o.value === ns)) sel.append(h("option", { value: ns }, ns));
  sel.value = ns;
}

async function route() {
  for (const f of cleanups) f();
  cleanups = [];
  banner("");
  document.body.dataset.ready = "";
  const [path, query] = location.hash.replace(/^#/, "").split("?");
  const q = new URLSearchParams(query || "");
  const p = path.split("/").filter(Boolean).map(decodeURIComponent);
  try {
    if (p[0] !== "ns" || !p[1]) {
      const first = namespaces[0];
      if (!first) {
        setMain(h("p", { class: "muted" }, "You may see no namespace's runs. Ask a profile's owner to add you as a contributor."));
        return;
      }
      location.replace("#/ns/" + enc(first.name) + "/runs");
      return;
    }
    const ns = p[1];
    nav(ns, p[2] === "lineage" ? "runs" : p[2] || "runs");
    switch (p[2] || "runs") {
      case "runs":
        if (p[3]) await runPage(ns, p[3], q);
        else await runsPage(ns, q);
        break;
      case "experiments":
        if (p[3]) await experimentPage(ns, p[3], q);
        else await experimentsPage(ns, q);
        break;
      case "pipelines":
        if (p[3]) await pipelinePage(ns, p[3], q);
        else await pipelinesPage(ns);
        break;
      case "lineage":
        await lineagePage(ns, p[3], p[4], p[5], p[6]);
        break;
      default:
        setMain(h("p", {}, "No such page."));
    }
  } catch (e) {
    setMain(h("p", { class: "muted" }, ""));
    banner(e.message + (e.status ? " (" + e.status + ")" : ""));
    document.body.dataset.ready = "error";
  }
}

function setQuery(q) {
  const [path] = location.hash.split("?");
  const s = q.toString();
  history.replaceState(null, "", path + (s ? "?" + s : ""));
}

// ---- runs ----

function runRow(ns, r) {
  return h("tr", { "data-run": r.name },
    h("td", {}, link("/ns/" + enc(ns) + "/runs/" + enc(r.name), r.name), r.cancelling ? h("span", { class: "muted" }, " cancelling") : null),
    h("td", {}, badge(r.phase)),
    h("td", {}, link("/ns/" + enc(ns) + "/experiments/" + enc(r.experiment), r.experiment)),
    h("td", {}, link("/ns/" + enc(ns) + "/pipelines/" + enc(r.pipeline), r.pipeline), r.version ? h("span", { class: "muted" }, " v" + r.version) : null),
    h("td", {}, when(r.started || r.created)),
    h("td", { class: "num" }, duration(r.durationMs)),
    h("td", {}, phaseBar(r.tasks), " ", h("span", { class: "muted" }, countsText(r.tasks))),
  );
}

async function runsPage(ns, q) {
  const [experiments, pipelines] = await Promise.all([
    api(`namespaces/${enc(ns)}/experiments?archived=true`).catch(() => []),
    api(`namespaces/${enc(ns)}/pipelines`).catch(() => []),
  ]);
  const search = h("input", { type: "search", placeholder: "filter by name", value: q.get("q") || "", "aria-label": "filter by name" });
  const phase = h("select", { "aria-label": "phase" }, h("option", { value: "" }, "all phases"), ...PHASES.map((p) => h("option", { value: p }, p)));
  phase.value = q.get("phase") || "";
  const exp = h("select", { "aria-label": "experiment" }, h("option", { value: "" }, "all experiments"), ...experiments.map((e) => h("option", { value: e.name }, e.name + (e.archived ? " (archived)" : ""))));
  exp.value = q.get("experiment") || "";
  const pl = h("select", { "aria-label": "pipeline" }, h("option", { value: "" }, "all pipelines"), ...pipelines.map((p) => h("option", { value: p.name }, p.name)));
  pl.value = q.get("pipeline") || "";
  const archived = h("input", { type: "checkbox", checked: q.get("archived") === "true" });
  const table = h("table", { "data-testid": "runs" });
  const count = h("span", { class: "muted" });
  const pager = h("div", { class: "pager" });
  const liveMark = h("span", { class: "live", hidden: true }, "live");
  const sortKey = () => q.get("sort") || "-created";
  const cols = [["name", "Run"], ["phase", "Phase"], ["experiment", "Experiment"], ["pipeline", "Pipeline"], ["started", "Started"], ["duration", "Duration"], [null, "Tasks"]];
  let shown = new Set();

  const load = async () => {
    const params = new URLSearchParams();
    for (const k of ["q", "phase", "experiment", "pipeline", "sort", "offset", "archived"]) if (q.get(k)) params.set(k, q.get(k));
    const page = await api(`namespaces/${enc(ns)}/runs?` + params);
    const head = h("tr", {}, ...cols.map(([key, label]) => {
      const s = sortKey();
      const active = key && s.replace("-", "") === key;
      return h("th", {
        class: (key ? "sortable" : "") + (active ? " sorted" + (s.startsWith("-") ? "" : " asc") : "") + (key === "duration" ? " num" : ""),
        onclick: key ? () => { q.set("sort", active && s.startsWith("-") ? key : "-" + key); q.delete("offset"); setQuery(q); load(); } : null,
      }, label);
    }));
    fill(table, head, ...page.runs.map((r) => runRow(ns, r)));
    shown = new Set(page.runs.map((r) => r.name));
    count.textContent = page.total + " run" + (page.total === 1 ? "" : "s");
    const off = page.offset;
    fill(pager, 
      h("button", { class: "secondary", disabled: off === 0, onclick: () => { q.set("offset", Math.max(0, off - 50)); setQuery(q); load(); } }, "previous"),
      h("span", { class: "muted" }, page.total ? `${off + 1}–${off + page.runs.length} of ${page.total}` : ""),
      h("button", { class: "secondary", disabled: off + page.runs.length >= page.total, onclick: () => { q.set("offset", off + 50); setQuery(q); load(); } }, "next"),
    );
    if (!page.runs.length) table.append(h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No runs match.")));
    document.body.dataset.ready = "runs";
  };
  const reload = throttle(load, 1000);
  const change = () => {
    const set = (k, v) => (v ? q.set(k, v) : q.delete(k));
    set("q", search.value);
    set("phase", phase.value);
    set("experiment", exp.value);
    set("pipeline", pl.value);
    set("archived", archived.checked ? "true" : "");
    q.delete("offset");
    setQuery(q);
    load().catch((e) => banner(e.message));
  };
  for (const e of [phase, exp, pl, archived]) e.addEventListener("change", change);
  search.addEventListener("input", throttle(change, 300));
  setMain(
    h("h1", {}, "Runs", count, liveMark),
    h("div", { class: "filters" }, search, phase, exp, pl, h("label", {}, archived, " archived experiments"),
      h("span", { class: "grow" }), h("a", { href: "#/ns/" + enc(ns) + "/pipelines" }, h("button", { class: "secondary" }, "Start a run…"))),
    table, pager,
  );
  await load();
  // "ready" comes once the page is subscribed (and again after a
  // reconnect): what changed between the first load and then is loaded
  // again, so no change falls between the two.
  live(`${API}/events?namespace=${enc(ns)}`, {
    ready: () => { liveMark.hidden = false; reload(); },
    run: (r) => {
      const row = table.querySelector(`tr[data-run="${CSS.escape(r.name)}"]`);
      if (row && shown.has(r.name)) row.replaceWith(runRow(ns, r));
      else reload();
    },
    deleted: () => reload(),
    reset: () => reload(),
    error: (e) => { if (e && e.error) banner(e.error); },
  });
}

function kv(pairs) {
  const dl = h("dl", { class: "kv" });
  for (const [k, v] of pairs) {
    if (v === undefined || v === null || v === "") continue;
    dl.append(h("dt", {}, k), h("dd", {}, v));
  }
  return dl;
}

function paramsTable(params, testid) {
  const keys = Object.keys(params || {}).sort();
  if (!keys.length) return h("p", { class: "muted" }, "none");
  return h("table", { "data-testid": testid, class: "params" }, ...keys.map((k) => h("tr", {}, h("td", {}, k), h("td", {}, h("code", {}, json(params[k]))))));
}

async function runPage(ns, name, q) {
  const base = `namespaces/${enc(ns)}/runs/${enc(name)}`;
  const header = h("div", { class: "card", "data-testid": "run-header" });
  const graphBox = h("div", { class: "graph", "data-testid": "graph" });
  const panel = h("div", { class: "panel card", "data-testid": "task-panel" }, h("p", { class: "muted" }, "Select a task to see its inputs, outputs and log."));
  let run = null;
  let shownVersion = "";
  const renderHeader = (r) => {
    shownVersion = r.resourceVersion;
    run = r;
    const cancel = r.actions && r.actions.cancel ? h("button", { class: "danger", "data-testid": "cancel", onclick: async () => {
      if (!confirm("Cancel run " + r.name + "?")) return;
      try {
        await post(`${base}/cancel`, {});
        banner("Cancelling " + r.name + ": its running tasks are stopped; exit handlers still run.", "info");
      } catch (e) { banner(e.message); }
    } }, "Cancel") : null;
    fill(header, 
      h("h1", {}, r.name, badge(r.phase), r.cancelling ? h("span", { class: "muted" }, "cancelling") : null, h("span", { class: "grow" }), cancel),
      kv([
        ["Pipeline", h("span", {}, link("/ns/" + enc(ns) + "/pipelines/" + enc(r.pipeline), r.pipeline), r.version ? " version " + r.version : "")],
        ["Experiment", link("/ns/" + enc(ns) + "/experiments/" + enc(r.experiment), r.experiment)],
        ["Started", when(r.started)], ["Finished", when(r.finished)], ["Duration", duration(r.durationMs)],
        ["Tasks", h("span", {}, phaseBar(r.tasks), " ", countsText(r.tasks), r.cached ? ` (${r.cached} cached)` : "")],
        ["Message", r.message], ["Started by", r.createdBy], ["Executor", r.executor], ["Pipeline root", r.pipelineRoot],
        ["Service account", r.serviceAccount], ["Timeout", r.timeout],
      ]),
      r.parameters && Object.keys(r.parameters).length ? h("div", {}, h("h2", {}, "Parameters"), paramsTable(r.parameters, "run-parameters")) : null,
      r.outputs && Object.keys(r.outputs).length ? h("div", {}, h("h2", {}, "Outputs"), paramsTable(r.outputs, "run-outputs")) : null,
      r.failure ? h("div", { class: "card failure" }, h("strong", {}, "Task " + r.failure.task + " failed: "), r.failure.message, r.failure.logTail ? h("pre", { class: "log" }, r.failure.logTail) : null) : null,
      // What holds a running run back (task pods that wait, an artifact
      // store that does not answer): its conditions that are False.
      ...(r.phase === "Running" ? (r.conditions || []).filter((c) => c.status === "False" && c.type !== "Succeeded") : []).map((c) =>
        h("div", { class: "card warning", "data-testid": "condition-" + c.type }, h("strong", {}, c.reason + ": "), c.message)),
      r.note ? h("p", { class: "muted" }, r.note) : null,
    );
  };
  renderHeader(await api(base));
  let selected = q.get("task");
  const graph = new Graph(graphBox, {
    rootKey: 0,
    expanded: (q.get("expand") || "").split(",").filter(Boolean),
    selected,
    load: (key, offset, limit) => api(`${base}/graph?scope=${key}&offset=${offset}&limit=${limit}`),
    keyOf: (n) => (n.id >= 0 && expandable(n) ? n.id : null),
    selectable: (n) => n.id >= 0 && (n.kind === "container" || n.kind === "importer"),
    onSelect: (n) => {
      selected = String(n.id);
      q.set("task", selected);
      setQuery(q);
      showTask(ns, base, panel, n.id, q).catch((e) => banner(e.message));
    },
    onExpand: (keys) => {
      if (keys.length) q.set("expand", keys.join(","));
      else q.delete("expand");
      setQuery(q);
    },
  });
  setMain(h("div", { class: "crumbs" }, link("/ns/" + enc(ns) + "/runs", "Runs"), " / ", name), header, h("div", { class: "split" }, graphBox, panel));
  await graph.refresh();
  if (selected) await showTask(ns, base, panel, selected, q);
  document.body.dataset.ready = "run";
  const update = throttle(async () => {
    renderHeader(await api(base));
    await graph.refresh();
    if (selected && panel.refreshTask) await panel.refreshTask();
  }, 1000);
  // "ready" comes once the page is subscribed (and again after a
  // reconnect): a change made since the page loaded is shown then.
  live(`${API}/events?namespace=${enc(ns)}&run=${enc(name)}`, {
    ready: () => api(base).then((r) => { if (r.resourceVersion !== shownVersion) update(); }).catch((e) => banner(e.message)),
    run: () => update(),
    reset: () => update(),
    deleted: () => banner("The run was deleted."),
    error: (e) => { if (e && e.error) banner(e.error); },
  });
}

// showTask fills the panel with a task's details, inputs, outputs and log.
async function showTask(ns, base, panel, id, q) {
  const tbase = `${base}/tasks/${id}`;
  let tab = q.get("tab") || "details";
  let t = await api(tbase);
  const body = h("div", {});
  const tabs = h("div", { class: "tabs", role: "tablist" });
  let stopLog = null;
  const show = () => {
    if (stopLog) stopLog();
    stopLog = null;
    fill(tabs, ...["details", "inputs", "outputs", "log"].map((k) => h("button", { class: k === tab ? "active" : "", role: "tab", "data-tab": k, onclick: () => { tab = k; q.set("tab", k); setQuery(q); show(); } }, k[0].toUpperCase() + k.slice(1))));
    if (tab === "details") fill(body, taskDetails(t));
    if (tab === "inputs") fill(body, values(ns, tbase, t.inputs, true), t.inputsError ? h("p", { class: "muted" }, t.inputsError) : null);
    if (tab === "outputs") fill(body, values(ns, tbase, t.outputs, false));
    if (tab === "log") stopLog = logView(body, tbase, t);
  };
  fill(panel, h("h2", { "data-testid": "task-name" }, t.path || t.name, " ", badge(t.phase), t.cached ? h("span", { class: "badge cached" }, "cached") : null), tabs, body);
  panel.refreshTask = async () => {
    const fresh = await api(tbase);
    const wasRunning = t.phase === "Running";
    t = fresh;
    panel.querySelector("[data-testid=task-name]").replaceChildren(t.path || t.name, " ", badge(t.phase), t.cached ? h("span", { class: "badge cached" }, "cached") : "");
    if (tab !== "log" || (wasRunning && t.phase !== "Running" && !stopLog)) show();
  };
  onCleanup(() => { if (stopLog) stopLog(); });
  show();
}

function taskDetails(t) {
  const attempts = t.attemptList || [];
  return h("div", {},
    kv([
      ["Path", t.path], ["Kind", t.kind], ["Component", t.component], ["Image", t.image], ["Condition", t.condition],
      ["Phase", h("span", {}, badge(t.phase), t.cached ? " (from the cache)" : "")], ["Attempts", t.attempts ? String(t.attempts) : ""],
      ["Started", when(t.begin)], ["Finished", when(t.end)], ["Duration", t.begin && t.end ? duration(t.end - t.begin) : ""],
      ["Message", t.message], ["Retries", t.retries ? String(t.retries) : ""], ["Timeout", t.timeout], ["Caching", t.kind === "container" ? (t.caching ? "on" : "off") : ""],
      ["Tasks", t.tasks ? countsText(t.tasks) : ""],
    ]),
    attempts.length ? h("div", {}, h("h2", {}, "Attempts"), h("table", { "data-testid": "attempts" },
      h("tr", {}, h("th", {}, "#"), h("th", {}, "Pod"), h("th", {}, "Node"), h("th", {}, "Started"), h("th", {}, "Ended"), h("th", {}, "Exit")),
      ...attempts.map((a) => h("tr", {}, h("td", {}, String(a.number)), h("td", {}, a.pod || h("span", { class: "muted" }, "gone")), h("td", {}, a.node || ""),
        h("td", {}, when(a.start)), h("td", {}, when(a.end)), h("td", {}, a.exitCode === undefined ? "" : String(a.exitCode), a.error ? h("div", { class: "muted" }, a.error) : null))),
    )) : null,
  );
}

function values(ns, tbase, v, inputs) {
  const out = h("div", {});
  out.append(h("h2", {}, "Parameters"), paramsTable(v.parameters, inputs ? "input-parameters" : "output-parameters"));
  out.append(h("h2", {}, "Artifacts"));
  const arts = v.artifacts || [];
  if (!arts.length) out.append(h("p", { class: "muted" }, "none"));
  for (const a of arts) {
    const box = h("div", { class: "artifact", "data-artifact": a.name });
    const prev = h("div", { class: "preview" });
    box.append(h("div", { class: "row" }, h("strong", {}, a.name + (a.index ? "[" + a.index + "]" : "")), h("span", { class: "muted" }, a.type || ""), h("span", { class: "grow" })));
    box.append(h("div", { class: "uri" }, a.uri));
    if (a.producer) {
      box.append(h("div", { class: "muted" }, "written by ", link(`/ns/${enc(a.producer.namespace)}/runs/${enc(a.producer.run)}?task=${a.producer.node}`, a.producer.task),
        a.producer.run ? " of run " + a.producer.run : "", a.producer.attempt ? " (attempt " + a.producer.attempt + ")" : ""));
    }
    const row = box.querySelector(".row");
    if (!inputs) {
      const abase = `${tbase}/artifacts/${enc(a.name)}/${a.index}`;
      const parts = tbase.split("/"); // namespaces/<ns>/runs/<run>/tasks/<node>
      row.append(h("a", { href: `#/ns/${enc(ns)}/lineage/${parts[3]}/${parts[5]}/${enc(a.name)}/${a.index}`, "data-testid": "lineage-" + a.name }, "lineage"));
      if (!a.unreadable) {
        row.append(h("button", { class: "secondary", "data-testid": "preview-" + a.name, onclick: () => preview(prev, abase, a) }, "Preview"));
        row.append(h("a", { href: API + "/" + abase + "/content?download=1" }, "download"));
      }
    }
    if (a.unreadable) box.append(h("div", { class: "muted" }, a.unreadable));
    if (a.metadata && Object.keys(a.metadata).length && !["metrics", "classification"].includes(a.preview)) {
      box.append(h("details", {}, h("summary", {}, "metadata"), h("pre", { class: "text" }, JSON.stringify(a.metadata, null, 2))));
    }
    box.append(prev);
    out.append(box);
    if (!inputs && ["metrics", "classification"].includes(a.preview)) preview(prev, `${tbase}/artifacts/${enc(a.name)}/${a.index}`, a);
  }
  return out;
}

// preview shows an artifact as its type asks: metrics as a table,
// classification metrics as a confusion matrix and a ROC curve, HTML in a
// sandboxed frame, Markdown rendered, the rest as text (or a file list).
async function preview(box, abase, a) {
  fill(box, h("p", { class: "muted" }, "Loading…"));
  try {
    const m = a.metadata || {};
    if (a.preview === "metrics") {
      const rows = Object.entries(m).filter(([k]) => k !== "display_name");
      fill(box, h("table", { "data-testid": "metrics" }, h("tr", {}, h("th", {}, "metric"), h("th", { class: "num" }, "value")),
        ...rows.map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", { class: "num" }, fmt(v))))));
      return;
    }
    if (a.preview === "classification") {
      const parts = [];
      if (m.confusionMatrix) {
        const cm = confusionMatrix(m.confusionMatrix);
        if (cm) parts.push(h("div", { "data-testid": "confusion-matrix" }, h("h2", {}, "Confusion matrix"), cm));
      }
      if (Array.isArray(m.confidenceMetrics)) {
        const roc = rocCurve(m.confidenceMetrics.map((p) => ({ x: Number(p.falsePositiveRate), y: Number(p.recall) })));
        if (roc) parts.push(h("div", { "data-testid": "roc-curve" }, h("h2", {}, "ROC curve"), roc));
      }
      fill(box, ...(parts.length ? parts : [h("p", { class: "muted" }, "The artifact's metadata holds no confusion matrix or confidence metrics.")]));
      return;
    }
    if (a.preview === "html") {
      fill(box, h("iframe", { sandbox: "allow-scripts", src: API + "/" + abase + "/content?as=html", title: a.name, "data-testid": "html-preview" }));
      return;
    }
    const info = await api(abase);
    if (info.error) {
      fill(box, h("p", { class: "muted" }, info.error));
      return;
    }
    const files = info.files || [];
    const showFile = async (file, into) => {
      const res = await request(API + "/" + abase + "/content?limit=65536" + (file ? "&file=" + enc(file) : ""));
      const text = await res.text();
      const size = Number(res.headers.get("X-Content-Size"));
      const note = size > 65536 ? h("p", { class: "muted" }, `First 64 KiB of ${size} bytes.`) : null;
      if (a.preview === "markdown") fill(into, renderMarkdown(text), note);
      else fill(into, h("pre", { class: "text", "data-testid": "text-preview" }, text), note);
    };
    if (files.length === 1 && !files[0].name) {
      await showFile("", box);
      return;
    }
    const fileBox = h("div", {});
    fill(box, h("table", {}, ...files.map((f) => h("tr", {}, h("td", {}, h("a", { href: "#", onclick: (e) => { e.preventDefault(); showFile(f.name, fileBox).catch((err) => banner(err.message)); } }, f.name)), h("td", { class: "num" }, String(f.size))))), fileBox);
  } catch (e) {
    fill(box, h("p", { class: "muted" }, e.message));
  }
}

// logView shows an attempt's log: the end of it, earlier pages on demand,
// and what a running attempt adds as it comes.
function logView(body, tbase, t) {
  const attempts = (t.attemptList || []).map((a) => a.number);
  if (!t.logsAllowed) {
    fill(body, h("p", { class: "muted" }, "You may not read logs in this namespace (pods/log)."));
    return null;
  }
  if (!attempts.length) {
    fill(body, h("p", { class: "muted" }, t.cached ? "The result came from the cache: the task did not run." : "The task has not started."));
    return null;
  }
  const sel = h("select", { "aria-label": "attempt" }, ...attempts.map((n) => h("option", { value: n }, "attempt " + n)));
  const pre = h("pre", { class: "log", "data-testid": "log" });
  const info = h("span", { class: "muted" });
  const earlier = h("button", { class: "secondary", hidden: true }, "load earlier");
  const followMark = h("span", { class: "live", hidden: true }, "following");
  let es = null, start = 0, end = 0;
  const stop = () => { if (es) es.close(); es = null; };
  const load = async () => {
    stop();
    const abase = `${tbase}/attempts/${sel.value}/log`;
    const res = await request(API + "/" + abase + "?offset=-65536&limit=65536");
    const text = await res.text();
    start = Number(res.headers.get("X-Log-Offset"));
    end = Number(res.headers.get("X-Log-Size"));
    const complete = res.headers.get("X-Log-Complete") === "true";
    pre.textContent = text;
    earlier.hidden = start === 0;
    info.textContent = end + " bytes";
    pre.scrollTop = pre.scrollHeight;
    earlier.onclick = async () => {
      const from = Math.max(0, start - 65536);
      const r = await request(API + "/" + abase + `?offset=${from}&limit=${start - from}`);
      pre.prepend(await r.text());
      start = from;
      earlier.hidden = start === 0;
    };
    followMark.hidden = complete;
    if (!complete) {
      es = new EventSource(API + "/" + abase + "/follow?offset=" + end);
      es.addEventListener("log", (e) => {
        const c = JSON.parse(e.data);
        const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 20;
        pre.append(c.data);
        end = c.offset + new TextEncoder().encode(c.data).length;
        info.textContent = c.size + " bytes";
        if (atEnd) pre.scrollTop = pre.scrollHeight;
      });
      es.addEventListener("end", () => { followMark.hidden = true; stop(); });
      es.addEventListener("error", () => { followMark.hidden = true; });
    }
  };
  sel.addEventListener("change", () => load().catch((e) => banner(e.message)));
  fill(body, h("div", { class: "row" }, sel, info, followMark, h("span", { class: "grow" }), earlier), pre);
  load().catch((e) => fill(body, h("p", { class: "muted" }, e.message)));
  return stop;
}

// ---- lineage ----

async function lineagePage(ns, run, node, output, index) {
  const g = await api(`namespaces/${enc(ns)}/runs/${enc(run)}/tasks/${enc(node)}/artifacts/${enc(output)}/${enc(index)}/lineage`);
  const pos = new Map(g.nodes.map((n, i) => [n.id, i]));
  const nodes = g.nodes.map((n) => ({
    id: n.id, name: n.kind === "artifact" ? n.label : n.label, kind: n.kind === "artifact" ? "artifact" : (n.importer ? "importer" : "container"),
    phase: n.kind === "task" ? n.phase : "", path: n.kind === "artifact" ? n.uri : n.run + " / " + n.label, raw: n, deps: [],
  }));
  for (const [from, to] of g.edges) if (pos.has(from) && pos.has(to)) nodes[pos.get(to)].deps.push(pos.get(from));
  const box = h("div", { class: "graph", "data-testid": "lineage" });
  setMain(
    h("div", { class: "crumbs" }, link("/ns/" + enc(ns) + "/runs", "Runs"), " / ", link(`/ns/${enc(ns)}/runs/${enc(run)}?task=${node}&tab=outputs`, run), " / lineage of ", output),
    h("h1", {}, "Lineage of ", output),
    h("p", { class: "muted" }, "Tasks and the artifacts they read and wrote, across runs you may see. Click a task to open its run, an artifact to follow its lineage."),
    box, g.truncated ? h("p", { class: "muted" }, "The graph was cut at its size limit.") : null,
  );
  drawPlain(box, nodes, {
    onSelect: (n) => {
      const r = n.raw;
      if (r.kind === "task") location.hash = `#/ns/${enc(r.namespace)}/runs/${enc(r.run)}?task=${r.node}`;
      else if (r.run && r.output) location.hash = `#/ns/${enc(r.namespace)}/lineage/${enc(r.run)}/${r.node}/${enc(r.output)}/${r.index || 0}`;
    },
    node: (it, g2) => {
      const r = it.n.raw;
      g2.dataset.kind = r.kind;
      if (r.origin) g2.classList.add("selected");
      const sub = g2.querySelector("text.sub");
      if (sub) sub.textContent = r.kind === "artifact" ? (r.type || "artifact") + (r.run ? " · " + r.run : "") : (r.importer ? "importer · " : "") + r.run + " · " + (r.phase || "");
      return g2;
    },
  });
  document.body.dataset.ready = "lineage";
}

// ---- experiments ----

async function experimentsPage(ns, q) {
  const showArchived = q.get("archived") === "true";
  const list = await api(`namespaces/${enc(ns)}/experiments?archived=${showArchived}`);
  const table = h("table", { "data-testid": "experiments" }, h("tr", {}, h("th", {}, "Experiment"), h("th", {}, "Description"), h("th", { class: "num" }, "Runs"), h("th", {}, "Phases"), h("th", {}, "Last run"), h("th", {}, "")));
  for (const e of list) {
    const act = e.actions && e.actions.archive ? h("button", { class: "secondary", onclick: async () => {
      try {
        await post(`namespaces/${enc(ns)}/experiments/${enc(e.name)}/archive`, { archived: !e.archived });
        route();
      } catch (err) { banner(err.message); }
    } }, e.archived ? "Restore" : "Archive") : null;
    table.append(h("tr", { "data-experiment": e.name },
      h("td", {}, link(`/ns/${enc(ns)}/experiments/${enc(e.name)}`, e.name), e.archived ? h("span", { class: "muted" }, " (archived)") : null),
      h("td", {}, e.description || ""), h("td", { class: "num" }, String(e.runs)), h("td", {}, countsText(e.phases)), h("td", {}, when(e.lastRun)), h("td", {}, act)));
  }
  if (!list.length) table.append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No experiments.")));
  const toggle = h("input", { type: "checkbox", checked: showArchived, onchange: () => { location.hash = `#/ns/${enc(ns)}/experiments` + (toggle.checked ? "?archived=true" : ""); } });
  setMain(h("h1", {}, "Experiments"), h("div", { class: "filters" }, h("label", {}, toggle, " show archived")), table);
  document.body.dataset.ready = "experiments";
}

async function experimentPage(ns, name, q) {
  const c = await api(`namespaces/${enc(ns)}/experiments/${enc(name)}/compare`);
  const chosen = new Set((q.get("runs") || "").split(",").filter(Boolean));
  const metricSel = h("select", { "aria-label": "metric", "data-testid": "metric" }, ...c.metrics.map((m) => h("option", { value: m }, m)));
  if (q.get("metric") && c.metrics.includes(q.get("metric"))) metricSel.value = q.get("metric");
  const chart = h("div", { "data-testid": "metric-chart" });
  const drawChart = () => {
    const runs = c.runs.filter((r) => !chosen.size || chosen.has(r.name)).slice().reverse();
    const m = metricSel.value;
    const svgChart = m ? barChart(runs.map((r) => ({ label: r.name, value: r.metrics[m] })), m) : null;
    fill(chart, svgChart || h("p", { class: "muted" }, c.metrics.length ? "No run has this metric." : "The runs logged no metrics (system.Metrics artifacts or numeric outputs)."));
  };
  const table = h("table", { "data-testid": "comparison" },
    h("tr", { class: "groups" }, h("th", { colspan: 5 }, ""), c.parameters.length ? h("th", { colspan: c.parameters.length }, "parameters") : null,
      c.metrics.length ? h("th", { colspan: c.metrics.length, class: "num" }, "metrics") : null),
    h("tr", {}, h("th", {}, ""), h("th", {}, "Run"), h("th", {}, "Phase"), h("th", {}, "Started"), h("th", { class: "num" }, "Duration"),
      ...c.parameters.map((p) => h("th", {}, p)), ...c.metrics.map((m) => h("th", { class: "num" }, m))));
  for (const r of c.runs) {
    const box = h("input", { type: "checkbox", checked: chosen.has(r.name), "aria-label": "compare " + r.name, onchange: () => {
      if (box.checked) chosen.add(r.name);
      else chosen.delete(r.name);
      if (chosen.size) q.set("runs", [...chosen].join(","));
      else q.delete("runs");
      setQuery(q);
      drawChart();
    } });
    table.append(h("tr", { "data-run": r.name }, h("td", {}, box), h("td", {}, link(`/ns/${enc(ns)}/runs/${enc(r.name)}`, r.name)), h("td", {}, badge(r.phase)),
      h("td", {}, when(r.started)), h("td", { class: "num" }, duration(r.durationMs)),
      ...c.parameters.map((p) => h("td", {}, r.parameters && p in r.parameters ? r.parameters[p] : "")),
      ...c.metrics.map((m) => h("td", { class: "num" }, m in r.metrics ? fmt(r.metrics[m]) : ""))));
  }
  metricSel.addEventListener("change", () => { q.set("metric", metricSel.value); setQuery(q); drawChart(); });
  const cls = c.runs.filter((r) => r.classification && r.classification.length);
  setMain(
    h("div", { class: "crumbs" }, link("/ns/" + enc(ns) + "/experiments", "Experiments"), " / ", name),
    h("h1", {}, name, c.experiment.archived ? h("span", { class: "muted" }, "(archived)") : null),
    c.experiment.description ? h("p", {}, c.experiment.description) : null,
    h("p", { class: "muted" }, c.runs.length + " runs. Tick runs to compare only those."),
    h("div", { class: "card" }, table),
    h("div", { class: "card" }, h("div", { class: "row" }, h("strong", {}, "Chart of "), metricSel), chart),
    cls.length ? h("div", { class: "card" }, h("h2", {}, "Classification metrics"), h("ul", {}, ...cls.flatMap((r) => r.classification.map((a) =>
      h("li", {}, link(`/ns/${enc(ns)}/runs/${enc(r.name)}?task=${a.node}&tab=outputs`, r.name + " / " + a.task + " / " + a.output)))))) : null,
  );
  drawChart();
  document.body.dataset.ready = "experiment";
}

// ---- pipelines ----

async function pipelinesPage(ns) {
  const list = await api(`namespaces/${enc(ns)}/pipelines`);
  const table = h("table", { "data-testid": "pipelines" }, h("tr", {}, h("th", {}, "Pipeline"), h("th", {}, "Description"), h("th", { class: "num" }, "Latest version"), h("th", { class: "num" }, "Runs"), h("th", {}, "Ready")));
  for (const p of list) {
    table.append(h("tr", {}, h("td", {}, link(`/ns/${enc(ns)}/pipelines/${enc(p.name)}`, p.name)), h("td", {}, p.description || ""), h("td", { class: "num" }, String(p.latest)),
      h("td", { class: "num" }, String(p.runs)), h("td", {}, p.ready === "True" ? "yes" : h("span", { title: p.message || "" }, p.ready === "False" ? "no: " + (p.message || "") : "…"))));
  }
  if (!list.length) table.append(h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No pipelines in this namespace.")));
  setMain(h("h1", {}, "Pipelines"), table);
  document.body.dataset.ready = "pipelines";
}

async function pipelinePage(ns, name, q) {
  const base = `namespaces/${enc(ns)}/pipelines/${enc(name)}`;
  const p = await api(base);
  const versions = p.versions || [];
  const vsel = h("select", { "aria-label": "version", "data-testid": "version" }, ...versions.map((v) => h("option", { value: v.number }, "version " + v.number)));
  if (q.get("version")) vsel.value = q.get("version");
  const graphBox = h("div", { class: "graph", "data-testid": "pipeline-graph" });
  const showGraph = async () => {
    if (!vsel.value) return;
    const g = new Graph(graphBox, {
      rootKey: "",
      load: (key) => api(`${base}/versions/${vsel.value}/graph?scope=${enc(key)}`),
      keyOf: (n) => (expandable(n) ? n.path : null),
      selectable: () => false,
    });
    await g.refresh();
  };
  vsel.addEventListener("change", () => { q.set("version", vsel.value); setQuery(q); showGraph().catch((e) => banner(e.message)); renderForm(); });
  const vtable = h("table", { "data-testid": "versions" }, h("tr", {}, h("th", {}, "Version"), h("th", {}, "Created"), h("th", {}, "Format"), h("th", { class: "num" }, "Tasks"), h("th", {}, "Parameters")));
  for (const v of versions) {
    vtable.append(h("tr", {}, h("td", {}, String(v.number), v.number === p.latest ? h("span", { class: "muted" }, " (latest)") : null), h("td", {}, when(v.created)), h("td", {}, v.format),
      h("td", { class: "num" }, v.tasks ? String(v.tasks) : ""), h("td", {}, v.error || (v.parameters || []).map((x) => x.name + ": " + x.type).join(", "))));
  }
  // Diff between two versions.
  const from = h("select", { "aria-label": "from version" }, ...versions.map((v) => h("option", { value: v.number }, "version " + v.number)));
  const to = h("select", { "aria-label": "to version" }, ...versions.map((v) => h("option", { value: v.number }, "version " + v.number)));
  if (versions.length > 1) from.value = versions[1].number;
  const diffBox = h("div", { "data-testid": "diff" });
  const showDiff = async () => {
    const d = await api(`${base}/diff?from=${from.value}&to=${to.value}`);
    const changes = d.tasks.length ? h("ul", {}, ...d.tasks.map((t) => h("li", {}, t.change + ": " + t.path))) : h("p", { class: "muted" }, "No task changed.");
    const lines = h("div", { class: "diff" });
    for (const hk of d.hunks) {
      lines.append(h("div", { class: "hunk" }, hk.header));
      for (const l of hk.lines) {
        lines.append(h("div", { class: "line " + (l.op === "+" ? "add" : l.op === "-" ? "del" : "") }, h("span", { class: "ln" }, l.old ? String(l.old) : ""), h("span", { class: "ln" }, l.new ? String(l.new) : ""), l.op + " " + l.text));
      }
    }
    if (!d.hunks.length) lines.append(h("div", { class: "line" }, d.error || "The versions' content is the same."));
    fill(diffBox, h("h2", {}, "Tasks"), changes, h("h2", {}, "Content"), lines);
  };
  // Start a run.
  const formBox = h("div", {});
  const renderForm = () => {
    if (!p.actions || !p.actions.startRun) {
      fill(formBox, h("p", { class: "muted" }, "You may not start runs in this namespace."));
      return;
    }
    const v = versions.find((x) => String(x.number) === String(vsel.value)) || versions[0];
    if (!v) return;
    const fields = new Map();
    const form = h("div", { class: "form", "data-testid": "start-form" });
    const runName = h("input", { placeholder: "generated", "aria-label": "run name" });
    const exp = h("input", { value: q.get("experiment") || "default", list: "experiment-names", "aria-label": "experiment" });
    form.append(h("label", {}, "Run name"), runName, h("label", {}, "Experiment"), exp);
    for (const par of v.parameters || []) {
      const input = h("input", { "aria-label": par.name, value: par.default === undefined || par.default === null ? "" : json(par.default), placeholder: par.type + (par.optional ? " (optional)" : "") });
      fields.set(par.name, { input, par });
      form.append(h("label", {}, par.name, h("span", { class: "muted" }, " " + par.type)), input);
    }
    const start = h("button", { "data-testid": "start", onclick: async () => {
      const parameters = {};
      for (const [k, { input, par }] of fields) {
        const def = par.default === undefined || par.default === null ? "" : json(par.default);
        if (input.value !== "" && input.value !== def) parameters[k] = input.value;
      }
      try {
        start.disabled = true;
        const r = await post(`namespaces/${enc(ns)}/runs`, { pipeline: name, version: Number(v.number), experiment: exp.value, name: runName.value, parameters });
        location.hash = `#/ns/${enc(ns)}/runs/${enc(r.name)}`;
      } catch (e) {
        banner(e.message);
        start.disabled = false;
      }
    } }, "Start run of version " + v.number);
    fill(formBox, form, h("p", {}, start));
  };
  const names = await api(`namespaces/${enc(ns)}/experiments`).catch(() => []);
  setMain(
    h("div", { class: "crumbs" }, link("/ns/" + enc(ns) + "/pipelines", "Pipelines"), " / ", name),
    h("h1", {}, name, p.ready === "False" ? h("span", { class: "badge phase-Failed" }, "invalid") : null),
    p.description ? h("p", {}, p.description) : null,
    h("datalist", { id: "experiment-names" }, ...names.map((e) => h("option", { value: e.name }))),
    h("div", { class: "card" }, h("h2", {}, "Versions"), vtable),
    h("div", { class: "card" }, h("div", { class: "row" }, h("h2", {}, "Graph of "), vsel), graphBox),
    h("div", { class: "card" }, h("h2", {}, "Start a run"), formBox),
    versions.length > 1 ? h("div", { class: "card" }, h("div", { class: "row" }, h("h2", {}, "Compare "), from, " with ", to, h("button", { class: "secondary", "data-testid": "show-diff", onclick: () => showDiff().catch((e) => banner(e.message)) }, "Show diff")), diffBox) : null,
  );
  renderForm();
  await showGraph();
  if (q.get("diff")) await showDiff();
  document.body.dataset.ready = "pipeline";
}

// ---- start ----

window.addEventListener("hashchange", route);
shell().then(route).catch((e) => {
  banner(e.message);
  setMain(h("p", { class: "muted" }, ""));
  document.body.dataset.ready = "error";
});
