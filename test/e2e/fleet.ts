// Helpers for the live-configuration suites: a 3-member etcd cluster on loopback, a TCP proxy
// that can cut a node off from etcd, and signals to an ELB's nginx processes.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { etcdctl, freePort, freePortPair, sleep, waitFor } from "./harness";

const started: ChildProcess[] = [];
const dirs: string[] = [];
const servers: net.Server[] = [];

export interface Member {
  name: string;
  endpoint: string;
  proc: ChildProcess;
}

export interface Cluster {
  members: Member[];
  /** "a,b,c": the form ETCD takes */
  endpoints: string;
  /** The member that leads now. */
  leader(): Promise<Member>;
  /** SIGKILLs a member. */
  kill(m: Member): void;
}

export async function startEtcdCluster(size = 3): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), "elb-e2e-cluster-"));
  dirs.push(dir);
  const ports = [];
  for (let i = 0; i < size; i++) ports.push(await freePortPair());
  const initial = ports.map((p, i) => `m${i}=http://127.0.0.1:${p + 1}`).join(",");
  const members: Member[] = ports.map((p, i) => {
    const url = `http://127.0.0.1:${p}`;
    const proc = spawn(
      "etcd",
      [
        "--name", `m${i}`, "--data-dir", join(dir, `m${i}`),
        "--listen-client-urls", url, "--advertise-client-urls", url,
        "--listen-peer-urls", `http://127.0.0.1:${p + 1}`, "--initial-advertise-peer-urls", `http://127.0.0.1:${p + 1}`,
        "--initial-cluster", initial, "--initial-cluster-state", "new", "--initial-cluster-token", dir,
        "--heartbeat-interval", "50", "--election-timeout", "500",
        "--logger", "zap", "--log-outputs", "stderr", "--log-level", "error",
      ],
      { stdio: "ignore", detached: true },
    );
    started.push(proc);
    return { name: `m${i}`, endpoint: `127.0.0.1:${p}`, proc };
  });
  const endpoints = members.map((m) => m.endpoint).join(",");
  await waitFor(async () => (await etcdctl(endpoints, "endpoint", "health", "--cluster")).stdout !== undefined, 20000, "the etcd cluster");
  const cluster: Cluster = {
    members,
    endpoints,
    async leader() {
      for (const m of members) {
        if (m.proc.exitCode !== null || m.proc.signalCode !== null) continue;
        try {
          const s = JSON.parse((await etcdctl(m.endpoint, "endpoint", "status", "-w", "json")).stdout)[0].Status;
          if (s.leader === s.header.member_id) return m;
        } catch {
          /* not answering */
        }
      }
      throw new Error("no etcd member leads");
    },
    kill(m) {
      m.proc.kill("SIGKILL");
    },
  };
  return cluster;
}

export interface Proxy {
  port: number;
  endpoint: string;
  /** Drops every connection and refuses new ones. */
  cut(): Promise<void>;
  /** Accepts connections again. */
  restore(): Promise<void>;
}

/** A TCP proxy to `target` ("host:port"). */
export async function startProxy(target: string): Promise<Proxy> {
  const [host, port] = target.split(":");
  const listenPort = await freePort();
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  const listen = () =>
    new Promise<void>((res) => {
      server = net.createServer((client) => {
        const upstream = net.connect(Number(port), host);
        sockets.add(client);
        sockets.add(upstream);
        client.pipe(upstream).pipe(client);
        const done = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on("error", done).on("close", done);
        upstream.on("error", done).on("close", done);
      });
      servers.push(server);
      server.listen(listenPort, "127.0.0.1", () => res());
    });
  await listen();
  return {
    port: listenPort,
    endpoint: `127.0.0.1:${listenPort}`,
    async cut() {
      const closed = new Promise<void>((res) => server!.close(() => res()));
      for (const s of sockets) s.destroy();
      sockets.clear();
      await closed;
    },
    restore: listen,
  };
}

/** The pids of an ELB's nginx: [master, ...workers]. */
export function nginxPids(prefix: string): number[] {
  const master = Number(readFileSync(join(prefix, "nginx.pid"), "utf8").trim());
  const children = readFileSync(`/proc/${master}/task/${master}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  return [master, ...children];
}

/** SIGKILLs an ELB's nginx, master and workers: the node dies without a word. */
export function killNginx(prefix: string): void {
  for (const pid of nginxPids(prefix)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
}

export async function stopFleet(): Promise<void> {
  for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  for (const s of servers) s.close();
  await sleep(100);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  started.length = 0;
  dirs.length = 0;
}

/** Runs etcdctl until it succeeds (a cluster may be electing a leader). */
export async function etcdctlRetry(endpoints: string, ...args: string[]) {
  let last: unknown;
  for (let i = 0; i < 40; i++) {
    try {
      return await etcdctl(endpoints, ...args);
    } catch (e) {
      last = e;
      await sleep(100);
    }
  }
  throw last;
}
