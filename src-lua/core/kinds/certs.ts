// Certificates: /$ELBNAME/certs/<name> = {"cert": "<PEM chain>", "key": "<PEM private key>"}.
// A TLS handshake gets the certificate covering its SNI name exactly, else a wildcard one, else
// the one named "default" (phases/ssl_certificate.ts). The API: /__erulb__/cert {name: {cert,
// key}}; GET answers what core/certs.ts publicView shows, never a key. Not in elbctl's files.
import { checkCertName, readCertificates } from "../certs";
import { encodeJson } from "../host";
import { Problem } from "../problems";
import { decodeDocument, noMembers } from "./json-document";
import { Kind } from "./kind";

export const certs: Kind = {
  id: "cert",
  section: "certs",
  fileSection: "certs",
  inFiles: false,
  grouped: false,
  noun: "certificate name",
  document: '{"cert", "key"}',
  checkName: checkCertName,
  memberNoun: "",
  emptyGroup: "",
  checkMember: noMembers,
  validate: (value: unknown, at: string, problems: Problem[]) => {
    readCertificates(value, at, problems);
  },
  // the chain first, in both runtimes: a tool that shows the start of a value (elbctl watch)
  // shows the certificate, never the key
  encode: (value: unknown) => {
    const v = value as { cert: string; key: string };
    return `{"cert":${encodeJson(v.cert)},"key":${encodeJson(v.key)}}`;
  },
  decode: decodeDocument,
};
