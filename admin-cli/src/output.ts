// What elbctl prints: tables and colours for people (colours only on a terminal), JSON for
// machines (--json).
import { stripVTControlCharacters, styleText } from "node:util";
import { Problem } from "../../src-lua/core/problems";

export interface Out {
  json: boolean;
  color: boolean;
  line(s?: string): void;
  err(s: string): void;
  print(human: () => void, machine: unknown): void;
}

export function makeOut(json: boolean, colorOpt: boolean | undefined): Out {
  const color = colorOpt ?? (Boolean(process.stdout.isTTY) && !process.env.NO_COLOR && process.env.TERM !== "dumb");
  return {
    json,
    color,
    line: (s = "") => process.stdout.write(`${s}\n`),
    err: (s) => process.stderr.write(`${s}\n`),
    print(human, machine) {
      if (json) process.stdout.write(`${JSON.stringify(machine)}\n`);
      else human();
    },
  };
}

export type Style = "red" | "green" | "yellow" | "cyan" | "dim" | "bold";

// validateStream off: whether to colour is decided once, in makeOut (--color, --no-color).
export function paint(out: Out, style: Style, s: string): string {
  return out.color ? styleText(style, s, { validateStream: false }) : s;
}

const visible = (s: string): number => stripVTControlCharacters(s).length;

export function table(out: Out, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => visible(r[i] ?? ""))));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c + " ".repeat(widths[i] - visible(c))))
      .join("  ")
      .trimEnd();
  out.line(paint(out, "bold", fmt(header)));
  for (const r of rows) out.line(fmt(r));
}

/** Validation problems, each with the etcd key (or file) and the field as a JSON pointer. */
export function problemLines(where: string, problems: Problem[]): string {
  return problems.map((p) => `  ${where}${p.path === "" ? "" : ` ${p.path}`}: ${p.error}`).join("\n");
}
