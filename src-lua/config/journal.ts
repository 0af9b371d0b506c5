// The journal beside the snapshot ($ELB_PREFIX/state/journal*): every change the node's store
// takes, appended when it is committed, before any worker applies it, so before an admin
// write is answered. With the snapshot (the base, config/snapshot.ts) it is the node's
// configuration on disk: a process that is killed loses nothing it had taken; the file is
// flushed to the disk (fdatasync) at most SYNC_EVERY after a change, which bounds what a
// crash of the machine can lose. Entries carry the store's event number, which orders them:
//   <event> <revision> <P|D> <key length> <value length>\n<key><value>\n
// Written with write(2) on an O_APPEND descriptor, a call per thousand entries of a commit;
// commits never interleave (the store's lock lets one writer in at a time).
import * as ffi from "ffi";
import { settings } from "../node/settings";

// pcall: another module may have declared some of these already (a second cdef would throw)
for (const decl of ["int open(const char *path, int flags, int mode);", "long write(int fd, const char *buf, unsigned long n);", "int close(int fd);", "int fdatasync(int fd);"]) {
  pcall(ffi.cdef, decl);
}

const O_WRONLY = 1;
const O_CREAT = 64;
const O_APPEND = 1024;

/** How long a change may stay in the page cache before it is flushed to the disk (seconds). */
export const SYNC_EVERY = 0.1;

export interface Entry {
  seq: number;
  rev: number;
  key: string;
  /** undefined: the key was deleted */
  value: string | undefined;
}

export function path(): string {
  return `${settings.prefix}/state/journal`;
}

let dirty = false;

function errnoText(): string {
  return `errno ${ffi.errno()}`;
}

function writeAll(fd: number, data: string): string | undefined {
  let off = 0;
  const n = string.len(data);
  while (off < n) {
    const chunk = off === 0 ? data : string.sub(data, off + 1);
    const w = tonumber(ffi.C.write(fd, chunk, n - off))!;
    if (w < 0) return errnoText();
    off += w;
  }
  return undefined;
}

/** Appends the entries; an error message when the disk refused them. */
export function append(entries: Entry[]): string | undefined {
  if (entries.length === 0) return undefined;
  const parts: string[] = [];
  let n = 0;
  for (const e of entries) {
    const v = e.value ?? "";
    parts[n] = string.format("%d %d %s %d %d\n", e.seq, e.rev, e.value === undefined ? "D" : "P", string.len(e.key), string.len(v));
    parts[n + 1] = e.key;
    parts[n + 2] = v;
    parts[n + 3] = "\n";
    n += 4;
  }
  const fd = ffi.C.open(path(), O_WRONLY + O_CREAT + O_APPEND, 384) as number;
  if (fd < 0) return `cannot open ${path()}: ${errnoText()}`;
  const err = writeAll(fd, table.concat(parts));
  ffi.C.close(fd);
  dirty = true;
  return err === undefined ? undefined : `cannot append to ${path()}: ${err}`;
}

/** Flushes a file to the disk; an error message on failure. */
export function syncFile(file: string): string | undefined {
  const fd = ffi.C.open(file, O_WRONLY, 0) as number;
  if (fd < 0) return `cannot open ${file}: ${errnoText()}`;
  const rc = ffi.C.fdatasync(fd);
  ffi.C.close(fd);
  return rc === 0 ? undefined : `cannot flush ${file}: ${errnoText()}`;
}

/** Flushes the journal when something was appended since the last time. */
export function sync(): string | undefined {
  if (!dirty) return undefined;
  dirty = false;
  return syncFile(path());
}

/** Reads one journal file: its whole entries, in order (a torn last entry is left out). */
export function readFile(file: string): Entry[] {
  const out: Entry[] = [];
  const [f] = io.open(file, "rb");
  if (f === undefined) return out;
  const text = (f.read("*a") as string | undefined) ?? "";
  f.close();
  let pos = 1;
  const n = string.len(text);
  while (pos <= n) {
    const [seq, rev, op, klen, vlen, body] = string.match(text, "^(%d+) (%d+) ([PD]) (%d+) (%d+)\n()", pos);
    if (seq === undefined) break;
    const start = tonumber(body)!;
    const keyEnd = start + tonumber(klen)! - 1;
    const valueEnd = keyEnd + tonumber(vlen)!;
    if (valueEnd + 1 > n || string.sub(text, valueEnd + 1, valueEnd + 1) !== "\n") break;
    out.push({ seq: tonumber(seq)!, rev: tonumber(rev)!, key: string.sub(text, start, keyEnd), value: op === "D" ? undefined : string.sub(text, keyEnd + 1, valueEnd) });
    pos = valueEnd + 2;
  }
  return out;
}

/** Every journal file there is: the rotated ones (journal.<n>) and the current one. */
export function files(): string[] {
  const out: string[] = [];
  for (let i = 1; i <= 64; i++) {
    const [f] = io.open(`${path()}.${i}`, "rb");
    if (f !== undefined) {
      f.close();
      out.push(`${path()}.${i}`);
    }
  }
  out.push(path());
  return out;
}

/**
 * Moves the current journal aside (journal.<n>) so that a new base can replace what it holds;
 * appends go on in a new file at once. Returns the rotated file, or undefined when there was
 * nothing to move.
 */
export function rotate(): string | undefined {
  for (let i = 1; i <= 64; i++) {
    const target = `${path()}.${i}`;
    const [f] = io.open(target, "rb");
    if (f === undefined) {
      const [ok] = os.rename(path(), target);
      return ok ? target : undefined;
    }
    f.close();
  }
  return undefined;
}

/**
 * The highest event number in a file (0 when it has none). Only the entries' header lines are
 * read, the keys and values are skipped: after a load the journal holds every value, and
 * reading it whole for this would leave tens of MiB of garbage in the leader.
 */
export function lastSeq(file: string): number {
  const [f] = io.open(file, "rb");
  if (f === undefined) return 0;
  const [size] = f.seek("end");
  f.seek("set", 0);
  let last = 0;
  let pos = 0;
  for (;;) {
    const header = f.read("*l") as string | undefined;
    if (header === undefined) break;
    const [seq, klen, vlen] = string.match(header, "^(%d+) %d+ [PD] (%d+) (%d+)$");
    if (seq === undefined) break;
    // the offset of the entry's closing newline: a torn last entry does not count
    const end = pos + string.len(header) + 1 + tonumber(klen)! + tonumber(vlen)!;
    if (end >= (size ?? 0)) break;
    f.seek("set", end);
    if (f.read(1) !== "\n") break;
    const n = tonumber(seq)!;
    if (n > last) last = n;
    pos = end + 1;
  }
  f.close();
  return last;
}
