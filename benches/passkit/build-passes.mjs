// Builds the same Apple Wallet pass as intyg with passkit-generator, COUNT times on one thread,
// and prints passes a second. The pass's files come from a pass that intyg issued, unzipped into
// MODEL_DIR; the manifest and signature are left out, because passkit-generator makes its own.
//
// Usage: node build-passes.mjs MODEL_DIR KEYS_DIR COUNT

import fs from "node:fs";
import path from "node:path";
import { PKPass } from "passkit-generator";

const [modelDir, keysDir, countText] = process.argv.slice(2);
const count = Number(countText ?? "2000");

const buffers = {};
for (const entry of fs.readdirSync(modelDir, { recursive: true })) {
  const file = path.join(modelDir, entry);
  if (fs.statSync(file).isDirectory() || entry === "manifest.json" || entry === "signature") {
    continue;
  }
  buffers[entry] = fs.readFileSync(file);
}
const certificates = {
  wwdr: fs.readFileSync(path.join(keysDir, "apple-wwdr.crt.pem")),
  signerCert: fs.readFileSync(path.join(keysDir, "pass-type-id.crt.pem")),
  signerKey: fs.readFileSync(path.join(keysDir, "pass-type-id.key.pem")),
};

function build() {
  return new PKPass(buffers, certificates).getAsBuffer();
}

// Warm up the JIT, then time the whole batch.
for (let i = 0; i < Math.min(200, count); i++) build();
const times = [];
for (let round = 0; round < 5; round++) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < count / 5; i++) build();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  times.push(count / 5 / seconds);
}
times.sort((a, b) => a - b);
const sample = build();
console.log(
  JSON.stringify({ peer: "passkit-generator", passes_per_second_median: Math.round(times[2]), rounds: times.map(Math.round), bytes: sample.length }),
);
