// X.509 for the engine's host (core/host.ts): OpenSSL's libcrypto through the LuaJIT FFI, the
// same library node:crypto prints with, called so that the texts agree with Node's
// X509Certificate (validFrom/validTo, issuer, fingerprint256, ca, checkPrivateKey,
// checkIssued). Inside nginx the symbols are the ones nginx is linked with; under plain LuaJIT
// (busted) libcrypto.so.3 is loaded.
import * as ffi from "ffi";
import { X509Info } from "../core/host";

ffi.cdef(`
typedef struct { int type; union { void *ptr; } d; } elb_GENERAL_NAME;
void *BIO_new_mem_buf(const char *buf, int len);
const void *BIO_s_mem(void);
void *BIO_new(const void *type);
long BIO_ctrl(void *bp, int cmd, long larg, void *parg);
int BIO_free(void *a);
void *PEM_read_bio_X509(void *bp, void **x, void *cb, void *u);
void *PEM_read_bio_PrivateKey(void *bp, void **x, void *cb, const char *u);
void X509_free(void *a);
void EVP_PKEY_free(void *key);
int X509_check_private_key(const void *x509, const void *pkey);
int X509_check_issued(void *issuer, void *subject);
int X509_check_ca(void *x);
const void *X509_get0_notBefore(const void *x);
const void *X509_get0_notAfter(const void *x);
int ASN1_TIME_print(void *bp, const void *a);
void *X509_get_issuer_name(const void *a);
void *X509_get_subject_name(const void *a);
int X509_NAME_print_ex(void *out, const void *nm, int indent, unsigned long flags);
int X509_NAME_get_index_by_NID(void *name, int nid, int lastpos);
void *X509_NAME_get_entry(const void *name, int loc);
void *X509_NAME_ENTRY_get_data(const void *ne);
const unsigned char *ASN1_STRING_get0_data(const void *x);
int ASN1_STRING_length(const void *x);
void *X509_get_ext_d2i(const void *x, int nid, int *crit, int *idx);
int OPENSSL_sk_num(const void *st);
void *OPENSSL_sk_value(const void *st, int i);
void GENERAL_NAMES_free(void *a);
const void *EVP_sha256(void);
int X509_digest(const void *data, const void *type, unsigned char *md, unsigned int *len);
unsigned long ERR_get_error(void);
void ERR_error_string_n(unsigned long e, char *buf, size_t len);
void ERR_clear_error(void);
`);

function library(this: void): any {
  const [inProcess] = pcall(() => ffi.C.X509_check_ca);
  if (inProcess) return ffi.C;
  return ffi.load("libcrypto.so.3");
}

const C = library();
const BIO_CTRL_INFO = 3;
const NID_commonName = 13;
const NID_subject_alt_name = 85;
const GEN_DNS = 2;
// what Node prints names with (src/crypto/crypto_x509.cc kX509NameFlagsMultiline):
// ASN1_STRFLGS_ESC_2253 | ASN1_STRFLGS_ESC_CTRL | ASN1_STRFLGS_UTF8_CONVERT | XN_FLAG_SEP_MULTILINE | XN_FLAG_FN_SN
const NAME_FLAGS = 0x1 | 0x2 | 0x10 | 0x40000;

function lastError(this: void): string {
  const e = C.ERR_get_error();
  C.ERR_clear_error();
  if (e === 0) return "not a valid PEM";
  const buf = ffi.new("char[256]");
  C.ERR_error_string_n(e, buf, 256);
  return ffi.string(buf);
}

/** What `print(bio)` wrote into a memory BIO. */
function printed(this: void, print: (this: void, bio: any) => number): string {
  const bio = C.BIO_new(C.BIO_s_mem());
  print(bio);
  const p = ffi.new("char *[1]");
  const n = C.BIO_ctrl(bio, BIO_CTRL_INFO, 0, p);
  const s = ffi.string(p[0], n);
  C.BIO_free(bio);
  return s;
}

/** The X509* of one PEM block (garbage-collected), or undefined and the reason. */
function parseCert(this: void, pem: string): LuaMultiReturn<[any, undefined] | [undefined, string]> {
  C.ERR_clear_error();
  const bio = C.BIO_new_mem_buf(pem, pem.length);
  const x = C.PEM_read_bio_X509(bio, undefined, undefined, undefined);
  C.BIO_free(bio);
  // a NULL pointer compares equal to nil
  if (x === undefined) return $multi(undefined, lastError());
  return $multi(ffi.gc(x, C.X509_free), undefined);
}

function asn1Text(this: void, s: any): string {
  return ffi.string(C.ASN1_STRING_get0_data(s), C.ASN1_STRING_length(s));
}

function dnsNames(this: void, x: any): string[] {
  const names: string[] = [];
  const gens = C.X509_get_ext_d2i(x, NID_subject_alt_name, undefined, undefined);
  if (gens === undefined) return names;
  const n = C.OPENSSL_sk_num(gens);
  for (let i = 0; i < n; i++) {
    const g = ffi.cast("elb_GENERAL_NAME *", C.OPENSSL_sk_value(gens, i));
    if (g.type === GEN_DNS) names.push(asn1Text(g.d.ptr));
  }
  C.GENERAL_NAMES_free(gens);
  return names;
}

function commonName(this: void, x: any): string | undefined {
  const subject = C.X509_get_subject_name(x);
  // the last CN, as X509_check_host and Node's subject lines would show the most specific one
  let idx = -1;
  let last = -1;
  for (;;) {
    idx = C.X509_NAME_get_index_by_NID(subject, NID_commonName, idx);
    if (idx < 0) break;
    last = idx;
  }
  if (last < 0) return undefined;
  return asn1Text(C.X509_NAME_ENTRY_get_data(C.X509_NAME_get_entry(subject, last)));
}

function fingerprint(this: void, x: any): string {
  const md = ffi.new("unsigned char[64]");
  const len = ffi.new("unsigned int[1]");
  C.X509_digest(x, C.EVP_sha256(), md, len);
  const hex: string[] = [];
  for (let i = 0; i < len[0]; i++) hex.push(string.format("%02X", md[i]));
  return hex.join(":");
}

export function readCertificate(this: void, pem: string): X509Info | string {
  const [x, err] = parseCert(pem);
  if (x === undefined) return err!;
  return {
    dnsNames: dnsNames(x),
    commonName: commonName(x),
    notBefore: printed((bio) => C.ASN1_TIME_print(bio, C.X509_get0_notBefore(x))),
    notAfter: printed((bio) => C.ASN1_TIME_print(bio, C.X509_get0_notAfter(x))),
    issuer: printed((bio) => C.X509_NAME_print_ex(bio, C.X509_get_issuer_name(x), 0, NAME_FLAGS)),
    fingerprint: fingerprint(x),
    ca: C.X509_check_ca(x) === 1,
  };
}

export function checkKey(this: void, certPem: string, keyPem: string): string | undefined {
  C.ERR_clear_error();
  const bio = C.BIO_new_mem_buf(keyPem, keyPem.length);
  // an empty passphrase: an encrypted key is refused instead of prompting on a terminal
  const key = C.PEM_read_bio_PrivateKey(bio, undefined, undefined, "");
  C.BIO_free(bio);
  if (key === undefined) return `the private key cannot be read: ${lastError()}`;
  ffi.gc(key, C.EVP_PKEY_free);
  const [x, err] = parseCert(certPem);
  if (x === undefined) return err;
  const ok = C.X509_check_private_key(x, key) === 1;
  C.ERR_clear_error();
  return ok ? undefined : "the private key is not the certificate's (they do not match)";
}

export function issued(this: void, issuerPem: string, subjectPem: string): boolean {
  const [issuer] = parseCert(issuerPem);
  const [subject] = parseCert(subjectPem);
  if (issuer === undefined || subject === undefined) return false;
  return C.X509_check_issued(issuer, subject) === 0;
}
