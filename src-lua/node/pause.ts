/**
 * Lets the worker's other timers and requests run in the middle of a long task (a timer or
 * a request handler only). Not ngx.sleep(0): without a patch that distribution builds of
 * nginx lack, it logs a warning at every call.
 */
export function letOthersRun(): void {
  ngx.sleep(0.001);
}
