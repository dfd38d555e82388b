// Charts drawn as SVG: a confusion matrix, a ROC curve and a bar chart of
// one metric across runs. They take the values KFP's ClassificationMetrics
// and Metrics artifacts carry in their metadata.

import { svg } from "./dag.js";

function label(x, y, s, attrs = {}) {
  const t = svg("text", { x, y, ...attrs });
  t.textContent = s;
  return t;
}

function fmt(v) {
  if (typeof v !== "number") return String(v);
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1000 || Math.abs(v) < 0.001 ? v.toPrecision(4) : v.toFixed(4).replace(/0+$/, "").replace(/\.$/, "");
}
export { fmt };

// confusionMatrix draws metadata.confusionMatrix: {annotationSpecs:
// [{displayName}], rows: [{row: [counts]}]}; rows are the true classes.
export function confusionMatrix(cm) {
  const names = (cm.annotationSpecs || []).map((a) => a.displayName || "");
  const rows = (cm.rows || []).map((r) => r.row || []);
  const n = names.length;
  if (!n || rows.length !== n) return null;
  const cell = Math.max(34, Math.min(64, Math.floor(360 / n)));
  const left = 90, top = 40;
  const max = Math.max(1, ...rows.flat());
  const root = svg("svg", { class: "chart confusion", width: left + n * cell + 20, height: top + n * cell + 40, role: "img", "aria-label": "confusion matrix" });
  root.append(label(left + (n * cell) / 2, 14, "predicted", { "text-anchor": "middle" }));
  root.append(label(12, top + (n * cell) / 2, "true", { transform: `rotate(-90 12 ${top + (n * cell) / 2})`, "text-anchor": "middle" }));
  names.forEach((nm, j) => root.append(label(left + j * cell + cell / 2, top - 6, nm, { "text-anchor": "middle" })));
  rows.forEach((row, i) => {
    root.append(label(left - 6, top + i * cell + cell / 2 + 4, names[i], { "text-anchor": "end" }));
    row.forEach((v, j) => {
      const shade = Math.round(245 - (v / max) * 185);
      const g = svg("g", { class: "cell", "data-row": i, "data-col": j });
      g.append(svg("rect", { x: left + j * cell, y: top + i * cell, width: cell - 1, height: cell - 1, fill: `rgb(${shade},${shade + 5 > 255 ? 255 : shade + 5},255)` }));
      g.append(label(left + j * cell + cell / 2, top + i * cell + cell / 2 + 4, fmt(v), { "text-anchor": "middle", class: v / max > 0.55 ? "on-dark" : "on-light" }));
      root.append(g);
    });
  });
  return root;
}

// lineChart draws points {x, y} in [0,1]² (a ROC curve: false positive
// rate against recall), with the diagonal of a random classifier.
export function rocCurve(points) {
  const pts = points.filter((p) => isFinite(p.x) && isFinite(p.y)).sort((a, b) => a.x - b.x || a.y - b.y);
  if (!pts.length) return null;
  const W = 320, H = 260, L = 44, B = 36, T = 12, R = 12;
  const sx = (x) => L + x * (W - L - R), sy = (y) => H - B - y * (H - B - T);
  const root = svg("svg", { class: "chart roc", width: W, height: H, role: "img", "aria-label": "ROC curve" });
  for (let k = 0; k <= 4; k++) {
    const v = k / 4;
    root.append(svg("line", { class: "gridline", x1: sx(0), x2: sx(1), y1: sy(v), y2: sy(v) }));
    root.append(label(L - 6, sy(v) + 4, v.toFixed(2), { "text-anchor": "end" }));
    root.append(label(sx(v), H - B + 14, v.toFixed(2), { "text-anchor": "middle" }));
  }
  root.append(svg("line", { class: "axis", x1: sx(0), x2: sx(1), y1: sy(0), y2: sy(0) }));
  root.append(svg("line", { class: "axis", x1: sx(0), x2: sx(0), y1: sy(0), y2: sy(1) }));
  root.append(svg("line", { class: "diag", x1: sx(0), y1: sy(0), x2: sx(1), y2: sy(1) }));
  const d = pts.map((p, i) => (i ? "L" : "M") + sx(p.x).toFixed(1) + "," + sy(p.y).toFixed(1)).join(" ");
  root.append(svg("path", { class: "series", d }));
  root.append(label((L + W - R) / 2, H - 4, "false positive rate", { "text-anchor": "middle" }));
  root.append(label(12, (T + H - B) / 2, "true positive rate", { transform: `rotate(-90 12 ${(T + H - B) / 2})`, "text-anchor": "middle" }));
  // Area under the curve, by trapezoids from (0,0) to (1,1).
  let auc = 0, px = 0, py = 0;
  for (const p of [...pts, { x: 1, y: 1 }]) {
    auc += (p.x - px) * (p.y + py) / 2;
    px = p.x;
    py = p.y;
  }
  root.append(label(W - R, sy(0) - 8, "AUC " + auc.toFixed(3), { "text-anchor": "end", class: "auc" }));
  return root;
}

// barChart draws one value per run, in the given order.
export function barChart(entries, title) {
  const vals = entries.filter((e) => typeof e.value === "number" && isFinite(e.value));
  if (!vals.length) return null;
  const W = Math.max(360, 60 + vals.length * 46), H = 240, L = 54, B = 58, T = 24;
  const lo = Math.min(0, ...vals.map((e) => e.value)), hi = Math.max(0, ...vals.map((e) => e.value));
  const span = hi - lo || 1;
  const sy = (v) => T + (hi - v) / span * (H - B - T);
  const bw = Math.min(36, (W - L - 10) / vals.length - 8);
  const root = svg("svg", { class: "chart bars", width: W, height: H, role: "img", "aria-label": "chart of " + title });
  root.append(label(L, 14, title));
  for (let k = 0; k <= 4; k++) {
    const v = lo + (span * k) / 4;
    root.append(svg("line", { class: "gridline", x1: L, x2: W - 10, y1: sy(v), y2: sy(v) }));
    root.append(label(L - 6, sy(v) + 4, fmt(Number(v.toPrecision(3))), { "text-anchor": "end" }));
  }
  root.append(svg("line", { class: "axis", x1: L, x2: W - 10, y1: sy(0), y2: sy(0) }));
  vals.forEach((e, i) => {
    const x = L + 8 + i * ((W - L - 10) / vals.length);
    const y0 = sy(Math.max(0, e.value)), y1 = sy(Math.min(0, e.value));
    const g = svg("g", { class: "bar", "data-run": e.label });
    const r = svg("rect", { class: "barfill", x, y: y0, width: bw, height: Math.max(1, y1 - y0) });
    const tip = svg("title", {});
    tip.textContent = e.label + ": " + fmt(e.value);
    r.append(tip);
    g.append(r, label(x + bw / 2, y0 - 4, fmt(e.value), { "text-anchor": "middle" }));
    g.append(label(x + bw / 2, H - B + 12, e.label.length > 10 ? e.label.slice(0, 9) + "…" : e.label, { transform: `rotate(35 ${x + bw / 2} ${H - B + 12})` }));
    root.append(g);
  });
  return root;
}
