/// <reference lib="dom" />
// The dashboard (/__erulb__/ui) in a real headless Chromium (Debian's, driven by
// playwright-core): it loads with no console error, shows the configured domains with their
// rule graphs drawn (the same SVG as `elbctl graph --format svg`), a server's state changes on
// the page within 2 s of `elbctl server drain`, its own drain action (confirmed first) reaches
// etcd, the fleet, the certificates (one expiring soon) and the last changes are there, and
// with ELB_ADMIN_TOKEN it asks for the token. It takes a screenshot; with ELB_WRITE_SCREENSHOT=1
// it writes it to docs/dashboard.png, the README's (so that a test run leaves the tree clean).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { runElbctl } from "./elbctl-run";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Backend, Elb, Etcd, etcdctl, makeCa, makeCert, REPO_ROOT, startBackend, startElb, startEtcd, stopAll, tmpDir, waitFor } from "./harness";
import { startBrowser } from "../harness/browser.mjs";

const NAME = "DASH";
const SCREENSHOT = process.env.ELB_WRITE_SCREENSHOT === "1" ? join(REPO_ROOT, "docs/dashboard.png") : join(tmpDir("dashboard"), "dashboard.png");
let etcd: Etcd;
let elb: Elb;
let a: Backend;
let b: Backend;
let c: Backend;
let browser: Awaited<ReturnType<typeof startBrowser>>;
let page: Page;
const consoleErrors: string[] = [];
let traffic: NodeJS.Timeout | undefined;

const rules = {
  "shop.test": {
    init: "api",
    rules: {
      api: { type: "path", args: { pattern: "/api", succ: "canary", fail: "web" } },
      canary: { type: "header", args: { name: "X-Canary", pattern: "yes", succ: "v2", fail: "v1" } },
      v1: { type: "backend", args: { servername: "api" } },
      v2: { type: "backend", args: { servername: "api", set_response_headers: { "X-Canary": "yes" } } },
      web: { type: "backend", args: { servername: "web" } },
    },
  },
  "*.apps.test": {
    init: "limit",
    rules: {
      limit: { type: "limit", args: { rate: 200, per: "second", burst: 50, succ: "split", fail: "slow" } },
      slow: { type: "respond", args: { status: 429, body: "slow down", headers: { "Retry-After": "1" } } },
      split: { type: "split", args: { branches: [{ weight: 90, next: "stable" }, { weight: 10, next: "next" }] } },
      stable: { type: "backend", args: { servername: "web" } },
      next: { type: "backend", args: { servername: "api" } },
    },
  },
};

const elbctl = (...args: string[]) => runElbctl(etcd.endpoint, NAME, args);

const stateOf = (upstream: string, server: string) => page.locator(`[data-server="${upstream}|${server}"] .state`);

beforeAll(async () => {
  etcd = await startEtcd();
  [a, b, c] = [await startBackend("A"), await startBackend("B"), await startBackend("C")];
  elb = await startElb({ etcd: etcd.endpoint, elbName: NAME, env: { ELB_NODE_ID: "dash-node" } });
  await elb.waitLoaded();
  expect((await elb.api("PUT", "upstream", { web: { [a.addr]: "weight=3", [b.addr]: "" }, api: { [c.addr]: "max_fails=2 fail_timeout=5" } })).status).toBe(200);
  expect((await elb.api("PUT", "domain", rules)).status).toBe(200);
  const ca = makeCa();
  const shop = makeCert(ca, { names: ["shop.test"], days: 90, chain: true });
  const apps = makeCert(ca, { names: ["*.apps.test"], days: 5, chain: true });
  expect((await elb.api("PUT", "cert", { "shop.test": { cert: shop.cert, key: shop.key }, "*.apps.test": { cert: apps.cert, key: apps.key } })).status).toBe(200);
  // some traffic for the rates, bounded: a few requests every 100 ms while the suite runs
  let sent = 0;
  traffic = setInterval(() => {
    if (sent > 3000) return;
    sent += 4;
    for (const [host, path] of [["shop.test", "/"], ["shop.test", "/api/x"], ["a.apps.test", "/"], ["b.apps.test", "/"]]) void elb.request({ path, headers: { Host: host } }).catch(() => undefined);
  }, 100);
  browser = await startBrowser();
  page = await browser.context.newPage();
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(m.text());
  });
  page.on("pageerror", (e) => consoleErrors.push(`pageerror: ${e.message}`));
});

afterAll(async () => {
  if (traffic) clearInterval(traffic);
  await stopAll();
});

describe("the dashboard", () => {
  it("loads with no console error and shows the domains with their graphs drawn", async () => {
    const res = await page.goto(`${elb.url}/__erulb__/ui/`);
    expect(res?.status()).toBe(200);
    await page.locator('[data-domain="shop.test"] svg g.rule').first().waitFor({ timeout: 10000 });
    expect(await page.locator("[data-domain]").evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.domain))).toEqual(["*.apps.test", "shop.test"]);
    const rulesDrawn = await page.locator('[data-domain="shop.test"] svg g.rule').evaluateAll((els) => els.map((e) => e.getAttribute("data-rule")));
    expect(rulesDrawn.sort()).toEqual(["api", "canary", "v1", "v2", "web"]);
    // the same picture as elbctl graph --format svg: the engine's description (Lua) laid out
    // by the page's module is the text elbctl makes from its own (Node) with the same module
    const cli = await elbctl("graph", "shop.test", "--format", "svg");
    expect(cli.code, cli.stderr).toBe(0);
    // (a string: the test runner would rewrite a dynamic import in a function)
    const inPage = await page.evaluate(`(async () => {
      const m = await import("/__erulb__/ui/graph-layout.js");
      const g = await (await fetch("/__erulb__/graph?domain=shop.test")).json();
      return m.graphSvg("shop.test", g.domains["shop.test"]);
    })()`);
    expect(inPage).toBe(cli.stdout.trimEnd());
    const drawnLines = await page.locator('[data-domain="shop.test"] svg line').count();
    expect(drawnLines).toBe((cli.stdout.match(/<line /g) ?? []).length);
    expect(drawnLines).toBe(4);
    expect(await page.locator('[data-domain="*.apps.test"] svg text', { hasText: "split (random)" }).count()).toBe(1);
    // rates from the metrics
    await waitFor(async () => /req\/s/.test((await page.locator('[data-rate-domain="shop.test"]').first().textContent()) ?? ""), 10000, "a request rate");
    await page.locator('[data-node="dash-node"]').waitFor({ timeout: 5000 });
    await page.locator("#changes td", { hasText: `/${NAME}/rules/shop.test` }).first().waitFor({ timeout: 5000 });
    expect(await stateOf("web", a.addr).textContent()).toBe("up");
    // certificates and their expiry, the one expiring within 14 days marked
    await page.locator("#certs td", { hasText: "shop.test" }).first().waitFor({ timeout: 5000 });
    expect(await page.locator("#certs p.expiring").textContent()).toBe("expiring within 14 days: *.apps.test");
    const left = await page.locator("#certs tr", { hasText: "*.apps.test" }).locator("td.num").textContent();
    expect(Number(left)).toBeGreaterThanOrEqual(3);
    expect(Number(left)).toBeLessThanOrEqual(5);
    expect(consoleErrors).toEqual([]);
  });

  it("shows a change made by elbctl within 2 s", async () => {
    const r = await elbctl("server", "drain", "web", b.addr);
    expect(r.code, r.stderr).toBe(0);
    const t0 = Date.now();
    await page.waitForFunction(([sel]) => document.querySelector(sel)?.textContent === "drain", [`[data-server="web|${b.addr}"] .state`], { timeout: 2000 });
    expect(Date.now() - t0).toBeLessThanOrEqual(2000);
    const back = await elbctl("server", "enable", "web", b.addr);
    expect(back.code).toBe(0);
    await page.waitForFunction(([sel]) => document.querySelector(sel)?.textContent === "up", [`[data-server="web|${b.addr}"] .state`], { timeout: 2000 });
  });

  it("drains a server after a confirmation, through the API", async () => {
    const row = page.locator(`[data-server="web|${a.addr}"]`);
    // cancelled: nothing is sent
    await row.locator('[data-action="drain"]').click();
    await page.locator("#confirm").waitFor({ state: "visible" });
    expect(await page.locator("#confirm-text").textContent()).toBe(`Drain ${a.addr} of upstream web? (no new clients go to it; sticky ones stay)`);
    await page.locator("#confirm-cancel").click();
    await page.waitForTimeout(1500);
    expect(await stateOf("web", a.addr).textContent()).toBe("up");
    expect((await etcdctl(etcd.endpoint, "get", `/${NAME}/upstreams/web/${a.addr}`, "--print-value-only")).stdout.trim()).toBe("weight=3");
    // confirmed
    await row.locator('[data-action="drain"]').click();
    await page.locator("#confirm-ok").click();
    await page.waitForFunction(([sel]) => document.querySelector(sel)?.textContent === "drain", [`[data-server="web|${a.addr}"] .state`], { timeout: 5000 });
    expect((await etcdctl(etcd.endpoint, "get", `/${NAME}/upstreams/web/${a.addr}`, "--print-value-only")).stdout.trim()).toBe("weight=3 drain");
    // the other servers kept their params
    expect((await etcdctl(etcd.endpoint, "get", `/${NAME}/upstreams/web/${b.addr}`, "--print-value-only")).stdout.trim()).toBe("");
    expect(await row.locator('[data-action="drain"]').isDisabled()).toBe(true);
    expect(await row.locator('[data-action="enable"]').isDisabled()).toBe(false);
    await page.waitForTimeout(2500); // a second reading of the counters: the rates are on the page
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    const png = readFileSync(SCREENSHOT);
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    expect(png.readUInt32BE(16)).toBeGreaterThanOrEqual(1200); // width
    expect(consoleErrors).toEqual([]);
  });
});

describe("its files", () => {
  it("are served under /__erulb__/ui/ to callers in ELB_ADMIN_ALLOW only", async () => {
    const bare = await elb.request("/__erulb__/ui");
    expect(bare.status).toBe(302);
    expect(bare.headers.location).toMatch(/\/__erulb__\/ui\/$/);
    const js = await elb.request("/__erulb__/ui/graph-layout.js");
    expect(js.status).toBe(200);
    expect(js.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(js.body).toBe(readFileSync(join(REPO_ROOT, "ui/graph-layout.js"), "utf8"));
    expect((await elb.request("/__erulb__/ui/../package.json")).status).toBe(404);
    expect((await elb.request("/__erulb__/ui/nope.js")).status).toBe(404);
    const closed = await startElb({ etcd: etcd.endpoint, elbName: NAME, env: { ELB_ADMIN_ALLOW: "10.0.0.0/8", ELB_NODE_ID: "closed" } });
    const refused = await closed.request("/__erulb__/ui/");
    expect(refused.status).toBe(403);
    expect(refused.json.msg).toMatch(/is not in ELB_ADMIN_ALLOW/);
    await closed.stop();
  });
});

describe("with ELB_ADMIN_TOKEN", () => {
  it("asks for the token, then shows the node", async () => {
    const guarded = await startElb({ etcd: etcd.endpoint, elbName: NAME, env: { ELB_ADMIN_TOKEN: "t0ken", ELB_NODE_ID: "guarded" } });
    await guarded.waitLoaded();
    const p = await browser.context.newPage();
    await p.goto(`${guarded.url}/__erulb__/ui/`);
    await p.locator("#login").waitFor({ state: "visible", timeout: 5000 });
    expect(await p.locator("#main").isHidden()).toBe(true);
    await p.fill("#token", "wrong");
    await p.click('#login button[type="submit"]');
    await p.waitForFunction(() => /token/i.test(document.querySelector("#login-error")?.textContent ?? ""), undefined, { timeout: 5000 });
    await p.fill("#token", "t0ken");
    await p.click('#login button[type="submit"]');
    await p.locator('[data-domain="shop.test"] svg').waitFor({ timeout: 10000 });
    await p.locator('[data-node="guarded"]').waitFor({ timeout: 5000 });
    await p.close();
    await guarded.stop();
  });
});
