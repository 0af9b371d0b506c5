// @ts-check
// Debian's Chromium, headless, driven by playwright-core (which never downloads a browser):
// a new empty profile in a temp dir, no network of its own (no sync, no updates, no QUIC).
import { chromium } from "playwright-core";
import { track, untrack } from "./procs.mjs";
import { tmpDir } from "./tmp.mjs";

export const CHROMIUM = "/usr/bin/chromium";

const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

/**
 * A browser context (its own profile) with a viewport; stop() closes it and the browser.
 * @param {{ width?: number, height?: number }} [opts]
 */
export async function startBrowser({ width = 1440, height = 1000 } = {}) {
  const context = await chromium.launchPersistentContext(tmpDir("chromium"), { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width, height } });
  const handle = {
    context,
    async stop() {
      untrack(handle);
      await context.close().catch(() => undefined);
    },
  };
  return track(handle);
}
