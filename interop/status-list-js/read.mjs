// Reads a status list JWT the way an independent verifier would: the ES256 signature with
// Node's own crypto against the public key of the x5c certificate, then the list with
// @sd-jwt/jwt-status-list (OpenWallet Foundation sd-jwt-js). Prints
// {"typ", "sub", "bits", "statuses": {index: status}} for the indices given.
// Usage: node read.mjs TOKEN.jwt INDEX[,INDEX...]
import { readFileSync } from "node:fs";
import { X509Certificate, verify } from "node:crypto";
import { getListFromStatusListJWT } from "@sd-jwt/jwt-status-list";

const [file, indices] = process.argv.slice(2);
const jwt = readFileSync(file, "utf8").trim();
const [h, p, s] = jwt.split(".");
const header = JSON.parse(Buffer.from(h, "base64url"));
const payload = JSON.parse(Buffer.from(p, "base64url"));
if (header.alg !== "ES256") throw new Error(`unexpected alg ${header.alg}`);
const cert = new X509Certificate(Buffer.from(header.x5c[0], "base64"));
const ok = verify(
  "sha256",
  Buffer.from(`${h}.${p}`),
  { key: cert.publicKey, dsaEncoding: "ieee-p1363" },
  Buffer.from(s, "base64url"),
);
if (!ok) throw new Error("signature does not verify");
const list = getListFromStatusListJWT(jwt);
const statuses = {};
for (const i of indices.split(",")) statuses[i] = list.getStatus(Number(i));
console.log(JSON.stringify({ typ: header.typ, sub: payload.sub, bits: payload.status_list.bits, statuses }));
