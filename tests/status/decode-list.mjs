// Decodes a status list that intyg serves with an independent implementation and prints the
// entries that are not zero as JSON: {"size", "entries": [[index, value], ...]}.
//
//   node decode-list.mjs token FILE       a statuslist+jwt, decoded by @sd-jwt/jwt-status-list
//   node decode-list.mjs bitstring FILE   a Bitstring Status List credential as vc+jwt, whose
//                                         encodedList @digitalbazaar/vc-bitstring-status-list decodes
import { readFileSync } from "node:fs";
import { getListFromStatusListJWT } from "@sd-jwt/jwt-status-list";
import { decodeList } from "@digitalbazaar/vc-bitstring-status-list";

const [kind, file] = process.argv.slice(2);
const jwt = readFileSync(file, "utf8").trim();
const entries = [];
let size;
if (kind === "token") {
  const list = getListFromStatusListJWT(jwt);
  size = list.statusList.length;
  for (let index = 0; index < size; index++) {
    const value = list.getStatus(index);
    if (value !== 0) entries.push([index, value]);
  }
} else if (kind === "bitstring") {
  const payload = JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString("utf8"));
  const list = await decodeList({ encodedList: payload.credentialSubject.encodedList });
  size = list.length;
  for (let index = 0; index < size; index++) {
    if (list.getStatus(index)) entries.push([index, 1]);
  }
} else {
  console.error("usage: node decode-list.mjs token|bitstring FILE");
  process.exit(2);
}
console.log(JSON.stringify({ size, entries }));
