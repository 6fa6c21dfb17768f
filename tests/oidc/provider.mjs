// A real OpenID Provider (npm `oidc-provider`, pinned in package.json) for
// the gatehouse-oidc integration tests (host/oidc/tests/provider.rs).
//
// `node provider.mjs` listens on 127.0.0.1 at a free port, prints one JSON
// line `{"issuer": "http://127.0.0.1:PORT"}` on stdout once ready, and exits
// when its stdin closes (so a test that dies takes the provider with it).
//
// What it serves:
// * signing keys generated at start: RSA (RS256, ID tokens) and P-256
//   (ES256, JWT access tokens);
// * clients: `gatehouse-web` (confidential, client_secret_basic),
//   `gatehouse-web-post` (confidential, client_secret_post) and
//   `gatehouse-cli` (public, native: any loopback port); PKCE is required
//   for every client;
// * accounts alice / bob / carol / dave with email and groups (and a
//   Keycloak-style `realm_access.roles`), in ID tokens and in JWT access
//   tokens for the resource `urn:gatehouse:api` (audience `gatehouse-api`);
// * headless login: the interaction URL logs in the account named by the
//   authorization request's `login_hint` (default alice), grants what the
//   client asked for (consent) and redirects straight back. A
//   `login_hint` of `deny` makes the login fail with `access_denied`.
import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import Provider from 'oidc-provider';

const ACCOUNTS = {
  alice: { email: 'alice@example.com', groups: ['gatehouse-admins', 'engineering'] },
  bob: { email: 'bob@example.com', groups: ['approver-prod'] },
  carol: { email: 'carol@example.com', groups: ['engineering'] },
  dave: { email: 'dave@example.com', groups: [], email_verified: false },
};

const RESOURCE = 'urn:gatehouse:api';
const API_AUDIENCE = 'gatehouse-api';

function jwk(type, options, kid, alg) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
}

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'gatehouse-web',
      client_secret: 'web-secret',
      token_endpoint_auth_method: 'client_secret_basic',
      redirect_uris: ['http://127.0.0.1:9/auth/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    },
    {
      client_id: 'gatehouse-web-post',
      client_secret: 'web-post-secret',
      token_endpoint_auth_method: 'client_secret_post',
      redirect_uris: ['http://127.0.0.1:9/auth/callback'],
      response_types: ['code'],
    },
    {
      client_id: 'gatehouse-cli',
      token_endpoint_auth_method: 'none',
      application_type: 'native',
      redirect_uris: ['http://127.0.0.1/callback'],
      response_types: ['code'],
    },
  ],
  jwks: {
    keys: [
      jwk('rsa', { modulusLength: 2048 }, 'rsa-1', 'RS256'),
      jwk('ec', { namedCurve: 'P-256' }, 'ec-1', 'ES256'),
    ],
  },
  cookies: { keys: ['gatehouse-oidc-test-cookie-key'] },
  pkce: { required: () => true },
  // Claims in the ID token itself, not only at userinfo.
  conformIdTokenClaims: false,
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups', 'realm_access'],
  },
  scopes: ['openid', 'email', 'profile', 'groups', 'offline_access'],
  async findAccount(ctx, sub) {
    const account = ACCOUNTS[sub];
    if (!account) return undefined;
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          name: sub[0].toUpperCase() + sub.slice(1),
          email: account.email,
          email_verified: account.email_verified ?? true,
          groups: account.groups,
          realm_access: { roles: account.groups },
        };
      },
    };
  },
  interactions: {
    url: (ctx, interaction) => `/interaction/${interaction.uid}`,
  },
  features: {
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resourceIndicator) => {
        if (resourceIndicator !== RESOURCE) throw new Error('unknown resource');
        return {
          scope: 'openid email profile groups',
          audience: API_AUDIENCE,
          accessTokenTTL: 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        };
      },
    },
  },
  async extraTokenClaims(ctx, token) {
    const account = ACCOUNTS[token.accountId];
    if (!account) return undefined;
    return { email: account.email, groups: account.groups };
  },
  ttl: {
    AccessToken: 300,
    AuthorizationCode: 60,
    IdToken: 300,
    Interaction: 300,
    Session: 600,
    Grant: 600,
    RefreshToken: 600,
  },
});

// Headless login and consent: finish every interaction at once, logging in
// the hinted account and granting whatever the client asked for.
provider.use(async (ctx, next) => {
  const match = /^\/interaction\/([^/]+)$/.exec(ctx.path);
  if (!match || ctx.method !== 'GET') return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const { prompt, params, session } = details;
  let result;
  if (prompt.name === 'login') {
    const hint = params.login_hint || 'alice';
    result = hint === 'deny' || !ACCOUNTS[hint]
      ? { error: 'access_denied', error_description: 'the test provider refused this login' }
      : { login: { accountId: hint } };
  } else if (prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    result = { consent: { grantId: await grant.save() } };
  } else {
    result = { error: 'access_denied', error_description: `unexpected prompt ${prompt.name}` };
  }
  ctx.respond = false;
  await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
});

server.on('request', provider.callback());
process.stdout.write(`${JSON.stringify({ issuer })}\n`);
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
