// Lua modules ELB requires, typed for TSTL: module tables are @noSelf.

/** @noSelf */
declare module "ngx.balancer" {
  function set_current_peer(host: string, port: number): LuaMultiReturn<[boolean | undefined, string | undefined]>;
  function set_more_tries(count: number): LuaMultiReturn<[boolean | undefined, string | undefined]>;
  function get_last_failure(): LuaMultiReturn<[string | undefined, number | undefined]>;
  function set_timeouts(connect?: number, send?: number, read?: number): LuaMultiReturn<[boolean | undefined, string | undefined]>;
}

/** @noSelf */
declare module "cjson.safe" {
  function encode(value: unknown): LuaMultiReturn<[string | undefined, string | undefined]>;
  function decode(text: string): LuaMultiReturn<[any, string | undefined]>;
  function encode_sparse_array(convert?: boolean, ratio?: number, safe?: number): void;
  /** false: NaN, Infinity and hex numbers are refused (they are not JSON) */
  function decode_invalid_numbers(allow?: boolean): boolean;
  function decode_max_depth(depth?: number): number;
}

/** @noSelf */
declare module "ngx.ssl" {
  function parse_pem_cert(pem: string): LuaMultiReturn<[unknown, string | undefined]>;
  function parse_pem_priv_key(pem: string): LuaMultiReturn<[unknown, string | undefined]>;
}

/** @noSelf */
declare module "ngx.process" {
  function type(): string;
  function get_master_pid(): number | undefined;
}

/** @noSelf */
declare module "ffi" {
  export function cdef(decl: string): void;
  export function new_(ctype: string, ...args: any[]): any;
  export { new_ as new };
  export function string(ptr: any, len?: number): string;
  export function cast(ctype: string, value: any): any;
  export function gc(cdata: any, finalizer: any): any;
  export function errno(): number;
  export function load(name: string): any;
  export const C: any;
}

/** @noSelf */
declare module "bit" {
  function band(...xs: number[]): number;
  function bor(...xs: number[]): number;
  function bxor(...xs: number[]): number;
  function lshift(x: number, n: number): number;
  function rshift(x: number, n: number): number;
  function tobit(x: number): number;
}


/** @noSelf */
declare module "ngx.ssl" {
  function server_name(): LuaMultiReturn<[string | undefined, string | undefined]>;
  function clear_certs(): LuaMultiReturn<[boolean | undefined, string | undefined]>;
  function parse_pem_cert(pem: string): LuaMultiReturn<[unknown, string | undefined]>;
  function parse_pem_priv_key(pem: string): LuaMultiReturn<[unknown, string | undefined]>;
  function set_cert(chain: unknown): LuaMultiReturn<[boolean | undefined, string | undefined]>;
  function set_priv_key(key: unknown): LuaMultiReturn<[boolean | undefined, string | undefined]>;
}
