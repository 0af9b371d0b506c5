// Colours only when asked (makeOut decided), the same escape codes as before, and tables that
// align on the visible width of coloured cells.
import { afterEach, describe, expect, it, vi } from "vitest";
import { makeOut, paint, table } from "./output";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("paint", () => {
  it("wraps in SGR codes when colour is on, whatever stdout is", () => {
    const out = makeOut(false, true);
    expect(paint(out, "red", "x")).toBe("\x1b[31mx\x1b[39m");
    expect(paint(out, "green", "x")).toBe("\x1b[32mx\x1b[39m");
    expect(paint(out, "yellow", "x")).toBe("\x1b[33mx\x1b[39m");
    expect(paint(out, "cyan", "x")).toBe("\x1b[36mx\x1b[39m");
    expect(paint(out, "dim", "x")).toBe("\x1b[2mx\x1b[22m");
    expect(paint(out, "bold", "x")).toBe("\x1b[1mx\x1b[22m");
  });
  it("leaves text alone when colour is off", () => {
    expect(paint(makeOut(false, false), "red", "x")).toBe("x");
  });
});

describe("table", () => {
  it("pads by visible width, so coloured and plain tables line up the same", () => {
    const lines = (color: boolean) => {
      const written: string[] = [];
      vi.spyOn(process.stdout, "write").mockImplementation((s) => {
        written.push(String(s));
        return true;
      });
      const out = makeOut(false, color);
      table(out, ["A", "STATE", "N"], [["long-name", paint(out, "green", "up"), "1"], ["b", paint(out, "red", "unhealthy"), "22"]]);
      vi.restoreAllMocks();
      return written.join("");
    };
    expect(lines(false)).toBe("A          STATE      N\nlong-name  up         1\nb          unhealthy  22\n");
    expect(lines(true).replace(/\x1b\[\d+m/g, "")).toBe(lines(false));
  });
});
