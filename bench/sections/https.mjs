// Section: HTTPS. (1) Plain nginx terminating TLS with a static certificate against ELB, whose
// certificate comes from etcd per handshake (ssl_certificate_by_lua, SNI "localhost"), both
// with the same TLS settings (nginx/tls-server.conf.tmpl) and proxying to the same backend:
// requests/s on kept-alive TLS connections, and handshakes/s (Connection: close, a full
// handshake per request: wrk resumes no session). Interleaved rounds, medians, CPU per request.
// (2) 10,000 certificates in etcd: the cold load (launch.sh started -> every worker applied
// them) and worker memory, against the same ELB without certificates; then handshakes to 1,000
// different names (each certificate's first handshake parses it) and again to the same names.
import { readFileSync } from "node:fs";
import tls from "node:tls";
import * as x509 from "@peculiar/x509";
import { HOST, makeCa, makeCert } from "../../test/harness/index.mjs";
import { measure, interleave, ratiosTo, workerMemory } from "../lib/measure.mjs";
import { round } from "../lib/procstat.mjs";
import { DOMAIN, ruleSet } from "../lib/rules.mjs";
import { PROXY_SETTINGS, bulkPut, startElb, startNginx, waitLoaded } from "../lib/servers.mjs";
import { fmt, int, pct, ratio } from "../lib/stats.mjs";

const CERTS = 10000;
const PROXIES = [
  { id: "nginx", label: "plain nginx, static certificate" },
  { id: "elb", label: "ELB, certificate from etcd by SNI" },
];
const MODES = [
  { id: "keepalive", label: "kept-alive TLS connections (requests/s)", close: false },
  { id: "close", label: "a new TLS handshake per request (handshakes/s)", close: true },
];

/** The TLS directives of ELB's HTTPS listener, for plain nginx (one source: the template). */
function tlsSettings() {
  const t = readFileSync(new URL("../../nginx/tls-server.conf.tmpl", import.meta.url), "utf8");
  return t.split("\n").filter((l) => /^\s*ssl_(protocols|ciphers|prefer_server_ciphers|ecdh_curve|session_cache|session_timeout|session_tickets) /.test(l)).join("\n");
}

async function startTlsNginx({ server, cert, cpu }) {
  const { tmpDir, freePort } = await import("../../test/harness/index.mjs");
  const dir = tmpDir("nginx-tls");
  const port = await freePort();
  const conf = `daemon off;
worker_processes 1;
pid nginx.pid;
error_log logs/error.log warn;
events { worker_connections 10240; }
http {
    access_log off;
    client_body_temp_path ${dir}/tmp/client_body;
    proxy_temp_path ${dir}/tmp/proxy;
    keepalive_timeout 65s;
    keepalive_requests 10000;
    upstream backend { server ${server}; keepalive 320; keepalive_requests 10000; keepalive_timeout 60s; }
    server {
        listen ${HOST}:${port} ssl http2 backlog=4096;
        ssl_certificate ${cert.certFile};
        ssl_certificate_key ${cert.keyFile};
${tlsSettings()}
        location / {${PROXY_SETTINGS}
            proxy_pass http://backend;
        }
    }
}
`;
  const h = await startNginx("nginx-tls", conf, { cpu, dir });
  h.port = port;
  await waitHandshake(port, "localhost");
  return h;
}

/** One TLS handshake with `servername`: the served certificate's first DNS name, and the ms it took. */
function handshake(port, servername) {
  return new Promise((res, rej) => {
    const t0 = process.hrtime.bigint();
    const s = tls.connect({ host: HOST, port, servername, rejectUnauthorized: false, ALPNProtocols: ["http/1.1"] }, () => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const san = s.getPeerCertificate().subjectaltname ?? "";
      s.destroy();
      res({ name: san.split(", ")[0]?.replace(/^DNS:/, ""), ms });
    });
    s.on("error", rej);
    s.setTimeout(5000, () => s.destroy(new Error("handshake timed out")));
  });
}

async function waitHandshake(port, name) {
  for (let i = 0; i < 100; i++) {
    try {
      return await handshake(port, name);
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`no TLS handshake on ${port}`);
}

/** n certificates c1.bench.test ... cn.bench.test (one key, signed by a throwaway CA), as etcd entries. */
async function certEntries(elbName, n) {
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const caKeys = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]);
  const keys = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]);
  const now = Date.now();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: "01", name: "CN=Bench CA", notBefore: new Date(now - 3600e3), notAfter: new Date(now + 30 * 86400e3), signingAlgorithm: alg, keys: caKeys, extensions: [new x509.BasicConstraintsExtension(true, undefined, true)] });
  const pkcs8 = Buffer.from(await crypto.subtle.exportKey("pkcs8", keys.privateKey)).toString("base64");
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g).join("\n")}\n-----END PRIVATE KEY-----\n`;
  const out = [];
  for (let i = 1; i <= n; i++) {
    const name = `c${i}.bench.test`;
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: (1000 + i).toString(16),
      subject: `CN=${name}`,
      issuer: ca.subject,
      notBefore: new Date(now - 3600e3),
      notAfter: new Date(now + 30 * 86400e3),
      signingAlgorithm: alg,
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      extensions: [new x509.SubjectAlternativeNameExtension([{ type: "dns", value: name }]), new x509.BasicConstraintsExtension(false)],
    });
    out.push([`/${elbName}/certs/${name}`, JSON.stringify({ cert: cert.toString("pem") + "\n", key: keyPem })]);
  }
  return out;
}

async function handshakes(port, names) {
  const t0 = Date.now();
  const ms = [];
  let wrong = 0;
  for (const n of names) {
    const r = await handshake(port, n);
    ms.push(r.ms);
    if (r.name !== n) wrong++;
  }
  ms.sort((a, b) => a - b);
  return { count: names.length, per_s: round(names.length / ((Date.now() - t0) / 1000), 1), p50_ms: round(ms[Math.floor(ms.length / 2)], 2), p99_ms: round(ms[Math.floor(ms.length * 0.99)], 2), wrong_certificate: wrong };
}

export default {
  id: "https",
  title: "HTTPS: handshakes and requests per second; 10,000 certificates",
  async run(ctx) {
    const rounds = ctx.quick ? 2 : 5;
    const duration = ctx.quick ? 2 : 3;
    const backend = await ctx.shared.backend();
    const etcd = await ctx.shared.etcd();
    const server = backend.addrs[0];
    const ca = makeCa("Bench CA");
    const leaf = makeCert(ca, { names: ["localhost"] });
    const res = { rounds, duration_s: duration, connections: ctx.connections, modes: {}, scale: {} };

    const nginx = await startTlsNginx({ server, cert: leaf, cpu: ctx.cpus.proxy });
    const elbProc = await startElb({ etcd: etcd.endpoint, elbName: "BENCHTLS", cpu: ctx.cpus.proxy, waitLoaded: true, tls: true });
    try {
      for (const [r, what] of [
        [await elbProc.api("PUT", "cert", { localhost: { cert: leaf.cert, key: leaf.key } }), "cert"],
        [await elbProc.api("PUT", "upstream", { up1: { [server]: "" }, up2: { [server]: "" } }), "upstream"],
        [await elbProc.api("PUT", "domain", { [DOMAIN]: ruleSet() }), "domain"],
      ]) if (r.status !== 200) throw new Error(`ELB ${what} PUT: ${r.status} ${r.body}`);
      const elb = { name: "elb-tls", port: elbProc.tlsPort, workers: () => elbProc.workers() };
      const proxies = { nginx, elb };
      for (const p of Object.values(proxies)) {
        const h = await handshake(p.port, "localhost");
        if (h.name !== "localhost") throw new Error(`${p.name}: served ${h.name} for localhost`);
      }
      for (const mode of MODES) {
        const opts = { host: DOMAIN, close: mode.close, duration, connections: ctx.connections, cpu: ctx.cpus.load, https: true };
        for (const p of PROXIES) await measure(proxies[p.id], { ...opts, duration: 1 });
        const r = await interleave(PROXIES.map((p) => ({ id: p.id, proxy: proxies[p.id], opts })), { rounds, log: ctx.log, label: `https ${mode.id} ` });
        res.modes[mode.id] = { results: r, ratios_to_nginx: { elb: ratiosTo(r, "elb", "nginx"), nginx: ratiosTo(r, "nginx", "nginx") } };
      }
    } finally {
      await nginx.stop();
      await elbProc.stop();
    }

    // 10,000 certificates
    const n = ctx.quick ? CERTS : CERTS;
    const t0 = Date.now();
    const entries = await certEntries("BENCHCERTS", n);
    res.scale.generate_s = round((Date.now() - t0) / 1000, 1);
    res.scale.etcd_write_s = round(await bulkPut(etcd, entries), 1);
    res.scale.certificates = n;
    res.scale.value_bytes = entries[0][1].length;
    ctx.log(`  ${int(n)} certificates made in ${res.scale.generate_s} s, written to etcd in ${res.scale.etcd_write_s} s`);
    for (const [label, name] of [["none", "BENCHNOCERTS"], ["10k", "BENCHCERTS"]]) {
      const elb = await startElb({ etcd: etcd.endpoint, elbName: name, cpu: ctx.cpus.proxy, tls: true });
      try {
        await waitLoaded(elb, undefined, 300000);
        const cold = round((Date.now() - elb.startedAt) / 1000, 2);
        const st = (await elb.api("GET", "status")).json;
        const entry = { cold_load_s: cold, certificates: st.certificates.count, memory_loaded: workerMemory(elb) };
        if (label === "10k") {
          const names = [];
          for (let i = 0; i < 1000; i++) names.push(`c${1 + Math.floor((i * n) / 1000)}.bench.test`);
          entry.first_handshakes = await handshakes(elb.tlsPort, names);
          entry.memory_after_first = workerMemory(elb);
          entry.again_handshakes = await handshakes(elb.tlsPort, names);
          entry.unknown_name = await handshake(elb.tlsPort, "nope.bench.test").then(() => "served", () => "refused");
        }
        res.scale[label] = entry;
        ctx.log(`  ${label}: cold load ${cold} s, ${st.certificates.count} certificates, worker RSS ${fmt(entry.memory_loaded[0].rss_kb / 1024)} MiB`);
      } finally {
        await elb.stop();
      }
    }
    return res;
  },

  targets(res) {
    const s = res.scale["10k"];
    return [
      { target: "10,000 certificates load and serve (every sampled name gets its own certificate)", value: `${int(s.certificates)} loaded in ${fmt(s.cold_load_s, 1)} s; ${s.first_handshakes.count} names, ${s.first_handshakes.wrong_certificate} wrong`, met: s.certificates === res.scale.certificates && s.first_handshakes.wrong_certificate === 0 && s.again_handshakes.wrong_certificate === 0 },
    ];
  },

  chart(res) {
    const bars = [];
    for (const m of MODES) for (const p of PROXIES) bars.push({ group: `HTTPS, ${m.id}: throughput`, label: p.label, ratio: res.modes[m.id].ratios_to_nginx[p.id].rps });
    return bars;
  },

  markdown(res) {
    const L = [];
    L.push(`${res.rounds} rounds of ${res.duration_s} s per proxy and mode, interleaved, wrk (1 thread, ${res.connections} connections) to \`https://localhost\` ` +
      "(SNI localhost; ECDSA P-256 certificate; TLS 1.3), `Host: " + DOMAIN + "` routed by the four-rule graph to the same nginx backend. " +
      "Both nginx processes have one worker and the TLS settings of `nginx/tls-server.conf.tmpl`. With `Connection: close` every request is a new connection and a full handshake (wrk resumes no session), so req/s is handshakes/s.");
    for (const m of MODES) {
      const mm = res.modes[m.id];
      L.push("", `**${m.label}**`, "");
      L.push("| proxy | req/s | p50 ms | p99 ms | CPU µs/req | failed | req/s vs nginx | CPU/req vs nginx |", "|---|---:|---:|---:|---:|---:|---:|---:|");
      for (const p of PROXIES) {
        const x = mm.results[p.id].median;
        const r = mm.ratios_to_nginx[p.id];
        L.push(`| ${p.label} | ${int(x.rps)} | ${fmt(x.p50_ms, 2)} | ${fmt(x.p99_ms, 2)} | ${fmt(x.cpu_us_per_req, 1)} | ${x.failed} | ${pct(r.rps)} | ${ratio(r.cpu_us_per_req)} |`);
      }
    }
    const s = res.scale;
    L.push("", `**${int(s.certificates)} certificates** (ECDSA P-256, ${int(s.value_bytes)} bytes each in etcd; made in ${s.generate_s} s, written in ${s.etcd_write_s} s). ` +
      "One worker. Cold load: launch.sh started until `/__erulb__/status` says loaded and every worker applied it (the leader validates every certificate, each worker reads its names).", "");
    L.push("| ELB | certificates | cold load s | worker RSS MiB | worker PSS MiB |", "|---|---:|---:|---:|---:|");
    for (const k of ["none", "10k"]) {
      const e = s[k];
      L.push(`| ${k === "none" ? "no certificates" : `${int(s.certificates)} certificates`} | ${int(e.certificates)} | ${fmt(e.cold_load_s, 2)} | ${fmt(e.memory_loaded[0].rss_kb / 1024)} | ${fmt(e.memory_loaded[0].pss_kb / 1024)} |`);
    }
    const t = s["10k"];
    L.push(`| ... after a handshake for 1,000 of them | | | ${fmt(t.memory_after_first[0].rss_kb / 1024)} | ${fmt(t.memory_after_first[0].pss_kb / 1024)} |`);
    L.push("", "Handshakes from one Node client, one at a time, to 1,000 different names among them:", "");
    L.push("| | handshakes/s | p50 ms | p99 ms | wrong certificate |", "|---|---:|---:|---:|---:|");
    L.push(`| first handshake of each (the certificate is parsed then) | ${fmt(t.first_handshakes.per_s)} | ${fmt(t.first_handshakes.p50_ms, 2)} | ${fmt(t.first_handshakes.p99_ms, 2)} | ${t.first_handshakes.wrong_certificate} |`);
    L.push(`| the same names again | ${fmt(t.again_handshakes.per_s)} | ${fmt(t.again_handshakes.p50_ms, 2)} | ${fmt(t.again_handshakes.p99_ms, 2)} | ${t.again_handshakes.wrong_certificate} |`);
    L.push("", `A name none of them covers (and no \`default\`): ${t.unknown_name}.`);
    return L.join("\n");
  },
};
