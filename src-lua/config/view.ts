// What one worker routes by: compiled domains and upstreams, keyed by name. The access and
// balancer phases read these tables; config/apply.ts is the only writer. Plain Lua.
import { CompiledRuleSet } from "../core/ruleset";
import { RoundRobin, Peer } from "../core/balancer/roundrobin";
import { Policy } from "../core/policy";
import { ServerParams } from "../core/server-params";

export interface Domain {
  name: string;
  rules: CompiledRuleSet;
  /** the rule set's JSON as stored, returned by GET /__erulb__/domain */
  raw: string;
  /** statsd names: <ELBNAME>.<domain with dots as _> */
  metric: string;
}

export interface Server {
  addr: string;
  params: ServerParams;
  raw: string;
}

export interface Upstream {
  name: string;
  servers: LuaTable<string, Server>;
  rr: RoundRobin;
  peers: Peer[];
}

export const domains = new LuaTable<string, Domain>();
export const upstreams = new LuaTable<string, Upstream>();

export const counts = { domains: 0, upstreams: 0 };

/** each upstream's balancing policy, as stored (raw) and normalized; an upstream may not exist yet */
export interface StoredPolicy {
  raw: string;
  policy: Policy;
}
export const policies = new LuaTable<string, StoredPolicy>();

/** one-server upstreams for backends that name a literal host:port, keyed by it */
export const literals = new LuaTable<string, Upstream>();
