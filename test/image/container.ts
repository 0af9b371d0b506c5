// One ELB container of the image under test, run as a user would (`podman run -d --net host
// -e ...`), on 127.0.0.1 ports picked at run time.
import { request, waitFor, WaitAbort, type RequestOptions, type Response } from "../e2e/harness";
import { podman, type Made } from "./podman";

export interface ElbContainer {
  name: string;
  port: number;
  request(o: Omit<RequestOptions, "url" | "port" | "host">): Promise<Response>;
  /** Waits until /__erulb__/status says the node loaded etcd and every worker applied it. */
  waitLoaded(timeoutMs?: number): Promise<any>;
  /** `podman logs`, its two streams apart. */
  logs(): Promise<{ stdout: string; stderr: string }>;
  state(): Promise<{ running: boolean; exitCode: number }>;
  /** `podman stop --time 10` (docker's default), timed. */
  stop(): Promise<number>;
  /** `podman restart --time 10`, then ready again. */
  restart(): Promise<void>;
}

export interface ContainerOptions {
  name: string;
  image: string;
  port: number;
  env: Record<string, string>;
  /** "volume:/path" */
  volume?: string;
  /** the HTTPS listener's port (ELB_TLS_LISTEN, 443 in the image); none when absent: the host's 443 stays free */
  tlsPort?: number;
}

export async function runElb(made: Made, o: ContainerOptions): Promise<ElbContainer> {
  const env = { ELB_LISTEN: `127.0.0.1:${o.port}`, ELB_TLS_LISTEN: o.tlsPort ? `127.0.0.1:${o.tlsPort}` : "off", ELB_WORKERS: "2", ...o.env };
  const args = ["run", "--detach", "--pull=never", "--name", o.name, "--network", "host"];
  for (const [k, v] of Object.entries(env)) args.push("--env", `${k}=${v}`);
  if (o.volume) args.push("--volume", o.volume);
  made.containers.push(o.name);
  await podman(made.store, [...args, o.image], { timeoutMs: 60_000 });

  const c: ElbContainer = {
    name: o.name,
    port: o.port,
    request: (r) => request({ ...r, port: o.port }),
    async logs() {
      const r = await podman(made.store, ["logs", o.name]);
      return { stdout: r.stdout, stderr: r.stderr };
    },
    async state() {
      const r = await podman(made.store, ["inspect", "--format", "{{.State.Running}} {{.State.ExitCode}}", o.name]);
      const [running, code] = r.stdout.trim().split(" ");
      return { running: running === "true", exitCode: Number(code) };
    },
    waitLoaded(timeoutMs = 30_000) {
      return waitFor(
        async () => {
          const s = await c.state();
          if (!s.running) throw new WaitAbort(`container ${o.name} exited ${s.exitCode}:\n${(await c.logs()).stderr.slice(-3000)}`);
          const r = await c.request({ path: "/__erulb__/status", timeoutMs: 2000 });
          const st = r.json;
          const caughtUp = st?.workers?.every((w: any) => w.applied_event >= st.last_event);
          return r.status === 200 && st?.loaded === true && caughtUp ? st : undefined;
        },
        timeoutMs,
        `the ELB in ${o.name} on 127.0.0.1:${o.port} to load from etcd`,
        200,
      );
    },
    async stop() {
      const r = await podman(made.store, ["stop", "--time", "10", o.name], { timeoutMs: 30_000 });
      return r.ms;
    },
    async restart() {
      await podman(made.store, ["restart", "--time", "10", o.name], { timeoutMs: 60_000 });
      await c.waitLoaded();
    },
  };
  await c.waitLoaded();
  return c;
}
