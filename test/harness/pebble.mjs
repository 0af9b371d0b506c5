// @ts-check
// An ACME CA on 127.0.0.1 for the ACME suites: Debian's pebble, with pebble-challtestsrv as its
// DNS (every name resolves to 127.0.0.1 unless told otherwise), validating HTTP-01 on the port
// given (an ELB's HTTP listener). Its API is HTTPS with a certificate from a test CA, which only
// the test's clients trust (NODE_EXTRA_CA_CERTS).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeCa, makeCert } from "./certs.mjs";
import { HOST, freePort } from "./ports.mjs";
import { request } from "./http.mjs";
import { start, stop, track } from "./procs.mjs";
import { tmpDir } from "./tmp.mjs";
import { WaitAbort, waitFor } from "./wait.mjs";

/**
 * @typedef {object} Pebble
 * @property {string} directory the ACME directory URL
 * @property {string} caFile the PEM of the CA that signed pebble's API certificate
 * @property {number} managementPort pebble's management API (roots, intermediates)
 * @property {(host: string, ip: string) => Promise<void>} resolve makes the DNS answer `ip` for `host`
 * @property {(httpPort: number) => Promise<void>} restart pebble again (a new CA state), validating on httpPort
 * @property {() => Promise<void>} stop
 */

/** @param {{ httpPort: number, tlsPort?: number }} o @returns {Promise<Pebble>} */
export async function startPebble(o) {
  const dir = tmpDir("pebble");
  const ca = makeCa("Pebble API test CA");
  const api = makeCert(ca, { names: ["localhost"], ips: [HOST] });
  const [port, mgmt, dns, dnsMgmt] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const challtest = start("pebble-challtestsrv", "pebble-challtestsrv", ["-defaultIPv4", HOST, "-defaultIPv6", "", "-dns01", `${HOST}:${dns}`, "-http01", "", "-https01", "", "-tlsalpn01", "", "-management", `${HOST}:${dnsMgmt}`]);
  /** @type {import("./procs.mjs").Proc} */
  let pebble;
  const launch = async (/** @type {number} */ httpPort) => {
    const config = { pebble: { listenAddress: `${HOST}:${port}`, managementListenAddress: `${HOST}:${mgmt}`, certificate: api.certFile, privateKey: api.keyFile, httpPort, tlsPort: o.tlsPort ?? httpPort, ocspResponderURL: "", externalAccountBindingRequired: false } };
    writeFileSync(join(dir, "pebble.json"), JSON.stringify(config));
    // no random sleeps before validation, no nonces rejected at random
    const env = { ...process.env, PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0", PEBBLE_AUTHZREUSE: "0" };
    pebble = start("pebble", "pebble", ["-config", join(dir, "pebble.json"), "-dnsserver", `${HOST}:${dns}`], { env });
    await waitFor(
      async () => {
        if (!pebble.alive()) throw new WaitAbort(`pebble exited:\n${pebble.output()}`);
        return /Listening on/.test(pebble.output());
      },
      15000,
      "pebble",
    );
  };
  await launch(o.httpPort);
  await waitFor(async () => /Creating/.test(challtest.output()) || challtest.alive(), 5000, "pebble-challtestsrv");
  /** @type {Pebble} */
  const handle = {
    directory: `https://${HOST}:${port}/dir`,
    caFile: ca.certFile,
    managementPort: mgmt,
    async resolve(host, ip) {
      const r = await request({ port: dnsMgmt, path: "/add-a", method: "POST", body: { host: host.endsWith(".") ? host : `${host}.`, addresses: [ip] } });
      if (r.status !== 200) throw new Error(`challtestsrv /add-a: ${r.status} ${r.body}`);
    },
    async restart(httpPort) {
      await stop(pebble);
      await launch(httpPort);
    },
    async stop() {
      await stop(pebble);
      await stop(challtest);
    },
  };
  return track(handle);
}
