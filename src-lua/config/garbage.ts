// What a long task leaves for the collector. A coroutine that loaded 100,000 keys and then
// waits (the leader's watch, its snapshot loop) keeps in its stack slots the last values its
// temporaries held: LuaJIT marks every slot below the stack's top, named or not, so the
// load's change list stayed reachable (23 MiB in the leader at 100,000 domains). Emptying such
// a table when the task is done with it lets its contents go, whoever still points at it.

/** Removes every entry of `t`, in place. */
export function release(t: object): void {
  const table = t as LuaTable<AnyNotNil, unknown>;
  for (const [k] of table) table.delete(k);
}
