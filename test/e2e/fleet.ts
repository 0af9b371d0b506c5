// Helpers for the live-configuration suites: a 3-member etcd cluster on loopback, a TCP proxy
// that can cut a node off from etcd, and (from the harness) signals to an ELB's nginx processes.
import { rmSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { etcdctl, etcdMemberArgs, freePort, freePortPair, HOST, serve, sleep, start, stop, tmpDir, waitFor, type Listening, type Proc } from "./harness";

export { killNginx, nginxPids } from "./harness";

const members: Proc[] = [];
const dirs: string[] = [];
const proxies: Listening[] = [];

export interface Member {
  name: string;
  endpoint: string;
  proc: Proc;
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
  const dir = tmpDir("cluster");
  dirs.push(dir);
  const ports = [];
  for (let i = 0; i < size; i++) ports.push(await freePortPair());
  const cluster = ports.map((p, i) => `m${i}=http://${HOST}:${p + 1}`).join(",");
  const list: Member[] = ports.map((port, i) => {
    const args = etcdMemberArgs({ name: `m${i}`, dataDir: join(dir, `m${i}`), port, cluster, logLevel: "error" });
    const proc = start(`etcd m${i}`, "etcd", [...args, "--initial-cluster-token", dir, "--heartbeat-interval", "50", "--election-timeout", "500"], { stopSignal: "SIGKILL" });
    members.push(proc);
    return { name: `m${i}`, endpoint: `${HOST}:${port}`, proc };
  });
  const endpoints = list.map((m) => m.endpoint).join(",");
  await waitFor(async () => (await etcdctl(endpoints, "endpoint", "health", "--cluster")).stdout !== undefined, 20000, "the etcd cluster");
  return {
    members: list,
    endpoints,
    async leader() {
      for (const m of list) {
        if (!m.proc.alive()) continue;
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
      m.proc.child.kill("SIGKILL");
    },
  };
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
  let listening: Listening | undefined;
  const listen = async () => {
    const server = net.createServer((client) => {
      const upstream = net.connect(Number(port), host);
      client.pipe(upstream).pipe(client);
      const done = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on("error", done).on("close", done);
      upstream.on("error", done).on("close", done);
    });
    listening = await serve(server, listenPort);
    proxies.push(listening);
  };
  await listen();
  return {
    port: listenPort,
    endpoint: `${HOST}:${listenPort}`,
    cut: () => listening!.close(),
    restore: listen,
  };
}

export async function stopFleet(): Promise<void> {
  for (const p of members) await stop(p);
  for (const l of proxies) await l.close();
  await sleep(100);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  members.length = 0;
  proxies.length = 0;
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
