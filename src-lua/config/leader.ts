// One worker per node leads: it holds the etcd watch, writes the snapshot and keeps the
// node's registry entry. The lead is a key in the elb_locks dict that the leader renews
// every TICK; when the leader dies the key expires within TTL and another worker takes
// over; a leader that exits (nginx reload or stop) gives the lead up at once.

/** What a leader task answers when it finds it no longer leads. */
export const LEAD_LOST = "leadership lost";

const locks = ngx.shared.elb_locks!;
const KEY = "leader";
const TTL = 0.8;
const TICK = 0.2;

type Task = (this: void, premature: boolean) => void;

let leading = false;
let tasks: Task[] = [];

export function isLeader(): boolean {
  if (!leading) return false;
  const [holder] = locks.get(KEY);
  return holder === ngx.worker.pid();
}

/** The pid of the worker that leads now, if any. */
export function leaderPid(): number | undefined {
  const [holder] = locks.get(KEY);
  return holder;
}

function tick(this: void, premature: boolean): void {
  const pid = ngx.worker.pid();
  const [holder] = locks.get(KEY);
  if (premature || ngx.worker.exiting()) {
    if (holder === pid) locks.delete(KEY);
    leading = false;
    return;
  }
  if (holder === pid) {
    locks.set(KEY, pid, TTL);
    if (!leading) becomeLeader();
    return;
  }
  if (leading) {
    ngx.log(ngx.WARN, "worker ", pid, " lost the lead to ", holder);
    leading = false;
  }
  if (holder === undefined) {
    const [ok] = locks.add(KEY, pid, TTL);
    if (ok) becomeLeader();
  }
}

function becomeLeader(): void {
  leading = true;
  ngx.log(ngx.NOTICE, "worker ", ngx.worker.pid(), " leads this node");
  for (const t of tasks) ngx.timer.at(0, t);
}

/** Every worker calls this at start; `leaderTasks` run (as timers) in whichever worker leads. */
export function start(leaderTasks: Task[]): void {
  tasks = leaderTasks;
  ngx.timer.every(TICK, tick);
  ngx.timer.at(0, tick);
}
