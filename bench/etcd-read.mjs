// How long etcd's JSON gateway takes to hand out N domains page by page, as ELB's loader reads
// them (the floor under ELB's cold load), read here by Node with nothing else to do.
//   node bench/etcd-read.mjs [domains] [keys per page]
import { startEtcd, stopAll, stopOnSignals } from "../test/harness/index.mjs";
import { domainEntries } from "./lib/rules.mjs";
import { bulkPut } from "./lib/servers.mjs";

const domains = Number(process.argv[2] ?? 100000);
const limit = Number(process.argv[3] ?? 1000);
const b64 = (s) => Buffer.from(s).toString("base64");

stopOnSignals();
try {
  const etcd = await startEtcd();
  await bulkPut(etcd, domainEntries("READ", domains, 1));
  const url = `http://${etcd.endpoint.replace(/^https?:\/\//, "")}/v3/kv/range`;
  for (let round = 1; round <= 3; round++) {
    const t0 = Date.now();
    let key = "/READ/";
    let pages = 0;
    let bytes = 0;
    let revision;
    for (;;) {
      const body = { key: b64(key), range_end: b64("/READ0"), limit, ...(revision ? { revision } : {}) };
      const text = await (await fetch(url, { method: "POST", body: JSON.stringify(body) })).text();
      const page = JSON.parse(text);
      bytes += text.length;
      pages += 1;
      revision ??= page.header.revision;
      if (!page.more) break;
      key = `${Buffer.from(page.kvs[page.kvs.length - 1].key, "base64").toString()}\0`;
    }
    console.log(`round ${round}: ${pages} pages of ${limit} keys, ${(bytes / 1048576).toFixed(1)} MiB of JSON, ${Date.now() - t0} ms`);
  }
} finally {
  await stopAll();
}
