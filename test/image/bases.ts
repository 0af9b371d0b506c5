// The two base images the Dockerfile names, made on this machine when the store lacks them
// (no container registry is reachable here). Each says in its labels what it stands in for.
import { cpSync, existsSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { podman, run, type Store } from "./podman";

export const SLIM = "docker.io/library/debian:bookworm-slim";
export const NODE = "docker.io/library/node:20-bookworm";

// What Debian's official slim images leave out (docs but copyrights, manuals, translations),
// kept in /etc/dpkg/dpkg.cfg.d/ so the runtime stage's apt-get installs obey it too.
const SLIM_EXCLUDES = [
  "path-exclude=/usr/share/doc/*",
  "path-include=/usr/share/doc/*/copyright",
  "path-exclude=/usr/share/man/*",
  "path-exclude=/usr/share/info/*",
  "path-exclude=/usr/share/groff/*",
  "path-exclude=/usr/share/locale/*",
];

export interface Base {
  ref: string;
  id: string;
  /** True: made by this run; false: found in the store. */
  made: boolean;
  ms: number;
  /** What it is, for the report. */
  what: string;
}

async function existing(store: Store, ref: string, label: string): Promise<{ id: string; label: string } | undefined> {
  const r = await podman(store, ["image", "inspect", "--format", `{{.Id}} {{index .Config.Labels "${label}"}}`, ref], { allowFail: true });
  if (r.code !== 0) return undefined;
  const [id, value = ""] = r.stdout.trim().split(" ");
  return { id, label: value };
}

export async function slimBase(store: Store, log: (s: string) => void): Promise<Base> {
  const what = "mmdebstrap --variant=minbase bookworm, with the slim image's dpkg excludes, imported";
  const found = await existing(store, SLIM, "elb.image-test.base");
  if (found) return { ref: SLIM, id: found.id, made: false, ms: 0, what };
  const started = Date.now();
  const tar = join(store.dir, "bookworm-minbase.tar");
  log(`making ${SLIM}: ${what}`);
  await run("mmdebstrap", ["--quiet", "--variant=minbase", ...SLIM_EXCLUDES.map((o) => `--dpkgopt=${o}`), "bookworm", tar], { timeoutMs: 900_000 });
  const r = await podman(store, ["import", "--change", 'CMD ["bash"]', "--change", "LABEL elb.image-test.base=mmdebstrap-minbase-bookworm", tar, SLIM], { timeoutMs: 300_000 });
  rmSync(tar, { force: true });
  return { ref: SLIM, id: r.stdout.trim().split("\n").pop()!.replace(/^sha256:/, ""), made: true, ms: Date.now() - started, what };
}

/** The directory of the npm that runs this script (npm run image-test), else the one beside node. */
function npmDir(): string {
  const execPath = process.env.npm_execpath;
  if (execPath && existsSync(execPath)) return dirname(dirname(realpathSync(execPath)));
  return join(dirname(dirname(realpathSync(process.execPath))), "lib/node_modules/npm");
}

/**
 * node:20-bookworm stands in as: the slim base above + the Node and npm that run this test
 * (Debian bookworm's own nodejs is 18) + this machine's CA bundle as NODE_EXTRA_CA_CERTS (the
 * npm registry is reached through a TLS-intercepting proxy whose CA only the host trusts).
 */
export async function nodeBase(store: Store, log: (s: string) => void): Promise<Base> {
  const version = process.version;
  const what = `${SLIM} + this machine's Node ${version} and npm + its CA bundle`;
  const found = await existing(store, NODE, "elb.image-test.node");
  if (found && found.label === version) return { ref: NODE, id: found.id, made: false, ms: 0, what };
  const started = Date.now();
  const ca = process.env.NODE_EXTRA_CA_CERTS || "/etc/ssl/certs/ca-certificates.crt";
  const npm = npmDir();
  if (!existsSync(join(npm, "bin/npm-cli.js"))) throw new Error(`npm not found at ${npm}`);
  log(`making ${NODE}: ${what}`);
  const ctx = mkdtempSync(join(store.dir, "node-base-"));
  try {
    cpSync(realpathSync(process.execPath), join(ctx, "node"));
    cpSync(npm, join(ctx, "npm"), { recursive: true });
    cpSync(ca, join(ctx, "ca-certificates.crt"));
    writeFileSync(
      join(ctx, "Containerfile"),
      [
        `FROM ${SLIM}`,
        "COPY node /usr/local/bin/node",
        "COPY npm /usr/local/lib/node_modules/npm",
        "COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt",
        "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt",
        `LABEL elb.image-test.node=${version}`,
        "RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\",
        " && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\",
        " && node --version && npm --version",
        "",
      ].join("\n"),
    );
    await podman(store, ["build", "--pull=never", "--isolation", "chroot", "--layers=false", "--tag", NODE, ctx], { timeoutMs: 600_000 });
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
  // a stand-in for another Node version, replaced by this one, goes
  if (found) await podman(store, ["rmi", "--force", found.id], { allowFail: true });
  const now = await existing(store, NODE, "elb.image-test.node");
  if (!now) throw new Error(`${NODE} missing after its build`);
  return { ref: NODE, id: now.id, made: true, ms: Date.now() - started, what };
}
