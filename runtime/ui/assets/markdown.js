// A small Markdown renderer for artifact previews. It builds DOM nodes,
// never HTML strings, so whatever a task wrote cannot inject markup or
// script: headings, paragraphs, lists, block quotes, fenced and indented
// code, tables, emphasis, inline code and links (http, https and mailto
// only).

function inline(parent, s) {
  // Tokens: `code`, **strong**, *em* / _em_, [text](url).
  const re = /(`[^`]+`)|(\*\*[^*]+\*\*)|(\*[^*\s][^*]*\*)|(_[^_\s][^_]*_)|(\[[^\]]+\]\([^)\s]+\))/g;
  let last = 0, m;
  while ((m = re.exec(s))) {
    if (m.index > last) parent.append(s.slice(last, m.index));
    const tok = m[0];
    let e;
    if (m[1]) {
      e = document.createElement("code");
      e.textContent = tok.slice(1, -1);
    } else if (m[2]) {
      e = document.createElement("strong");
      inline(e, tok.slice(2, -2));
    } else if (m[3] || m[4]) {
      e = document.createElement("em");
      inline(e, tok.slice(1, -1));
    } else {
      const close = tok.indexOf("](");
      const href = tok.slice(close + 2, -1);
      if (/^(https?:|mailto:)/i.test(href)) {
        e = document.createElement("a");
        e.href = href;
        e.rel = "noopener noreferrer";
        e.target = "_blank";
      } else {
        e = document.createElement("span");
      }
      inline(e, tok.slice(1, close));
    }
    parent.append(e);
    last = m.index + tok.length;
  }
  if (last < s.length) parent.append(s.slice(last));
}

function el(tag, text) {
  const e = document.createElement(tag);
  if (text !== undefined) inline(e, text);
  return e;
}

export function renderMarkdown(src) {
  const root = document.createElement("div");
  root.className = "md";
  const lines = src.replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  const isTableSep = (l) => /^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/.test(l);
  const cells = (l) => l.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim());
  while (i < lines.length) {
    const line = lines[i];
    if (/^\s*$/.test(line)) {
      i++;
      continue;
    }
    let m;
    if ((m = /^(```|~~~)/.exec(line))) {
      const fence = m[1];
      const body = [];
      i++;
      while (i < lines.length && !lines[i].startsWith(fence)) body.push(lines[i++]);
      i++;
      const pre = document.createElement("pre");
      pre.className = "text";
      pre.textContent = body.join("\n");
      root.append(pre);
      continue;
    }
    if ((m = /^(#{1,6})\s+(.*)$/.exec(line))) {
      root.append(el("h" + Math.min(6, m[1].length + 1), m[2].replace(/\s+#+\s*$/, "")));
      i++;
      continue;
    }
    if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
      root.append(document.createElement("hr"));
      i++;
      continue;
    }
    if (line.includes("|") && i + 1 < lines.length && isTableSep(lines[i + 1])) {
      const table = document.createElement("table");
      const head = document.createElement("tr");
      for (const c of cells(line)) head.append(el("th", c));
      table.append(head);
      i += 2;
      while (i < lines.length && lines[i].includes("|") && !/^\s*$/.test(lines[i])) {
        const tr = document.createElement("tr");
        for (const c of cells(lines[i])) tr.append(el("td", c));
        table.append(tr);
        i++;
      }
      root.append(table);
      continue;
    }
    if (/^>\s?/.test(line)) {
      const body = [];
      while (i < lines.length && /^>\s?/.test(lines[i])) body.push(lines[i++].replace(/^>\s?/, ""));
      const q = document.createElement("blockquote");
      q.append(renderMarkdown(body.join("\n")));
      root.append(q);
      continue;
    }
    if (/^( {4}|\t)/.test(line)) {
      const body = [];
      while (i < lines.length && (/^( {4}|\t)/.test(lines[i]) || /^\s*$/.test(lines[i]))) body.push(lines[i++].replace(/^( {4}|\t)/, ""));
      const pre = document.createElement("pre");
      pre.className = "text";
      pre.textContent = body.join("\n").replace(/\n+$/, "");
      root.append(pre);
      continue;
    }
    if ((m = /^\s*([-*+]|\d+[.)])\s+/.exec(line))) {
      const ordered = /\d/.test(m[1]);
      const list = document.createElement(ordered ? "ol" : "ul");
      while (i < lines.length && (m = /^\s*([-*+]|\d+[.)])\s+(.*)$/.exec(lines[i]))) {
        list.append(el("li", m[2]));
        i++;
      }
      root.append(list);
      continue;
    }
    const para = [];
    while (i < lines.length && !/^\s*$/.test(lines[i]) && !/^(#{1,6}\s|```|~~~|>|\s*([-*+]|\d+[.)])\s)/.test(lines[i])) para.push(lines[i++].trim());
    root.append(el("p", para.join(" ")));
  }
  return root;
}
