// A wallet built on the independent OpenID4VCI client @openid4vc/openid4vci (with
// @openid4vc/oauth2) that redeems an intyg credential offer, then checks what it received with
// @sd-jwt/sd-jwt-vc (dc+sd-jwt) or jose (vc+jwt, jwt_vc_json).
//
// Usage: node wallet.mjs SCENARIO OFFER_LINK [TX_CODE | LOGIN]
//   SCENARIO is one of
//     single         one proof, one credential of every configuration in the offer
//     batch          three proofs with three keys for the first configuration
//     dpop           as single for the first configuration, with a DPoP-bound access token
//     encrypted      as single for the first configuration, with an encrypted request and response
//     authorization  the authorization code flow with PAR and PKCE for the first configuration:
//                    the holder logs in at the upstream provider as LOGIN
// Prints one JSON object: {"configurations": {ID: [{"format", "typ", "claims", "cnf_matches"}]},
// "token_type", ...}. Exits 1 with {"error"} when any step fails.

import { X509Certificate, createHash, randomBytes, verify as verifySignature } from 'node:crypto';
import {
  Openid4vciClient,
  setGlobalConfig,
} from '@openid4vc/openid4vci';
import { clientAuthenticationAnonymous, clientAuthenticationNone } from '@openid4vc/oauth2';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { digest } from '@sd-jwt/crypto-nodejs';
import * as jose from 'jose';

// intyg runs on http://127.0.0.1 in the tests; the client rejects http URLs unless configured to allow them.
setGlobalConfig({ allowInsecureUrls: true });

const [scenario, offerLink, txCodeOrLogin] = process.argv.slice(2);
const txCode = scenario === 'authorization' ? undefined : txCodeOrLogin;
const login = scenario === 'authorization' ? txCodeOrLogin : undefined;
const clientId = 'test-wallet';
const redirectUri = 'https://wallet.example.se/callback';
if (!scenario || !offerLink) {
  console.error('usage: node wallet.mjs SCENARIO OFFER_LINK [TX_CODE | LOGIN]');
  process.exit(2);
}

// Private keys of the wallet, by the x coordinate of their public JWK.
const privateKeys = new Map();

async function newKey() {
  const { publicKey, privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
  const publicJwk = await jose.exportJWK(publicKey);
  privateKeys.set(publicJwk.x, privateKey);
  return publicJwk;
}

const callbacks = {
  hash: (data, alg) => createHash(alg.replace('-', '')).update(data).digest(),
  generateRandom: (length) => randomBytes(length),
  // The authorization code flow identifies the wallet as a public client by its client_id; the
  // pre-authorized code flow is anonymous.
  clientAuthentication: scenario === 'authorization'
    ? clientAuthenticationNone({ clientId })
    : clientAuthenticationAnonymous(),
  signJwt: async (signer, { header, payload }) => {
    if (signer.method !== 'jwk') {
      throw new Error(`the test wallet signs with jwk signers only, not ${signer.method}`);
    }
    const key = privateKeys.get(signer.publicJwk.x);
    const jwt = await new jose.SignJWT(payload).setProtectedHeader(header).sign(key);
    return { jwt, signerJwk: signer.publicJwk };
  },
};

const client = new Openid4vciClient({ callbacks });

function decodePart(compact, index) {
  return JSON.parse(Buffer.from(compact.split('.')[index], 'base64url').toString('utf8'));
}

function signingCertificate(header) {
  if (!Array.isArray(header.x5c) || header.x5c.length === 0) {
    throw new Error('the credential has no x5c header');
  }
  return new X509Certificate(Buffer.from(header.x5c[0], 'base64'));
}

// Verifies a credential's signature with the key of its x5c signing certificate and returns its
// typ and payload. Chain validation is the interop verifier's job; here the binding matters.
async function verifyCredential(credential) {
  if (credential.includes('~')) {
    const header = decodePart(credential.split('~')[0], 0);
    const signer = signingCertificate(header);
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
    return { format: 'dc+sd-jwt', typ: header.typ, claims: payload };
  }
  const header = decodePart(credential, 0);
  const signer = signingCertificate(header);
  const { payload } = await jose.jwtVerify(credential, signer.publicKey, {
    algorithms: ['ES256'],
    typ: header.typ,
  });
  return { format: header.typ === 'vc+jwt' ? 'vc+jwt' : 'jwt_vc_json', typ: header.typ, claims: payload };
}

function sameKey(a, b) {
  return Boolean(a && b && a.kty === b.kty && a.crv === b.crv && a.x === b.x && a.y === b.y);
}

async function proofFor(configurationId, issuerMetadata, nonce, key) {
  return client.createCredentialRequestJwtProof({
    issuerMetadata,
    credentialConfigurationId: configurationId,
    nonce,
    signer: { method: 'jwk', alg: 'ES256', publicJwk: key },
  });
}

async function report(credentials, keys) {
  const results = [];
  for (const [index, credential] of credentials.entries()) {
    const verified = await verifyCredential(credential);
    results.push({ ...verified, cnf_matches: sameKey(verified.claims.cnf?.jwk, keys[index]) });
  }
  return results;
}

// Sends a credential request encrypted to the issuer's request key and decrypts the response,
// as OpenID4VCI 1.0 requires when a wallet requests an encrypted response. The client
// library does not implement this, so jose does.
async function encryptedCredentialRequest(issuerMetadata, accessToken, body) {
  const metadata = issuerMetadata.credentialIssuer;
  const issuerKey = metadata.credential_request_encryption.jwks.keys[0];
  const { publicKey, privateKey } = await jose.generateKeyPair('ECDH-ES', { crv: 'P-256', extractable: true });
  const responseJwk = { ...(await jose.exportJWK(publicKey)), alg: 'ECDH-ES', use: 'enc' };
  const payload = { ...body, credential_response_encryption: { jwk: responseJwk, enc: 'A256GCM' } };
  const jwe = await new jose.CompactEncrypt(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: 'ECDH-ES', enc: 'A128GCM', kid: issuerKey.kid })
    .encrypt(await jose.importJWK(issuerKey, 'ECDH-ES'));
  const response = await fetch(metadata.credential_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/jwt', authorization: `Bearer ${accessToken}` },
    body: jwe,
  });
  const text = await response.text();
  if (response.status !== 200) {
    throw new Error(`encrypted credential request: ${response.status} ${text}`);
  }
  const contentType = response.headers.get('content-type');
  const { plaintext, protectedHeader } = await jose.compactDecrypt(text, privateKey);
  return {
    contentType,
    enc: protectedHeader.enc,
    body: JSON.parse(new TextDecoder().decode(plaintext)),
  };
}

// Cookies of the browser that logs in, by host.
const cookies = new Map();

function rememberCookies(url, response) {
  const host = new URL(url).host;
  const jar = cookies.get(host) ?? new Map();
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(';');
    const index = pair.indexOf('=');
    jar.set(pair.slice(0, index).trim(), pair.slice(index + 1));
  }
  cookies.set(host, jar);
}

function cookieHeader(url) {
  const jar = cookies.get(new URL(url).host);
  return jar ? [...jar].map(([name, value]) => `${name}=${value}`).join('; ') : '';
}

// Follows redirects like a browser until one leads to the wallet's redirect URI, submitting the
// upstream provider's login form as `account` and its consent form. Returns that last URL.
async function browse(startUrl, account) {
  let url = startUrl;
  let method = 'GET';
  let body;
  for (let step = 0; step < 20; step += 1) {
    if (url.startsWith(redirectUri)) {
      return url;
    }
    const response = await fetch(url, {
      method,
      body,
      redirect: 'manual',
      headers: {
        cookie: cookieHeader(url),
        ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
    });
    rememberCookies(url, response);
    if (response.status >= 300 && response.status < 400) {
      url = new URL(response.headers.get('location'), url).toString();
      method = 'GET';
      body = undefined;
      continue;
    }
    const page = await response.text();
    if (response.status !== 200) {
      throw new Error(`${method} ${url}: ${response.status} ${page.slice(0, 300)}`);
    }
    const action = page.match(/<form[^>]*action="([^"]+)"/);
    const prompt = page.match(/name="prompt" value="([^"]+)"/);
    if (!action || !prompt) {
      throw new Error(`${url} shows no login or consent form: ${page.slice(0, 300)}`);
    }
    const form = new URLSearchParams({ prompt: prompt[1] });
    if (prompt[1] === 'login') {
      form.set('login', account);
      form.set('password', 'any');
    }
    url = new URL(action[1].replaceAll('&amp;', '&'), url).toString();
    method = 'POST';
    body = form.toString();
  }
  throw new Error('the login did not return to the wallet within 20 steps');
}

async function authorizationFlow(offer, issuerMetadata, output) {
  const configurationId = offer.credential_configuration_ids[0];
  const authorization = await client.initiateAuthorization({
    credentialOffer: offer,
    issuerMetadata,
    clientId,
    redirectUri,
    scope: configurationId,
  });
  output.authorization_flow = authorization.authorizationFlow;
  output.pkce_method = authorization.pkce?.codeChallengeMethod;
  const landing = new URL(await browse(authorization.authorizationRequestUrl, login));
  output.authorization_response = Object.fromEntries(landing.searchParams);
  if (!landing.searchParams.get('code')) {
    return;
  }
  const tokenResult = await client.retrieveAuthorizationCodeAccessTokenFromOffer({
    credentialOffer: offer,
    issuerMetadata,
    authorizationCode: landing.searchParams.get('code'),
    pkceCodeVerifier: authorization.pkce?.codeVerifier,
    redirectUri,
  });
  const accessToken = tokenResult.accessTokenResponse.access_token;
  output.token_type = tokenResult.accessTokenResponse.token_type;
  const { c_nonce: nonce } = await client.requestNonce({ issuerMetadata });
  const key = await newKey();
  const proof = await client.createCredentialRequestJwtProof({
    issuerMetadata,
    credentialConfigurationId: configurationId,
    nonce,
    clientId,
    signer: { method: 'jwk', alg: 'ES256', publicJwk: key },
  });
  const result = await client.retrieveCredentials({
    issuerMetadata,
    accessToken,
    credentialConfigurationId: configurationId,
    proofs: { jwt: [proof.jwt] },
  });
  output.configurations[configurationId] = await report(
    result.credentialResponse.credentials.map((entry) => entry.credential),
    [key],
  );
}

async function main() {
  const offer = await client.resolveCredentialOffer(offerLink);
  const issuerMetadata = await client.resolveIssuerMetadata(offer.credential_issuer);
  const output = {
    credential_issuer: offer.credential_issuer,
    version: issuerMetadata.originalDraftVersion,
    configurations: {},
  };

  if (scenario === 'authorization') {
    await authorizationFlow(offer, issuerMetadata, output);
    console.log(JSON.stringify(output));
    return;
  }

  let dpop;
  if (scenario === 'dpop') {
    dpop = { signer: { method: 'jwk', alg: 'ES256', publicJwk: await newKey() } };
  }
  const tokenResult = await client.retrievePreAuthorizedCodeAccessTokenFromOffer({
    credentialOffer: offer,
    issuerMetadata,
    txCode,
    dpop,
  });
  const accessToken = tokenResult.accessTokenResponse.access_token;
  output.token_type = tokenResult.accessTokenResponse.token_type;
  dpop = tokenResult.dpop;

  const configurationIds = scenario === 'single'
    ? offer.credential_configuration_ids
    : offer.credential_configuration_ids.slice(0, 1);
  for (const configurationId of configurationIds) {
    const { c_nonce: nonce } = await client.requestNonce({ issuerMetadata });
    const keyCount = scenario === 'batch' ? 3 : 1;
    const keys = [];
    const proofs = [];
    for (let i = 0; i < keyCount; i += 1) {
      const key = await newKey();
      keys.push(key);
      proofs.push((await proofFor(configurationId, issuerMetadata, nonce, key)).jwt);
    }

    if (scenario === 'encrypted') {
      const response = await encryptedCredentialRequest(issuerMetadata, accessToken, {
        credential_configuration_id: configurationId,
        proofs: { jwt: proofs },
      });
      output.encrypted_response = { content_type: response.contentType, enc: response.enc };
      output.configurations[configurationId] = await report(
        response.body.credentials.map((entry) => entry.credential),
        keys,
      );
      continue;
    }

    const result = await client.retrieveCredentials({
      issuerMetadata,
      accessToken,
      credentialConfigurationId: configurationId,
      proofs: { jwt: proofs },
      dpop,
    });
    dpop = result.dpop ?? dpop;
    const response = result.credentialResponse;
    output.configurations[configurationId] = await report(
      response.credentials.map((entry) => entry.credential),
      keys,
    );
    output.notification_id_present = typeof response.notification_id === 'string';
    if (response.notification_id) {
      await client.sendNotification({
        issuerMetadata,
        accessToken,
        notification: { notificationId: response.notification_id, event: 'credential_accepted' },
        dpop,
      });
      output.notification_sent = true;
    }
  }
  console.log(JSON.stringify(output));
}

main().catch((error) => {
  const detail = error?.response?.body ?? error?.errorResponse ?? undefined;
  console.log(JSON.stringify({ error: String(error?.message ?? error), cause: error?.cause ? String(error.cause) : undefined, detail }));
  process.exit(1);
});
