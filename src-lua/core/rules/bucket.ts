// The limit rule's token bucket, kept as a "theoretical arrival time" (GCRA) in a counter store
// (the elb_limits shared dict in nginx, so every worker of the node counts together). A
// request advances the time by one interval (per / rate) with an atomic increment; it passes
// while that time is at most `capacity` intervals (rate + burst) ahead of now. A refused
// request gives its interval back. The one race: when a bucket was full (the time is in the
// past) it restarts from now with a plain set, and a request of another worker in that same
// instant can pass uncounted. Plain Lua (per request).

/** A shared dict (of which only incr's first result, the new value, is read), or a stand-in in the tests. */
export interface CounterStore {
  incr(this: CounterStore, key: string, value: number, init?: number): number | undefined;
  set(this: CounterStore, key: string, value: number): unknown;
}

// intervals are sums of doubles: allow what rounding adds
const SLACK = 1e-6;

/** Whether one more request under `key` passes at time `now` (seconds). */
export function admit(store: CounterStore, key: string, now: number, interval: number, capacity: number): boolean {
  let tat = store.incr(key, interval, now);
  if (tat === undefined) return true; // the store failed (no memory): let it pass
  if (tat - interval < now) {
    tat = now + interval;
    store.set(key, tat);
  }
  if (tat - now > capacity * interval * (1 + SLACK)) {
    store.incr(key, -interval);
    return false;
  }
  return true;
}
