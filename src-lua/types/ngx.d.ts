/** @noSelfInFile */
// Declarations of the ngx_lua APIs ELB uses (lua-nginx-module 0.10.23 with lua-resty-core).
// Module tables are @noSelf; objects (shared dicts, sockets) keep `self` so calls become obj:method().

declare interface NgxSharedDict {
  get(this: NgxSharedDict, key: string): LuaMultiReturn<[any, number | undefined]>;
  set(this: NgxSharedDict, key: string, value: string | number | boolean, exptime?: number, flags?: number): LuaMultiReturn<[boolean, string | undefined, boolean]>;
  safe_set(this: NgxSharedDict, key: string, value: string | number | boolean, exptime?: number): LuaMultiReturn<[boolean, string | undefined]>;
  add(this: NgxSharedDict, key: string, value: string | number | boolean, exptime?: number): LuaMultiReturn<[boolean, string | undefined, boolean]>;
  replace(this: NgxSharedDict, key: string, value: string | number | boolean, exptime?: number): LuaMultiReturn<[boolean, string | undefined]>;
  incr(this: NgxSharedDict, key: string, value: number, init?: number, init_ttl?: number): LuaMultiReturn<[number | undefined, string | undefined]>;
  delete(this: NgxSharedDict, key: string): void;
  expire(this: NgxSharedDict, key: string, exptime: number): LuaMultiReturn<[boolean | undefined, string | undefined]>;
  ttl(this: NgxSharedDict, key: string): LuaMultiReturn<[number | undefined, string | undefined]>;
  get_keys(this: NgxSharedDict, max?: number): string[];
  flush_all(this: NgxSharedDict): void;
  free_space(this: NgxSharedDict): number;
  capacity(this: NgxSharedDict): number;
}

declare interface NgxTcpSocket {
  connect(this: NgxTcpSocket, host: string, port: number): LuaMultiReturn<[1 | undefined, string | undefined]>;
  send(this: NgxTcpSocket, data: string): LuaMultiReturn<[number | undefined, string | undefined]>;
  receive(this: NgxTcpSocket, pattern?: string | number): LuaMultiReturn<[string | undefined, string | undefined, string | undefined]>;
  settimeouts(this: NgxTcpSocket, connect: number, send: number, read: number): void;
  settimeout(this: NgxTcpSocket, ms: number): void;
  setkeepalive(this: NgxTcpSocket, timeout?: number, size?: number): LuaMultiReturn<[1 | undefined, string | undefined]>;
  close(this: NgxTcpSocket): LuaMultiReturn<[1 | undefined, string | undefined]>;
}

/** a light thread of ngx.thread */
declare interface NgxThread {
  readonly __ngxThread: never;
}

declare interface NgxUdpSocket {
  setpeername(this: NgxUdpSocket, host: string, port: number): LuaMultiReturn<[1 | undefined, string | undefined]>;
  send(this: NgxUdpSocket, data: string): LuaMultiReturn<[1 | undefined, string | undefined]>;
  receive(this: NgxUdpSocket, size?: number): LuaMultiReturn<[string | undefined, string | undefined]>;
  settimeout(this: NgxUdpSocket, ms: number): void;
  close(this: NgxUdpSocket): LuaMultiReturn<[1 | undefined, string | undefined]>;
}

declare type NgxTimerCallback = (this: void, premature: boolean, ...args: any[]) => void;

declare interface Ngx {

  readonly OK: 0;
  readonly ERROR: -1;
  readonly HTTP_OK: 200;
  readonly HTTP_BAD_REQUEST: 400;
  readonly HTTP_FORBIDDEN: 403;
  readonly HTTP_NOT_FOUND: 404;
  readonly HTTP_NOT_ALLOWED: 405;
  readonly HTTP_INTERNAL_SERVER_ERROR: 500;
  readonly HTTP_BAD_GATEWAY: 502;
  readonly HTTP_SERVICE_UNAVAILABLE: 503;
  readonly STDERR: number;
  readonly EMERG: number;
  readonly ALERT: number;
  readonly CRIT: number;
  readonly ERR: number;
  readonly WARN: number;
  readonly NOTICE: number;
  readonly INFO: number;
  readonly DEBUG: number;
  readonly null: unknown;

  status: number;
  readonly ctx: { [key: string]: any };
  readonly header: { [name: string]: string | string[] | undefined };
  readonly shared: { [name: string]: NgxSharedDict | undefined };
  readonly config: { prefix(this: void): string; subsystem: string; ngx_lua_version: number; nginx_version: number };
  readonly worker: {
  pid(this: void): number;
  id(this: void): number | undefined;
  count(this: void): number;
  exiting(this: void): boolean;
  };
  readonly timer: {
  at(this: void, delay: number, callback: NgxTimerCallback, ...args: any[]): LuaMultiReturn<[1 | undefined, string | undefined]>;
  every(this: void, delay: number, callback: NgxTimerCallback, ...args: any[]): LuaMultiReturn<[1 | undefined, string | undefined]>;
  running_count(this: void): number;
  pending_count(this: void): number;
  };
  readonly thread: {
  spawn(this: void, fn: (this: void, ...args: any[]) => any, ...args: any[]): NgxThread;
  /** true and what the thread returned, or false and its error */
  wait(this: void, ...threads: NgxThread[]): LuaMultiReturn<[boolean, ...unknown[]]>;
  kill(this: void, thread: NgxThread): LuaMultiReturn<[1 | undefined, string | undefined]>;
  };
  readonly socket: {
  tcp(this: void): NgxTcpSocket;
  udp(this: void): NgxUdpSocket;
  };
  readonly req: {
  get_method(this: void): string;
  get_headers(this: void, max?: number, raw?: boolean): { [name: string]: string | string[] | undefined };
  set_header(this: void, name: string, value: string | undefined): void;
  set_uri(this: void, uri: string, jump?: boolean): void;
  read_body(this: void): void;
  get_body_data(this: void): string | undefined;
  get_body_file(this: void): string | undefined;
  start_time(this: void): number;
  get_uri_args(this: void, max?: number): { [name: string]: string | boolean | string[] | undefined };
  };
  readonly re: {
  find(this: void, subject: string, regex: string, options?: string, ctx?: LuaTable, nth?: number): LuaMultiReturn<[number | undefined, number | undefined, string | undefined]>;
  match(this: void, subject: string, regex: string, options?: string, ctx?: LuaTable, resTable?: LuaTable<number, string | false>): LuaMultiReturn<[LuaTable<number, string | false> | undefined, string | undefined]>;
  };
  readonly var: { [name: string]: string | undefined };

  say(this: void, ...args: any[]): void;
  print(this: void, ...args: any[]): void;
  log(this: void, level: number, ...args: any[]): void;
  exit(this: void, status: number): never;
  exec(this: void, uri: string, args?: string): never;
  sleep(this: void, seconds: number): void;
  now(this: void): number;
  time(this: void): number;
  update_time(this: void): void;
  encode_base64(this: void, s: string): string;
  decode_base64(this: void, s: string): string | undefined;
  crc32_short(this: void, s: string): number;
  md5(this: void, s: string): string;
  sha1_bin(this: void, s: string): string;
  quote_sql_str(this: void, s: string): string;

}

declare const ngx: Ngx;

// Added for the etcd client (etcd/http.ts): more cosocket methods (merged into NgxTcpSocket).
declare interface NgxTcpSocket {
  receiveany(this: NgxTcpSocket, max: number): LuaMultiReturn<[string | undefined, string | undefined]>;
  getreusedtimes(this: NgxTcpSocket): LuaMultiReturn<[number | undefined, string | undefined]>;
  sslhandshake(this: NgxTcpSocket, session: unknown, serverName: string | undefined, verify: boolean): LuaMultiReturn<[unknown, string | undefined]>;
}

// Added for etcd over TLS (etcd/http.ts) and the admin token check (admin/router.ts).
declare interface NgxTcpSocket {
  /** reused: false (no session object); serverName: SNI and the name checked when verify is set */
  sslhandshake(this: NgxTcpSocket, reused: boolean, serverName: string | undefined, verify: boolean): LuaMultiReturn<[unknown, string | undefined]>;
  setclientcert(this: NgxTcpSocket, cert: unknown, key: unknown): LuaMultiReturn<[boolean | undefined, string | undefined]>;
}

declare interface Ngx {
  hmac_sha1(this: void, key: string, data: string): string;
}
