// Verifies intyg credentials with independent libraries: @sd-jwt/sd-jwt-vc for dc+sd-jwt, and
// jose for vc+jwt and jwt_vc_json. The x5c chain is checked against the given trust anchor with
// Node's own X.509 support.
//
// Usage: node verify-credentials.mjs CREDENTIALS_FILE TRUST_ANCHOR_PEM
// Prints one JSON object a line: {"valid", "format", "typ", "claims", "error"}.
// Exits 0 when every credential is valid, 1 otherwise.

import { readFileSync } from 'node:fs';
import { X509Certificate, verify as verifySignature } from 'node:crypto';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { digest } from '@sd-jwt/crypto-nodejs';
import * as jose from 'jose';

const [credentialsPath, anchorPath] = process.argv.slice(2);
if (!credentialsPath || !anchorPath) {
  console.error('usage: node verify-credentials.mjs CREDENTIALS_FILE TRUST_ANCHOR_PEM');
  process.exit(2);
}
const anchor = new X509Certificate(readFileSync(anchorPath));

function decodeHeader(compactJws) {
  return JSON.parse(Buffer.from(compactJws.split('.')[0], 'base64url').toString('utf8'));
}

// Checks that the x5c chain leads to the anchor and is valid now; returns the signing certificate.
function checkChain(header) {
  if (!Array.isArray(header.x5c) || header.x5c.length === 0) {
    throw new Error('x5c header is missing');
  }
  const chain = header.x5c.map((der) => new X509Certificate(Buffer.from(der, 'base64')));
  const now = Date.now();
  for (const certificate of chain) {
    if (Date.parse(certificate.validFrom) > now || Date.parse(certificate.validTo) < now) {
      throw new Error(`certificate ${certificate.subject} is not valid now`);
    }
  }
  for (let i = 0; i + 1 < chain.length; i += 1) {
    if (!chain[i].checkIssued(chain[i + 1]) || !chain[i].verify(chain[i + 1].publicKey)) {
      throw new Error(`certificate ${i} is not issued by certificate ${i + 1}`);
    }
  }
  const last = chain[chain.length - 1];
  const anchored = last.fingerprint256 === anchor.fingerprint256
    || (last.checkIssued(anchor) && last.verify(anchor.publicKey));
  if (!anchored) {
    throw new Error('the chain does not lead to the trust anchor');
  }
  return chain[0];
}

async function verifySdJwtVc(credential) {
  const header = decodeHeader(credential);
  if (header.typ !== 'dc+sd-jwt') {
    throw new Error(`typ is ${header.typ}, expected dc+sd-jwt`);
  }
  const signer = checkChain(header);
  const instance = new SDJwtVcInstance({
    hasher: digest,
    hashAlg: 'sha-256',
    verifier: async (data, signature) => verifySignature(
      'sha256',
      Buffer.from(data),
      { key: signer.publicKey, dsaEncoding: 'ieee-p1363' },
      Buffer.from(signature, 'base64url'),
    ),
  });
  const { payload } = await instance.verify(credential);
  return { typ: header.typ, claims: payload };
}

async function verifyJwt(credential) {
  const header = decodeHeader(credential);
  if (header.typ !== 'vc+jwt' && header.typ !== 'JWT') {
    throw new Error(`typ is ${header.typ}, expected vc+jwt or JWT`);
  }
  const signer = checkChain(header);
  const { payload } = await jose.jwtVerify(credential, signer.publicKey, {
    algorithms: ['ES256'],
    typ: header.typ,
  });
  return { typ: header.typ, claims: payload };
}

let allValid = true;
const lines = readFileSync(credentialsPath, 'utf8').split('\n').filter((line) => line.trim() !== '');
for (const credential of lines) {
  const format = credential.includes('~') ? 'dc+sd-jwt' : 'jwt';
  try {
    const result = format === 'dc+sd-jwt' ? await verifySdJwtVc(credential) : await verifyJwt(credential);
    console.log(JSON.stringify({ valid: true, format, ...result }));
  } catch (error) {
    allValid = false;
    console.log(JSON.stringify({ valid: false, format, error: String(error && error.message ? error.message : error) }));
  }
}
process.exit(allValid ? 0 : 1);
