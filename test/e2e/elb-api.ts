// Helpers around one ELB under test: its admin API, a domain routed to an upstream with a
// policy, requests by Host, the servers of an upstream as GET /__erulb__/upstream shows them.
import { expect } from "vitest";
import { Elb } from "./harness";

/** `elb` is read at each call: test files start their ELB in beforeAll. */
export function elbApi(elb: () => Elb) {
  const admin = (method: string, resource: string, body?: unknown) => elb().api(method, resource, body);

  /** PUTs upstream servers, an optional policy and a domain `<name>.test` routing to the upstream. */
  async function setup(name: string, servers: Record<string, string>, policy?: unknown): Promise<string> {
    if (policy !== undefined) expect((await admin("PUT", "policy", { [name]: policy })).status).toBe(200);
    expect((await admin("PUT", "upstream", { [name]: servers })).status).toBe(200);
    const domain = `${name}.test`;
    expect((await admin("PUT", "domain", { [domain]: { init: "b", rules: { b: { type: "backend", args: { servername: name } } } } })).status).toBe(200);
    return domain;
  }

  const get = (domain: string, headers: Record<string, string> = {}, path = "/") => elb().request({ path, headers: { Host: domain, ...headers } });

  /** The upstream's servers by address, with their health fields. */
  async function servers(name: string): Promise<Record<string, any>> {
    const list: any[] = (await admin("GET", "upstream")).json[name] ?? [];
    return Object.fromEntries(list.map((s) => [s.addr, s]));
  }

  return { admin, setup, get, servers };
}

/** The sticky cookie's name=value from a response, if it set one. */
export function stickyCookie(headers: Record<string, unknown>, name: string): string | undefined {
  const list = ([] as string[]).concat((headers["set-cookie"] as string[] | undefined) ?? []);
  return list.find((s) => s.startsWith(`${name}=`))?.split(";")[0];
}
