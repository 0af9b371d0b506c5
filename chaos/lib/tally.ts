// What a category found: how many cases it tried, which misbehaved (a few kept as examples,
// the worst first), and its figures. One Tally per category; run.ts writes them to
// docs/reliability/<id>.json and docs/RELIABILITY.md.

export interface Example {
  /** what went wrong, in a few words: "answered 500", "partial apply", ... */
  what: string;
  /** the case, enough to reproduce it (seed and index for generated ones) */
  case: string;
  detail?: string;
  /** higher is worse: picks the worst example */
  severity: number;
}

export interface CategoryResult {
  id: string;
  title: string;
  tried: number;
  misbehaved: number;
  /** misbehaviours by kind ("answered 5xx": 3, ...) */
  byKind: Record<string, number>;
  worst?: Example;
  examples: Example[];
  /** figures worth a line in the report: latencies, memory, windows, ... */
  figures: Record<string, unknown>;
  /** what the category did, for the report */
  notes: string[];
  seconds: number;
}

const KEEP = 25;

export class Tally {
  tried = 0;
  private bad: Example[] = [];
  private kinds: Record<string, number> = {};
  figures: Record<string, unknown> = {};
  notes: string[] = [];
  private started = Date.now();

  constructor(readonly id: string, readonly title: string) {}

  /** One case tried; `problems` are its misbehaviours (none: it behaved). */
  count(caseName: string, problems: { what: string; detail?: string; severity?: number }[] = []): boolean {
    this.tried++;
    for (const p of problems) this.misbehave(caseName, p.what, p.detail, p.severity);
    return problems.length === 0;
  }

  misbehave(caseName: string, what: string, detail?: string, severity = 1): void {
    this.kinds[what] = (this.kinds[what] ?? 0) + 1;
    const ex = { what, case: caseName, detail: detail === undefined ? undefined : detail.slice(0, 600), severity };
    // keep the first examples of each kind, and the worst overall
    if (this.bad.length < KEEP || this.kinds[what] <= 2) this.bad.push(ex);
  }

  get misbehaved(): number {
    return Object.values(this.kinds).reduce((a, b) => a + b, 0);
  }

  result(): CategoryResult {
    const sorted = [...this.bad].sort((a, b) => b.severity - a.severity);
    return {
      id: this.id,
      title: this.title,
      tried: this.tried,
      misbehaved: this.misbehaved,
      byKind: this.kinds,
      worst: sorted[0],
      examples: sorted.slice(0, KEEP),
      figures: this.figures,
      notes: this.notes,
      seconds: Math.round((Date.now() - this.started) / 100) / 10,
    };
  }
}
