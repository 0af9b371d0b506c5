// One worker per node leads: it holds the etcd watch, writes the snapshot and keeps the
// node's registry entry. The lead is a key in the elb_locks dict holding the leader's pid,
// renewed every TICK. A worker that finds the leader's process gone takes over at the next
// tick; a leader that exits (nginx reload or stop) gives the lead up at once. The key's TTL
// only replaces a leader that is alive but stuck, so it is long: a leader busy for a while
// (applying 100,000 changes) keeps its lead instead of handing it back and forth.
import * as ffi from "ffi";

ffi.cdef(`int kill(int pid, int sig);`);

const locks = ngx.shared.elb_locks!;
const KEY = "leader";
/** how many times a worker of this node took the lead */
const CHANGES = "leader_changes";
const TTL = 5;
const TICK = 0.2;

/** A leader task; `term` is the lead it was started for (see holds). */
export type Task = (this: void, premature: boolean, term: number) => void;

let leading = false;
/** Counts the times this worker took the lead: a task of an earlier lead must stop. */
let term = 0;
let tasks: Task[] = [];
let lastTick = 0;

export function isLeader(): boolean {
  if (!leading) return false;
  const [holder] = locks.get(KEY);
  return holder === ngx.worker.pid();
}

/** Whether the lead that a task was started for (`t`) is still this worker's. */
export function holds(t: number): boolean {
  return t === term && isLeader();
}

/** The pid of the worker that leads now, if any. */
export function leaderPid(): number | undefined {
  const [holder] = locks.get(KEY);
  return holder;
}

/** How many times a worker of this node took the lead (since nginx started). */
export function leaderChanges(): number {
  const [n] = locks.get(CHANGES);
  return n ?? 0;
}

/** kill(pid, 0) fails with ESRCH only when there is no such process. */
function processGone(pid: number): boolean {
  return ffi.C.kill(pid, 0) !== 0 && ffi.errno() === 3;
}

function tick(this: void, premature: boolean): void {
  const pid = ngx.worker.pid();
  const [holder] = locks.get(KEY);
  if (premature || ngx.worker.exiting()) {
    if (holder === pid) locks.delete(KEY);
    leading = false;
    return;
  }
  ngx.update_time();
  const now = ngx.now();
  if (leading && now - lastTick > TTL / 2) {
    ngx.log(ngx.WARN, string.format("the lead was renewed %.1fs after the last time (this worker was busy)", now - lastTick));
  }
  lastTick = now;
  if (holder === pid) {
    locks.set(KEY, pid, TTL);
    if (!leading) becomeLeader();
    return;
  }
  if (leading) {
    ngx.log(ngx.WARN, "worker ", pid, " lost the lead to ", holder);
    leading = false;
  }
  if (holder !== undefined && processGone(holder)) {
    // one worker wins the right to replace the dead one
    const [won] = locks.add(`dead|${holder}`, pid, TTL);
    if (!won) return;
    ngx.log(ngx.WARN, "the leading worker ", holder, " is gone; worker ", pid, " takes the lead");
    locks.set(KEY, pid, TTL);
    becomeLeader();
    return;
  }
  if (holder === undefined) {
    const [ok] = locks.add(KEY, pid, TTL);
    if (ok) becomeLeader();
  }
}

function becomeLeader(): void {
  leading = true;
  term += 1;
  locks.incr(CHANGES, 1, 0);
  ngx.log(ngx.NOTICE, "worker ", ngx.worker.pid(), " leads this node");
  for (const t of tasks) ngx.timer.at(0, t, term);
}

/** Every worker calls this at start; `leaderTasks` run (as timers) in whichever worker leads. */
export function start(leaderTasks: Task[]): void {
  tasks = leaderTasks;
  ngx.timer.every(TICK, tick);
  ngx.timer.at(0, tick);
}
