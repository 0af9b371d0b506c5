// The layout of a domain's rule graph as a self-contained SVG: `elbctl graph --format svg`
// imports this module and the dashboard (ui/dashboard.js) loads it in the browser, so both draw
// the same picture. Its input is the description the engine's core makes
// (src-lua/core/rules/graph.ts: {init, nodes: [{name, label, terminal, type}], edges: [{from,
// to?, label, kind}]}). Rows are the longest path from init (the graph has no cycles), columns
// the order the rules were reached in; a rule's edges leave its box spread along its bottom.
// Plain JavaScript with no imports: no build step on either side.

export const EDGE_COLORS = { match: "#2a7d2a", miss: "#c86400", branch: "#2a5d9f" };

/** @param {string} s */
export function escapeXml(s) {
  return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** The engine's JSON writes an empty list as {}: lists are lists here. */
function normalized(graph) {
  return { ...graph, nodes: Array.isArray(graph.nodes) ? graph.nodes : [], edges: Array.isArray(graph.edges) ? graph.edges : [] };
}

/**
 * Where each box goes: {pos: Map<name, {x, y}>, boxW, boxH, width, height}.
 * @param {{init: string, nodes: {name: string, label: string}[], edges: {from: string, to?: string}[]}} graph
 */
export function layout(graph) {
  graph = normalized(graph);
  const depth = new Map([[graph.init, 0]]);
  for (let changed = true; changed; ) {
    changed = false;
    for (const e of graph.edges) {
      const d = depth.get(e.from);
      if (d === undefined || e.to === undefined) continue;
      if ((depth.get(e.to) ?? -1) < d + 1) {
        depth.set(e.to, d + 1);
        changed = true;
      }
    }
  }
  /** @type {{name: string, label: string}[][]} */
  const rows = [];
  for (const n of graph.nodes) (rows[depth.get(n.name) ?? 0] ??= []).push(n);
  const charW = 7.2;
  const boxW = Math.max(160, ...graph.nodes.map((n) => Math.max(n.name.length, n.label.length) * charW + 20));
  const boxH = 44;
  const gapX = 30;
  const gapY = 60;
  const top = 50;
  const width = Math.max(1, ...rows.map((r) => (r ? r.length : 0))) * (boxW + gapX) + gapX;
  const height = top + rows.length * (boxH + gapY);
  const pos = new Map();
  rows.forEach((r, i) => {
    const rowW = r.length * (boxW + gapX) - gapX;
    r.forEach((n, j) => pos.set(n.name, { x: (width - rowW) / 2 + j * (boxW + gapX), y: top + i * (boxH + gapY) }));
  });
  return { pos, boxW, boxH, width, height };
}

/**
 * The SVG text of a rule graph, titled `title` (the domain).
 * @param {string} title
 * @param {{init: string, nodes: {name: string, label: string, terminal: boolean, type: string}[], edges: {from: string, to?: string, label: string, kind: "match" | "miss" | "branch"}[]}} graph
 */
export function graphSvg(title, graph) {
  graph = normalized(graph);
  const { pos, boxW, boxH, width, height } = layout(graph);
  const w = Math.ceil(width);
  const h = Math.ceil(height);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="monospace" font-size="12">`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>',
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  for (const n of graph.nodes) {
    const a = pos.get(n.name);
    const edges = graph.edges.filter((e) => e.from === n.name);
    edges.forEach((e, i) => {
      if (e.to === undefined) return;
      const b = pos.get(e.to);
      if (!b) return;
      const color = EDGE_COLORS[e.kind] ?? "#555";
      const x1 = a.x + (boxW * (i + 1)) / (edges.length + 1);
      const y1 = a.y + boxH;
      const x2 = b.x + boxW / 2;
      const y2 = b.y;
      parts.push(`<line x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" stroke="${color}" stroke-width="1.5" marker-end="url(#arrow)"/>`);
      parts.push(`<text x="${(x1 + x2) / 2 + 4}" y="${(y1 + y2) / 2}" fill="${color}">${escapeXml(e.label)}</text>`);
    });
  }
  for (const n of graph.nodes) {
    const a = pos.get(n.name);
    const fill = n.type === "backend" ? "#e8f1ff" : n.terminal ? "#fff4e0" : "#f7f7f7";
    parts.push(`<g class="rule" data-rule="${escapeXml(n.name)}"><rect x="${a.x}" y="${a.y}" width="${boxW}" height="${boxH}" rx="${n.terminal ? 12 : 3}" fill="${fill}" stroke="#333"/>`);
    parts.push(`<text x="${a.x + 10}" y="${a.y + 18}" font-weight="bold">${escapeXml(n.name)}</text>`);
    parts.push(`<text x="${a.x + 10}" y="${a.y + 35}">${escapeXml(n.label)}</text></g>`);
  }
  parts.push("</svg>");
  return parts.join("\n");
}
