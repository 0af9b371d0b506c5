// The access phase: Host -> the domain (its exact name, else the most specific wildcard, else
// the default *) -> walk its compiled rule graph to a backend (the upstream for the balancer
// phase) or to an answer ELB gives itself (redirect, respond). Plain Lua: no lualib, no
// closures, no tables made per request (captures, addresses and templates use reused tables).
// A regex match cut off by the match limit (lua_regex_match_limit) is a miss, counted. A backend
// with set_response_headers hands its request over to location @elb_response_headers, whose
// header filter sets them, and one whose upstream speaks TLS to @elb_tls or @elb_tls_verify
// (phases/upstream_tls.ts): the other requests pay nothing for either.
import { ByteAt } from "../core/balancer/algorithm";
import { hash32 } from "../core/balancer/hash";
import { inAny, parseIp } from "../core/cidr";
import { admit, CounterStore } from "../core/rules/bucket";
import { branchByHash, branchByRandom } from "../core/rules/choose";
import { RuleKind, RuleNode, Template } from "../core/rules/node";
import { regexLimitHit } from "../config/counters";
import { domains, literals, lookupWildcard, RuleSet, upstreams, Upstream } from "../config/view";
import { handoffTo } from "./upstream_tls";
import { begin, current, RequestState } from "./request";

const reFind = ngx.re.find;
const reMatch = ngx.re.match;
const byte = string.byte as unknown as ByteAt;
const limits = ngx.shared.elb_limits as unknown as CounterStore | undefined;

// The captures of the last regex that matched on this walk (only when a template reads them);
// a match goes into `spare`, which becomes `caps` when it succeeds.
let caps = new LuaTable<number, string | false>();
let spare = new LuaTable<number, string | false>();
const client: number[] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const buf: string[] = [];

// Location values: bytes a URL cannot hold as they are, percent-encoded
const UNSAFE = '[%c %z"<>\\^`{|}' + string.char(128) + "-" + string.char(255) + "]";
const ESCAPES: { [ch: string]: string } = {};
for (let b = 0; b < 256; b++) {
  const ch = string.char(b);
  if (string.find(ch, UNSAFE)[0] !== undefined) ESCAPES[ch] = string.format("%%%02X", b);
}

function deny(status: number, body: string): void {
  ngx.status = status;
  ngx.header["Content-Type"] = "application/json";
  ngx.say(body);
  ngx.exit(status);
}

function rewriteTo(capture: string | false | undefined): void {
  let path = "/";
  if (capture !== undefined && capture !== false) {
    path = string.sub(capture, 1, 1) === "/" ? capture : "/" + capture;
  }
  ngx.req.set_uri(path, false);
}

/** A regex search; an error (the match limit) is a miss, counted. */
function searches(node: RuleNode, subject: string, domain: string): boolean {
  const [from, , err] = reFind(subject, node.pattern, node.options);
  if (from !== undefined) return true;
  if (err !== undefined) regexLimitHit(domain, node, err);
  return false;
}

/** A regex match whose captures a template after it reads (and path's Eru rewrite). */
function captures(node: RuleNode, subject: string, domain: string): boolean {
  const t = spare;
  for (let i = 1; i <= 9; i++) t.set(i, false);
  const [m, err] = reMatch(subject, node.pattern, node.options, undefined, t);
  if (m !== undefined) {
    spare = caps;
    caps = t;
    return true;
  }
  if (err !== undefined) regexLimitHit(domain, node, err);
  return false;
}

function regexHit(node: RuleNode, subject: string, domain: string): boolean {
  return node.captures ? captures(node, subject, domain) : searches(node, subject, domain);
}

function escaped(s: string): string {
  if (string.find(s, UNSAFE)[0] === undefined) return s;
  return string.gsub(s, UNSAFE, ESCAPES)[0];
}

function render(t: Template, escape: boolean): string {
  const parts = t.parts;
  const n = parts.length;
  for (let i = 0; i < n; i++) {
    let s = parts[i];
    const cap = t.caps[i];
    const name = t.vars[i];
    if (cap > 0) {
      const c = caps.get(cap);
      s = c === undefined || c === false ? "" : c;
      if (escape) s = escaped(s);
    } else if (name !== "") {
      s = ngx.var[name] ?? "";
      if (escape) s = escaped(s);
    }
    buf[i] = s;
  }
  return table.concat(buf, "", 1, n);
}

/** A query argument as sent: %XX and + decoded. */
function decodeArg(v: string): string {
  if (string.find(v, "%", 1, true)[0] === undefined && string.find(v, "+", 1, true)[0] === undefined) return v;
  return ngx.unescape_uri(v);
}

/** The value of a split's or a limit's key; remote_addr when the request has none. */
function keyOf(variable: string): string {
  const v = ngx.var[variable];
  if (v === undefined || v === "") return ngx.var.remote_addr ?? "";
  return v;
}

function branch(node: RuleNode): RuleNode | undefined {
  const kv = node.keyVar!;
  const i = kv === "" ? branchByRandom(node.cumulative!, node.total!, math.random()) : branchByHash(node.cumulative!, node.total!, hash32(keyOf(kv), byte));
  return node.branches![i];
}

function clientIn(node: RuleNode): boolean {
  const family = parseIp(ngx.var.remote_addr ?? "", byte, client);
  return family !== 0 && inAny(node.cidrs!, family, client);
}

function underLimit(node: RuleNode, domain: string): boolean {
  if (limits === undefined) return true;
  const kv = node.keyVar!;
  const key = kv === "" ? domain + node.limitId! : domain + node.limitId! + keyOf(kv);
  return admit(limits, key, ngx.now(), node.interval!, node.capacity!);
}

function redirect(node: RuleNode): void {
  return ngx.redirect(render(node.location!, true), node.status);
}

function respond(node: RuleNode): void {
  ngx.status = node.status!;
  ngx.header["Content-Type"] = node.contentType!;
  const names = node.headerNames;
  for (let i = 0; i < names.length; i++) ngx.header[names[i]] = node.headerValues[i];
  const body = node.body!;
  ngx.header["Content-Length"] = tostring(body.length);
  if (body === "") ngx.send_headers();
  else ngx.print(body);
  return ngx.exit(node.status!);
}

/** The access phase of @elb_response_headers and @elb_tls*: the routing decision run() made for this request is in its state. */
export function resume(): void {
  const state = current();
  if (state === undefined || state.up === undefined) {
    ngx.log(ngx.ERR, "@elb_response_headers entered without a routing decision");
    return deny(502, '{"msg":"no routing decision for this request"}');
  }
}

/**
 * One step of the walk of a domain's rule graph. Each step tail-calls the next rather than
 * looping: LuaJIT records tail calls into the trace of the request, where a loop here would be
 * an inner loop of that trace (which aborts it, and the request's FFI calls around the walk
 * then run in the interpreter).
 */
function step(node: RuleNode | undefined, steps: number, domain: string, state: RequestState): void {
  if (node === undefined || steps <= 0) return deny(403, '{"msg":"no rule led to a backend"}');
  const kind = node.kind;
  if (kind === RuleKind.Backend) {
    let up: Upstream | undefined;
    if (node.literal) up = literals.get(node.server);
    else up = upstreams.get(node.server);
    if (up === undefined || up.usable === 0) {
      return deny(502, '{"msg":"the backend\'s upstream does not exist or has no usable server"}');
    }
    const names = node.headerNames;
    for (let i = 0; i < names.length; i++) ngx.req.set_header(names[i], node.headerValues[i]);
    const t = node.pathTemplate;
    if (t !== undefined) {
      const path = render(t, false);
      ngx.req.set_uri(string.sub(path, 1, 1) === "/" ? path : "/" + path, false);
    }
    state.up = up;
    if (node.responseHeaderNames !== undefined || up.policy.tls !== undefined) {
      if (node.responseHeaderNames !== undefined) state.resp = node;
      return ngx.exec(handoffTo(up));
    }
    return;
  }
  let hit = false;
  if (kind === RuleKind.Ua) {
    const ua = ngx.var.http_user_agent;
    if (ua !== undefined) hit = regexHit(node, ua, domain);
  } else if (kind === RuleKind.Path) {
    const uri = ngx.var.uri ?? "/";
    if (!node.regex) {
      hit = string.sub(uri, 1, node.pattern.length) === node.pattern;
    } else if (node.rewrite) {
      hit = captures(node, uri, domain);
      if (hit) rewriteTo(caps.get(1));
    } else {
      hit = regexHit(node, uri, domain);
    }
  } else if (kind === RuleKind.Header || kind === RuleKind.Cookie || kind === RuleKind.Query) {
    let v = ngx.var[node.variable];
    if (v !== undefined) {
      if (kind === RuleKind.Query) v = decodeArg(v);
      hit = node.regex ? regexHit(node, v, domain) : v === node.pattern;
    }
  } else if (kind === RuleKind.Method) {
    hit = node.methods![ngx.req.get_method()] === true;
  } else if (kind === RuleKind.Ip) {
    hit = clientIn(node);
  } else if (kind === RuleKind.Scheme) {
    hit = ngx.var.scheme === node.variable;
  } else if (kind === RuleKind.Limit) {
    hit = underLimit(node, domain);
  } else if (kind === RuleKind.Split) {
    return step(branch(node), steps - 1, domain, state);
  } else if (kind === RuleKind.Redirect) {
    return redirect(node);
  } else if (kind === RuleKind.Respond) {
    return respond(node);
  }
  return step(hit ? node.succ : node.fail, steps - 1, domain, state);
}

export function run(): void {
  const host = ngx.var.host ?? "";
  let domain = host;
  let found: RuleSet | undefined = domains.get(host);
  if (found === undefined) {
    const w = lookupWildcard(host);
    if (w === undefined) return deny(404, '{"msg":"no rule set for this domain"}');
    found = w;
    domain = w.name;
  }
  const state = begin();
  state.domain = domain;
  const rules = found.rules;
  if (rules.captures) {
    caps.set(1, false);
    caps.set(2, false);
    caps.set(3, false);
    caps.set(4, false);
    caps.set(5, false);
    caps.set(6, false);
    caps.set(7, false);
    caps.set(8, false);
    caps.set(9, false);
  }
  return step(rules.init, rules.maxSteps, domain, state);
}
