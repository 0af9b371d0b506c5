// @ts-check
// Waiting for a condition: the one loop every start, stop and assertion of the harness uses.

/** @param {number} ms */
export function sleep(ms) {
  return new Promise((res) => setTimeout(res, ms));
}

/** Thrown inside a waitFor() callback: stop waiting and fail at once with this error. */
export class WaitAbort extends Error {}

/**
 * Polls `fn` until it returns a truthy value (which is returned) or throws after timeoutMs.
 * Errors thrown by `fn` count as "not yet", except WaitAbort, which fails at once.
 * @template T
 * @param {() => T | undefined | null | false | Promise<T | undefined | null | false>} fn
 * @param {number} [timeoutMs]
 * @param {string} [what] named in the timeout error
 * @param {number} [intervalMs]
 * @returns {Promise<T>}
 */
export async function waitFor(fn, timeoutMs = 5000, what = "condition", intervalMs = 50) {
  const deadline = Date.now() + timeoutMs;
  let lastErr;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      if (e instanceof WaitAbort) throw e;
      lastErr = e;
    }
    if (Date.now() > deadline) {
      const detail = lastErr instanceof Error ? `: ${lastErr.message}` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await sleep(intervalMs);
  }
}
