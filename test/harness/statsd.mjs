// @ts-check
// A statsd listener (UDP on 127.0.0.1): it counts datagrams, lines and bytes, and keeps every
// line for the suites to look at (the bench, which receives millions, only counts).
import { createSocket } from "node:dgram";
import { HOST, reservePort } from "./ports.mjs";
import { track } from "./procs.mjs";

/**
 * @typedef {object} StatsdMetric
 * @property {string} name
 * @property {number} value
 * @property {string} type
 * @property {number} [rate]
 */

/**
 * Parses one statsd line: `name:value|type[|@rate]`.
 * @param {string} line @returns {StatsdMetric | undefined}
 */
export function parseStatsdLine(line) {
  const m = /^([^:]+):(-?[0-9.eE+-]+)\|([a-z]+)(?:\|@([0-9.]+))?$/.exec(line.trim());
  if (!m) return undefined;
  return { name: m[1], value: Number(m[2]), type: m[3], rate: m[4] === undefined ? undefined : Number(m[4]) };
}

/**
 * @typedef {object} Statsd
 * @property {number} port
 * @property {string} endpoint "127.0.0.1:port", the form STATSD takes
 * @property {string[]} datagrams every datagram received, as text (when kept)
 * @property {string[]} lines every non-empty line of every datagram, in order (when kept)
 * @property {() => { datagrams: number, lines: number, bytes: number }} snapshot what was received so far, counted
 * @property {(name: string) => number} counter sum of the values of counter lines named `name` (sample rates applied)
 * @property {(name: string) => number[]} timings values of timer lines named `name`
 * @property {<T>(predicate: (lines: string[]) => T | undefined | null | false, timeoutMs?: number) => Promise<T>} waitFor resolves with the first truthy value of predicate(lines), checked on every datagram
 * @property {() => void} clear forgets the lines kept
 * @property {() => Promise<void>} stop
 */

/** Non-empty lines in a datagram. @param {Buffer} msg */
function countLines(msg) {
  let n = 0;
  let empty = true;
  for (let i = 0; i < msg.length; i++) {
    if (msg[i] === 10) {
      if (!empty) n += 1;
      empty = true;
    } else if (msg[i] !== 13 && msg[i] !== 32) empty = false;
  }
  return empty ? n : n + 1;
}

/**
 * @param {{ keep?: boolean }} [opts] keep: keep the datagrams and lines (default true)
 * @returns {Promise<Statsd>}
 */
export async function startStatsd({ keep = true } = {}) {
  const sock = createSocket("udp4");
  const counts = { datagrams: 0, lines: 0, bytes: 0 };
  /** @type {string[]} */
  const datagrams = [];
  /** @type {string[]} */
  const lines = [];
  /** @type {Set<() => void>} */
  const waiters = new Set();
  sock.on("message", (msg) => {
    counts.datagrams += 1;
    counts.bytes += msg.length;
    counts.lines += countLines(msg);
    if (!keep) return;
    const text = msg.toString();
    datagrams.push(text);
    for (const l of text.split("\n")) if (l.trim() !== "") lines.push(l);
    for (const w of [...waiters]) w();
  });
  await new Promise((res, rej) => {
    sock.once("error", rej);
    sock.bind(0, HOST, () => res(undefined));
  });
  const port = sock.address().port;
  reservePort(port);
  /** @param {string} name @param {string} type */
  const metrics = (name, type) => {
    /** @type {StatsdMetric[]} */
    const out = [];
    for (const l of lines) {
      const m = parseStatsdLine(l);
      if (m && m.name === name && m.type === type) out.push(m);
    }
    return out;
  };
  let open = true;
  /** @type {Statsd} */
  const handle = {
    port,
    endpoint: `${HOST}:${port}`,
    datagrams,
    lines,
    snapshot: () => ({ ...counts }),
    counter: (name) => metrics(name, "c").reduce((sum, m) => sum + (m.rate ? m.value / m.rate : m.value), 0),
    timings: (name) => metrics(name, "ms").map((m) => m.value),
    waitFor(predicate, timeoutMs = 5000) {
      return new Promise((res, rej) => {
        const check = () => {
          let v;
          try {
            v = predicate(lines);
          } catch (e) {
            done();
            rej(e);
            return;
          }
          if (v) {
            done();
            res(v);
          }
        };
        const timer = setTimeout(() => {
          done();
          rej(new Error(`statsd: timed out after ${timeoutMs} ms; received:\n${lines.slice(-50).join("\n")}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    clear() {
      datagrams.length = 0;
      lines.length = 0;
    },
    stop() {
      return new Promise((res) => {
        if (!open) return res();
        open = false;
        sock.close(() => res());
      });
    },
  };
  return track(handle);
}

/** Sends one UDP datagram to 127.0.0.1:port (to test a listener). @param {number} port @param {string} text */
export function sendUdp(port, text) {
  return new Promise((res, rej) => {
    const s = createSocket("udp4");
    s.send(Buffer.from(text), port, HOST, (err) => {
      s.close();
      if (err) rej(err);
      else res(undefined);
    });
  });
}
