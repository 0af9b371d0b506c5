// docs/RELIABILITY.md from the categories' results.
import type { CategoryResult } from "./tally";

export interface RunInfo {
  date: string;
  commit: string;
  machine: string;
  command: string;
  seed: number;
  seconds: number;
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/[\r\n]+/g, " ").replace(/[\x00-\x1f\x7f-\xff]/g, "·");

function figureLines(f: Record<string, unknown>): string[] {
  return Object.entries(f).map(([k, v]) => `- ${k}: \`${cell(JSON.stringify(v)).slice(0, 600)}\``);
}

/** `findings`: a hand-written section (chaos/FINDINGS.md) on what the suite found and what was fixed. */
export function render(run: RunInfo, results: CategoryResult[], findings = ""): string {
  const total = results.reduce((n, r) => n + r.misbehaved, 0);
  const out: string[] = [];
  out.push("# Reliability");
  out.push("");
  out.push("What `npm run chaos` (chaos/) found, per category: how many cases it tried, how many misbehaved,");
  out.push("and the worst one. Raw results: [docs/reliability/](reliability/) (one JSON file per category).");
  out.push("Every process runs on 127.0.0.1 (real etcd, real nginx running ELB with 2 workers, real backends).");
  out.push("");
  out.push(`- date: ${run.date}`);
  out.push(`- commit: ${run.commit}`);
  out.push(`- machine: ${run.machine}`);
  out.push(`- command: \`${run.command}\` (seed ${run.seed}; ${run.seconds} s)`);
  out.push("");
  out.push("| category | tried | misbehaved | worst example |");
  out.push("|---|---:|---:|---|");
  for (const r of results) {
    const worst = r.worst ? cell(`${r.worst.what}: ${r.worst.case.slice(0, 160)}`) : "none";
    out.push(`| ${r.title} | ${r.tried} | ${r.misbehaved} | ${worst} |`);
  }
  out.push("");
  out.push(total === 0 ? "No misbehaviour in any category." : `${total} misbehaviours: see the categories below.`);
  if (findings) {
    out.push("");
    out.push(findings.trim());
  }
  for (const r of results) {
    out.push("");
    out.push(`## ${r.title}`);
    out.push("");
    out.push(`${r.tried} cases, ${r.misbehaved} misbehaved, ${r.seconds} s.`);
    for (const n of r.notes) out.push(`- ${cell(n)}`);
    out.push(...figureLines(r.figures));
    if (r.misbehaved > 0) {
      out.push("");
      out.push("| what | count |");
      out.push("|---|---:|");
      for (const [k, v] of Object.entries(r.byKind)) out.push(`| ${cell(k)} | ${v} |`);
      out.push("");
      out.push("Examples:");
      for (const e of r.examples.slice(0, 8)) out.push(`- ${cell(e.what)}: ${cell(e.case.slice(0, 240))}${e.detail ? ` — ${cell(e.detail.slice(0, 300))}` : ""}`);
    }
  }
  out.push("");
  return out.join("\n");
}
