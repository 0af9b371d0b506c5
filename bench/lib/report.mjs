// Writes the results of a run: docs/bench/results.json (raw numbers), docs/BENCHMARKS.md
// (machine, versions, command, targets, one part per section) and docs/bench/ratios.svg.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";

export function readResults(file) {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
}

function esc(s) {
  return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/**
 * A horizontal bar chart of ratios to plain nginx, one block of bars per group, with the
 * 1.0 line (plain nginx) and, per group, an optional target line.
 * bars: [{group, label, ratio}]; targets: {group: {value, label}}.
 */
export function ratiosSvg(bars, { title, targets = {} } = {}) {
  const groups = [];
  for (const b of bars) {
    if (b.ratio === undefined || b.ratio === null || !Number.isFinite(b.ratio)) continue;
    let g = groups.find((x) => x.name === b.group);
    if (!g) groups.push((g = { name: b.group, bars: [] }));
    g.bars.push(b);
  }
  const W = 860;
  const left = 300;
  const right = 70;
  const barH = 16;
  const gap = 4;
  const groupGap = 30;
  const top = 78;
  const maxRatio = Math.max(1.5, ...groups.flatMap((g) => g.bars.map((b) => b.ratio))) * 1.05;
  const xOf = (r) => left + ((W - left - right) * r) / maxRatio;
  let y = top;
  const parts = [];
  const colors = { "plain nginx": "#9aa5b1", ELB: "#2b7bb9", HAProxy: "#d98b2b" };
  const colorOf = (label) => colors[label] ?? (label.startsWith("ELB") ? colors.ELB : label.startsWith("plain nginx") ? colors["plain nginx"] : "#5a9e6f");
  for (const g of groups) {
    parts.push(`<text x="10" y="${y + 12}" font-weight="bold">${esc(g.name)}</text>`);
    y += 20;
    const y0 = y;
    for (const b of g.bars) {
      const w = Math.max(1, xOf(b.ratio) - left);
      parts.push(`<text x="${left - 8}" y="${y + barH - 4}" text-anchor="end">${esc(b.label)}</text>`);
      parts.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${colorOf(b.label)}"/>`);
      parts.push(`<text x="${(left + w + 5).toFixed(1)}" y="${y + barH - 4}">${b.ratio.toFixed(2)}</text>`);
      y += barH + gap;
    }
    const t = targets[g.name];
    if (t) {
      const x = xOf(t.value).toFixed(1);
      parts.push(`<line x1="${x}" y1="${y0 - 4}" x2="${x}" y2="${y}" stroke="#c0392b" stroke-dasharray="4 3"/>`);
      parts.push(`<text x="${x}" y="${y + 11}" fill="#c0392b" text-anchor="middle" font-size="10">${esc(t.label)}</text>`);
      y += 12;
    }
    y += groupGap - gap;
  }
  const H = y + 10;
  const one = xOf(1).toFixed(1);
  const ticks = [];
  for (let r = 0; r <= maxRatio + 1e-9; r += 0.25) {
    const x = xOf(r).toFixed(1);
    ticks.push(`<line x1="${x}" y1="${top - 6}" x2="${x}" y2="${H - 10}" stroke="#eee"/>`);
    ticks.push(`<text x="${x}" y="${top - 10}" text-anchor="middle" font-size="10" fill="#666">${r.toFixed(2)}</text>`);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="20" font-size="14" font-weight="bold">${esc(title ?? "Ratios to plain nginx")}</text>
<text x="10" y="36" font-size="11" fill="#555">1.00 (the dark line) = each group's reference: plain nginx proxy_pass to a static upstream, or ELB with 1 domain.</text>
<text x="10" y="50" font-size="11" fill="#555">Throughput: higher is better; CPU per request: lower is better. Dashed red: the target.</text>
${ticks.join("\n")}
<line x1="${one}" y1="${top - 6}" x2="${one}" y2="${H - 10}" stroke="#333" stroke-width="1.5"/>
${parts.join("\n")}
</svg>
`;
}

function mark(met) {
  if (met === true) return "✅ met";
  if (met === false) return "❌ missed";
  return "— not measured";
}

/** docs/BENCHMARKS.md from the results and the section modules. */
export function markdown(results, sections, { svgPath, mdPath, notes }) {
  const m = results.meta;
  const L = [];
  L.push("# ELB benchmarks", "");
  L.push("_This file is written by `npm run bench` (bench/run.mjs); edit the generator, not this file. Raw numbers: " +
    `[${relative(dirname(mdPath), join(dirname(svgPath), "results.json"))}](${relative(dirname(mdPath), join(dirname(svgPath), "results.json"))})._`, "");
  L.push(`Measured ${m.date} on \`${m.hostname}\`, commit \`${m.commit}\`${m.dirty ? " (with uncommitted changes in the tree)" : ""}, in ${m.total_s} s for \`${m.command}\`${m.quick ? " (**quick mode: fewer and shorter runs, not for comparisons**)" : ""}.`, "");
  const disturbed = sections.filter((s) => (results.sections[s.id]?.machine?.other_cores ?? 0) > 0.25);
  if (disturbed.length) {
    L.push(`> **The machine was shared during this run**: other processes used more than a quarter of a core during ${disturbed.map((s) => `${s.id} (${results.sections[s.id].machine.other_cores})`).join(", ")}. ` +
      "Ratios of interleaved runs hold up better than absolute figures; see the note under each section.", "");
  }
  L.push("## Machine and versions", "");
  L.push("| | |", "|---|---|");
  L.push(`| CPU | ${m.machine.nproc} × ${m.machine.cpu_model} |`);
  L.push(`| memory | ${m.machine.mem_gib} GiB |`);
  L.push(`| kernel | ${m.machine.kernel} |`);
  L.push(`| OS | ${m.machine.os} |`);
  for (const [k, v] of Object.entries(m.versions)) L.push(`| ${k} | ${v} |`);
  L.push(`| load average before the run | ${m.load_before.map((x) => x.toFixed(2)).join(", ")} |`);
  L.push("");
  L.push("## Set-up", "");
  L.push(m.setup_text, "");
  L.push("## Targets", "");
  L.push("| target | measured | |", "|---|---|---|");
  for (const s of sections) {
    const r = results.sections[s.id];
    if (!r || !r.data || !s.targets) continue;
    for (const t of s.targets(r.data)) L.push(`| ${t.target} | ${t.value} | ${mark(t.met)} |`);
  }
  L.push("");
  L.push(`![ratios to plain nginx](${relative(dirname(mdPath), svgPath)})`, "");
  if (notes) L.push(notes.trim(), "");
  for (const s of sections) {
    const r = results.sections[s.id];
    if (!r) continue;
    L.push(`## ${s.title}`, "");
    if (r.error) {
      L.push(`**This section failed:** \`${r.error.split("\n")[0]}\``, "");
      continue;
    }
    L.push(s.markdown(r.data), "");
    const w = r.machine;
    if (w) {
      L.push(`<sub>Section measured ${r.measured_at}, ${r.duration_s} s; the machine was busy ${w.busy_cores} cores on average, of which ${w.other_cores} by processes the benchmark did not start; load average after: ${w.loadavg.join(", ")}.</sub>`, "");
    }
  }
  return L.join("\n") + "\n";
}

export function writeDocs({ results, sections, mdPath, jsonPath, svgPath, notes }) {
  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(jsonPath, JSON.stringify(results, null, 2) + "\n");
  const bars = [];
  const targets = {};
  for (const s of sections) {
    const r = results.sections[s.id];
    if (!r || !r.data || !s.chart) continue;
    bars.push(...s.chart(r.data));
    if (s.chartTargets) Object.assign(targets, s.chartTargets(r.data));
  }
  writeFileSync(svgPath, ratiosSvg(bars, { title: "ELB and HAProxy against plain nginx", targets }));
  writeFileSync(mdPath, markdown(results, sections, { svgPath, mdPath, notes }));
}
