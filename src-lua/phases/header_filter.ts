// header_filter_by_lua of location @elb_response_headers (only requests whose backend rule has
// set_response_headers go there): those headers on the answer of its server,
// replacing a header of the same name ("" removes it). Plain Lua.
import { current } from "./request";

export function run(): void {
  const node = current()?.resp;
  if (node === undefined) return;
  const names = node.responseHeaderNames!;
  const values = node.responseHeaderValues!;
  for (let i = 0; i < names.length; i++) {
    const v = values[i];
    ngx.header[names[i]] = v === "" ? undefined : v;
  }
}
