// @ts-check
// etcd on 127.0.0.1: one member with its data in a temp dir (a cluster is built from the same
// member arguments), etcdctl, and etcd's v3 JSON gateway for bulk reads and writes.
import { join } from "node:path";
import { request } from "./http.mjs";
import { HOST, freePortPair } from "./ports.mjs";
import { run, start, stop, killGroup, track } from "./procs.mjs";
import { tmpDir } from "./tmp.mjs";
import { WaitAbort, waitFor } from "./wait.mjs";

/**
 * Runs `ETCDCTL_API=3 etcdctl --endpoints=<endpoint> ...args`; rejects on a non-zero exit.
 * @param {string} endpoint @param {...string} args
 * @returns {Promise<{ stdout: string, stderr: string }>}
 */
export async function etcdctl(endpoint, ...args) {
  const r = await run("etcdctl", [`--endpoints=${endpoint}`, "--dial-timeout=2s", "--command-timeout=5s", ...args], { env: { ...process.env, ETCDCTL_API: "3" } });
  if (r.code !== 0) throw new Error(`etcdctl ${args.join(" ")} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

/**
 * The arguments of one etcd member: client on port, peer on port + 1.
 * @param {{ name: string, dataDir: string, port: number, cluster?: string, logLevel?: string }} m
 *   cluster: the initial cluster ("m0=http://...,m1=..."), default this member alone
 */
export function etcdMemberArgs({ name, dataDir, port, cluster, logLevel = "warn" }) {
  const url = `http://${HOST}:${port}`;
  const peer = `http://${HOST}:${port + 1}`;
  return [
    "--name", name,
    "--data-dir", dataDir,
    "--listen-client-urls", url,
    "--advertise-client-urls", url,
    "--listen-peer-urls", peer,
    "--initial-advertise-peer-urls", peer,
    "--initial-cluster", cluster ?? `${name}=${peer}`,
    "--initial-cluster-state", "new",
    // the bench writes 100,000 domains and their revisions
    "--quota-backend-bytes", String(4 * 1024 ** 3),
    "--logger", "zap",
    "--log-outputs", "stderr",
    "--log-level", logLevel,
  ];
}

/** @param {number} port */
async function healthy(port) {
  try {
    const r = await request({ port, path: "/health", timeoutMs: 1000 });
    return r.status === 200 && r.json?.health === "true";
  } catch {
    return false;
  }
}

/** @param {string} s */
const b64 = (s) => Buffer.from(s).toString("base64");
/** The range_end that covers every key under `prefix`. @param {string} prefix */
function prefixEnd(prefix) {
  const end = Buffer.from(prefix);
  end[end.length - 1] += 1;
  return end.toString("base64");
}

/**
 * @typedef {object} Etcd
 * @property {string} endpoint "127.0.0.1:port", the form ETCD takes
 * @property {string} url "http://127.0.0.1:port"
 * @property {number} port
 * @property {string} dataDir
 * @property {import("./procs.mjs").Proc} proc
 * @property {() => Promise<void>} stop TERM, then KILL; the data stays until stopAll()
 * @property {(signal?: NodeJS.Signals) => void} kill sends a signal and returns at once (SIGKILL: etcd dies; SIGSTOP: it hangs)
 * @property {() => Promise<void>} restart starts etcd again on the same ports and data
 * @property {() => string} output
 * @property {(kvs: Record<string, string>) => Promise<void>} putMany one transaction; at most 128 puts (--max-txn-ops)
 * @property {(prefix: string) => Promise<[string, string][]>} getPrefix every key under prefix, with its value
 */

/**
 * @param {{ timeoutMs?: number, cpu?: number | string }} [opts]
 * @returns {Promise<Etcd>}
 */
export async function startEtcd(opts = {}) {
  const port = await freePortPair();
  const dataDir = tmpDir("etcd");
  const args = etcdMemberArgs({ name: "harness", dataDir: join(dataDir, "data"), port });
  const launch = async () => {
    const proc = start("etcd", "etcd", args, { cpu: opts.cpu });
    handle.proc = proc;
    await waitFor(
      async () => {
        if (!proc.alive()) throw new WaitAbort(`etcd exited:\n${proc.output().slice(-4000)}`);
        return healthy(port);
      },
      opts.timeoutMs ?? 15000,
      `etcd on ${HOST}:${port}`,
      100,
    ).catch(async (e) => {
      await stop(proc, "SIGKILL", 1000);
      throw e;
    });
  };
  /** @param {string} path @param {unknown} body */
  const gateway = async (path, body) => {
    const r = await request({ port, path, method: "POST", body, timeoutMs: 30000 });
    if (r.status !== 200) throw new Error(`etcd ${path}: ${r.status} ${r.body.slice(0, 300)}`);
    return r.json;
  };
  /** @type {Etcd} */
  const handle = {
    endpoint: `${HOST}:${port}`,
    url: `http://${HOST}:${port}`,
    port,
    dataDir,
    proc: /** @type {any} */ (undefined),
    async stop() {
      await stop(handle.proc, "SIGTERM", 5000);
    },
    kill(signal = "SIGKILL") {
      killGroup(handle.proc, signal);
    },
    async restart() {
      await stop(handle.proc, "SIGTERM", 5000);
      await launch();
      track(handle);
    },
    output: () => handle.proc.output(),
    async putMany(kvs) {
      const success = Object.entries(kvs).map(([k, v]) => ({ request_put: { key: b64(k), value: b64(v) } }));
      const j = await gateway("/v3/kv/txn", { success });
      if (!j?.succeeded) throw new Error(`etcd txn failed: ${JSON.stringify(j).slice(0, 300)}`);
    },
    async getPrefix(prefix) {
      const j = await gateway("/v3/kv/range", { key: b64(prefix), range_end: prefixEnd(prefix) });
      return (j.kvs ?? []).map((/** @type {{ key: string, value?: string }} */ kv) => [Buffer.from(kv.key, "base64").toString(), Buffer.from(kv.value ?? "", "base64").toString()]);
    },
  };
  await launch();
  return track(handle);
}
