// Runs elbctl (admin-cli/bin/elbctl.mjs) as an operator would, against an etcd and an ELBNAME,
// for the suites that drive ELB with it: its exit code, output and how long it took.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { REPO_ROOT } from "./harness";

export interface ElbctlRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export function runElbctl(etcdEndpoint: string, elbName: string, args: string[]): Promise<ElbctlRun> {
  const t0 = Date.now();
  return new Promise((res) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, "admin-cli/bin/elbctl.mjs"), ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ETCD: etcdEndpoint, ELBNAME: elbName, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => res({ code, stdout, stderr, ms: Date.now() - t0 }));
  });
}
