/** @noSelfInFile */
// ngx_lua APIs the routing rules use (merged into the Ngx interface of ngx.d.ts).

declare interface Ngx {
  /** answers a redirect (301, 302, 303, 307, 308) and ends the request */
  redirect(this: void, uri: string, status?: number): never;
  send_headers(this: void): void;
  /** an internal redirect (to a URI or a named location); ngx.ctx starts empty there */
  exec(this: void, uri: string, args?: string): never;
  /** decodes %XX, and + as a space */
  unescape_uri(this: void, s: string): string;
}
