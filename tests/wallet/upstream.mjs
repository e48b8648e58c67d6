// A stand-in for the upstream OpenID provider of the authorization code flow, such as a broker
// for Swedish e-legitimation: oidc-provider (npm) with its development login pages. An account
// logs in with its personal identity number as the login name, and the ID token carries it in
// the personal_identity_number claim.
//
// Usage: node upstream.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI
// Prints "ready" on standard output once it listens on 127.0.0.1:PORT.

import Provider from 'oidc-provider';

const [port, clientId, clientSecret, redirectUri] = process.argv.slice(2);
if (!redirectUri) {
  console.error('usage: node upstream.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI');
  process.exit(2);
}

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  claims: { openid: ['sub', 'personal_identity_number'] },
  // The claim goes into the ID token, which is all intyg reads.
  conformIdTokenClaims: false,
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, personal_identity_number: id };
      },
    };
  },
});
// The test runs on http://127.0.0.1, where secure cookies cannot be set.
provider.proxy = false;

provider.listen(Number(port), '127.0.0.1', () => {
  console.log('ready');
});
