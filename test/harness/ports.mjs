// @ts-check
// Ports picked at run time on 127.0.0.1: free now, and never handed out twice by this process.
import net from "node:net";

export const HOST = "127.0.0.1";
/** @type {Set<number>} */
const handedOut = new Set();

/** @param {number} port @returns {Promise<number | undefined>} */
function probe(port) {
  return new Promise((res) => {
    const srv = net.createServer();
    srv.unref();
    srv.once("error", () => res(undefined));
    srv.listen({ host: HOST, port, exclusive: true }, () => {
      const p = /** @type {net.AddressInfo} */ (srv.address()).port;
      srv.close(() => res(p));
    });
  });
}

/** Marks a port this process listens on as taken (a server bound to port 0). @param {number} port */
export function reservePort(port) {
  handedOut.add(port);
}

/** A TCP port on 127.0.0.1 that is free now and not handed out before by this process. */
export async function freePort() {
  for (let i = 0; i < 200; i++) {
    const p = await probe(0);
    if (p && !handedOut.has(p)) {
      handedOut.add(p);
      return p;
    }
  }
  throw new Error("freePort: no free port found");
}

/** Two free consecutive ports p, p+1 (etcd: client, peer); returns p. */
export async function freePortPair() {
  for (let i = 0; i < 400; i++) {
    const p = await probe(0);
    if (!p || p >= 65535 || handedOut.has(p) || handedOut.has(p + 1)) continue;
    if ((await probe(p + 1)) === p + 1) {
      handedOut.add(p);
      handedOut.add(p + 1);
      return p;
    }
  }
  throw new Error("freePortPair: no free pair found");
}
