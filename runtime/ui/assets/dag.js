// Task graphs drawn as SVG: each DAG level is laid out in layers (a task
// sits one layer below the deepest task it waits for), layers wider than a
// row wrap, and the order within a layer follows the tasks' dependencies
// (two barycentre sweeps). DAGs, conditions, loops and iterations are
// boxes that expand in place into their own graph, fetched on demand.

const SVG = "http://www.w3.org/2000/svg";
const NODE_W = 196, NODE_H = 48, GAP_X = 22, GAP_Y = 38, ROW_MAX = 6, PAD = 14, HEAD = 28;

export function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const c of children) if (c) e.append(c);
  return e;
}

function text(x, y, s, cls) {
  const t = svg("text", { x, y, class: cls || "" });
  t.textContent = s;
  return t;
}

function clip(s, n) {
  return s.length > n ? s.slice(0, n - 1) + "…" : s;
}

export function duration(ms) {
  if (ms === undefined || ms === null || ms < 0) return "";
  const s = Math.round(ms / 1000);
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s";
  return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
}

const SYMBOLS = { Succeeded: "✓", Running: "▶", Failed: "✗", Pending: "…", Ready: "⏸", Waiting: "↻", Skipped: "⤼", Cancelled: "■" };

export function countsText(tasks) {
  if (!tasks) return "";
  return Object.entries(tasks).filter(([, n]) => n > 0).map(([p, n]) => n + (SYMBOLS[p] || p)).join(" ");
}

function subtitle(n) {
  switch (n.kind) {
    case "loop":
      return (n.iterations ? n.iterations + " iterations" : "loop") + (n.tasks ? " · " + countsText(n.tasks) : "");
    case "dag":
    case "iteration":
      return (n.condition ? "if " + n.condition : "") + (n.tasks && Object.keys(n.tasks).length ? (n.condition ? " · " : "") + countsText(n.tasks) : n.condition ? "" : "graph");
    case "importer":
      return "importer" + (n.phase ? " · " + n.phase : "");
  }
  if (n.cached) return "cached · " + (n.phase || "");
  let s = n.phase || n.image || "";
  if (n.begin && (n.end || n.phase === "Running")) s += " · " + duration((n.end || Date.now()) - n.begin);
  if (n.attempts > 1) s += " · " + n.attempts + " attempts";
  return s;
}

export function expandable(n) {
  return n.kind === "dag" || n.kind === "loop" || n.kind === "iteration";
}

// Graph is one rendered graph. opts: load(key, offset, limit) → graph JSON;
// keyOf(node) → the scope key of an expandable node (null: cannot expand);
// rootKey; onSelect(node); selectable(node).
export class Graph {
  constructor(container, opts) {
    this.container = container;
    this.opts = opts;
    this.expanded = new Set(opts.expanded || []);
    this.limits = new Map();
    this.graphs = new Map();
    this.selected = opts.selected ?? null;
  }

  // load fetches every scope that is shown (the root and the expanded).
  async load() {
    const keys = [this.opts.rootKey];
    const fetched = new Map();
    while (keys.length) {
      const key = keys.shift();
      if (fetched.has(String(key))) continue;
      const g = await this.opts.load(key, 0, this.limits.get(String(key)) || 100);
      fetched.set(String(key), g);
      for (const n of g.nodes || []) {
        const k = this.opts.keyOf(n);
        if (k !== null && k !== undefined && this.expanded.has(String(k))) keys.push(k);
      }
    }
    this.graphs = fetched;
  }

  async refresh() {
    await this.load();
    this.render();
  }

  layout(key) {
    const g = this.graphs.get(String(key));
    const nodes = (g && g.nodes) || [];
    const items = nodes.map((n, i) => {
      const k = this.opts.keyOf(n);
      const open = k !== null && k !== undefined && this.expanded.has(String(k)) && this.graphs.has(String(k));
      const sub = open ? this.layout(k) : null;
      const w = sub ? Math.max(NODE_W, sub.w + 2 * PAD) : NODE_W;
      const h = sub ? HEAD + sub.h + PAD : NODE_H;
      return { n, i, key: k, sub, w, h, layer: 0, x: 0, y: 0 };
    });
    if (g && g.total > nodes.length) {
      items.push({ n: { kind: "more", name: (g.total - nodes.length) + " more", id: -2 }, i: items.length, more: key, w: NODE_W, h: NODE_H, layer: 0, x: 0, y: 0 });
    }
    // Layers: one below the deepest dependency.
    const layerOf = (it, seen = new Set()) => {
      if (it.layerDone) return it.layer;
      if (seen.has(it.i)) return 0;
      seen.add(it.i);
      let l = 0;
      for (const d of it.n.deps || []) if (items[d]) l = Math.max(l, layerOf(items[d], seen) + 1);
      it.layer = l;
      it.layerDone = true;
      return l;
    };
    items.forEach((it) => layerOf(it));
    const layers = [];
    for (const it of items) (layers[it.layer] ||= []).push(it);
    // Order: barycentre of the dependencies' positions, two sweeps.
    for (let sweep = 0; sweep < 2; sweep++) {
      for (let l = 1; l < layers.length; l++) {
        const pos = new Map();
        (layers[l - 1] || []).forEach((it, k) => pos.set(it.i, k));
        const bary = (it) => {
          const ps = (it.n.deps || []).filter((d) => pos.has(d)).map((d) => pos.get(d));
          return ps.length ? ps.reduce((a, b) => a + b, 0) / ps.length : it.i;
        };
        (layers[l] || []).sort((a, b) => bary(a) - bary(b) || a.i - b.i);
      }
    }
    // Rows: a layer wider than ROW_MAX wraps.
    const rows = [];
    for (const layer of layers) {
      if (!layer) continue;
      for (let k = 0; k < layer.length; k += ROW_MAX) rows.push(layer.slice(k, k + ROW_MAX));
    }
    let y = 0, width = 0;
    const rowWidths = rows.map((r) => r.reduce((a, it) => a + it.w, 0) + GAP_X * (r.length - 1));
    width = Math.max(NODE_W, ...rowWidths, 0);
    rows.forEach((r, k) => {
      let x = (width - rowWidths[k]) / 2;
      const h = Math.max(...r.map((it) => it.h));
      for (const it of r) {
        it.x = x;
        it.y = y;
        x += it.w + GAP_X;
      }
      y += h + GAP_Y;
    });
    return { items, w: width, h: Math.max(0, y - GAP_Y), key };
  }

  render() {
    const lay = this.layout(this.opts.rootKey);
    const root = svg("svg", { width: lay.w + 2 * PAD, height: lay.h + 2 * PAD, role: "img", "aria-label": "task graph" });
    const g = svg("g", { transform: `translate(${PAD},${PAD})` });
    root.append(g);
    this.draw(g, lay);
    this.container.replaceChildren(root);
    const note = this.graphs.get(String(this.opts.rootKey));
    if (note && note.note) {
      const p = document.createElement("p");
      p.className = "muted";
      p.textContent = note.note;
      this.container.append(p);
    }
  }

  draw(parent, lay) {
    const edges = svg("g", {});
    parent.append(edges);
    for (const it of lay.items) {
      for (const d of it.n.deps || []) {
        const src = lay.items[d];
        if (!src) continue;
        const x1 = src.x + src.w / 2, y1 = src.y + src.h, x2 = it.x + it.w / 2, y2 = it.y;
        const my = (y1 + y2) / 2;
        edges.append(svg("path", { class: "edge", d: `M${x1},${y1} C${x1},${my} ${x2},${my} ${x2},${y2}` }));
      }
    }
    for (const it of lay.items) parent.append(this.drawNode(it));
  }

  drawNode(it) {
    const n = it.n;
    const g = svg("g", { class: "node", transform: `translate(${it.x},${it.y})`, "data-name": n.name, "data-id": n.id, "data-kind": n.kind, "data-phase": n.phase || "" });
    if (n.kind === "more") {
      g.append(svg("rect", { class: "box", width: it.w, height: it.h }), text(12, 28, "… " + n.name + " (show 100 more)", "sub"));
      g.classList.add("selectable");
      g.addEventListener("click", () => {
        const k = String(it.more);
        this.limits.set(k, (this.limits.get(k) || 100) + 100);
        this.refresh();
      });
      return g;
    }
    if (it.sub) {
      g.classList.add("group");
      g.append(svg("rect", { width: it.w, height: it.h }));
      g.append(svg("rect", { class: "stripe phase-" + (n.phase || "none"), x: 0, y: 0, width: 5, height: it.h }));
      g.append(text(14, 18, clip(n.name, 40) + "  " + subtitle(n), ""));
      const inner = svg("g", { transform: `translate(${(it.w - it.sub.w) / 2},${HEAD})` });
      g.append(inner);
      this.draw(inner, it.sub);
    } else {
      g.append(svg("rect", { class: "box", width: it.w, height: it.h }));
      g.append(svg("rect", { class: "stripe phase-" + (n.phase || "none") + (n.cached ? " cached" : ""), x: 0, y: 0, width: 6, height: it.h }));
      const title = text(14, 19, clip(n.name, 24), "");
      const tip = svg("title", {});
      tip.textContent = (n.path || n.name) + (n.message ? "\n" + n.message : "");
      g.append(tip, title, text(14, 36, clip(subtitle(n), 30), "sub"));
    }
    if (it.key !== null && it.key !== undefined && expandable(n)) {
      const open = this.expanded.has(String(it.key));
      const t = svg("g", { class: "toggle", transform: `translate(${it.w - 24},6)`, role: "button", "aria-label": (open ? "collapse " : "expand ") + n.name });
      t.append(svg("rect", { width: 18, height: 18 }), text(5, 14, open ? "−" : "+", ""));
      t.addEventListener("click", (ev) => {
        ev.stopPropagation();
        if (open) this.expanded.delete(String(it.key));
        else this.expanded.add(String(it.key));
        if (this.opts.onExpand) this.opts.onExpand([...this.expanded]);
        this.refresh();
      });
      g.append(t);
    }
    if (!it.sub && this.opts.selectable && this.opts.selectable(n)) {
      g.classList.add("selectable");
      if (this.selected !== null && String(this.selected) === String(n.id)) g.classList.add("selected");
      g.addEventListener("click", () => {
        this.selected = n.id;
        this.container.querySelectorAll(".node.selected").forEach((e) => e.classList.remove("selected"));
        g.classList.add("selected");
        this.opts.onSelect(n);
      });
    }
    return g;
  }
}

// layoutPlain lays out a flat graph given as nodes with deps (lineage).
export function drawPlain(container, nodes, draw) {
  const gr = new Graph(container, { rootKey: "root", keyOf: () => null, load: async () => ({ nodes }), selectable: () => true, onSelect: draw.onSelect });
  gr.graphs = new Map([["root", { nodes }]]);
  gr.drawNode = draw.node ? ((orig) => (it) => draw.node(it, orig.call(gr, it)))(gr.drawNode) : gr.drawNode;
  gr.render();
  return gr;
}
