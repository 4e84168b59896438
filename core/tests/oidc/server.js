// Test-only, Keycloak-shaped OpenID Connect provider for Tessera's integration tests.
// NOT for production: any non-empty password is accepted for the fixed test users, and
// /test/* endpoints mint arbitrary tokens. See README.md.
//
// stdout carries exactly one line, {"origin":"http://127.0.0.1:PORT"}, once ready.
// Everything else (including oidc-provider's console.info notices) goes to stderr.

import * as crypto from 'node:crypto';
import * as http from 'node:http';
import * as querystring from 'node:querystring';

import * as jose from 'jose';
import Provider, { errors } from 'oidc-provider';
// Deep imports (oidc-provider has no "exports" map; versions are pinned exactly).
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';
import { confirm as endSessionConfirm } from 'oidc-provider/lib/actions/end_session.js';

// ---------------------------------------------------------------------------------------------
// stdout discipline: keep stdout for the single ready line.
const writeStdout = process.stdout.write.bind(process.stdout);
const toStderr = (...args) => console.error(...args);
console.log = toStderr;
console.info = toStderr;
console.debug = toStderr;

const log = (...args) => console.error('[oidc-test]', ...args);

// ---------------------------------------------------------------------------------------------
// Static data

const REALMS = ['acme', 'globex'];
const CLIENT_ID = 'tessera';
const CLIENT_SECRET = 'tessera-secret';
// Resource indicator used (by default) for every access token; its audience is Keycloak's "account".
const RESOURCE = 'urn:tessera:account';
const RESOURCE_SCOPES = 'openid profile email roles organization offline_access';
const ACCESS_TOKEN_TTL = Number(process.env.OIDC_ACCESS_TOKEN_TTL || 300);
const ID_TOKEN_TTL = Number(process.env.OIDC_ID_TOKEN_TTL || 300);

// username -> definition. Account id (the `sub`) is `user-<username>`.
const USERS = {
  alice: { realmRoles: ['clinician'] },
  bob: { realmRoles: ['front-desk'] },
  carol: { realmRoles: [], clientRoles: ['org-admin'] },
  dave: { realmRoles: ['offline_access'] },
  pat: { realmRoles: ['patient'], fhirUser: 'Patient/pat-1' },
  multi: { realmRoles: ['clinician'], organizations: ['acme', 'globex'] },
};
const SUB_PREFIX = 'user-';

function userBySub(sub) {
  if (typeof sub !== 'string' || !sub.startsWith(SUB_PREFIX)) return undefined;
  const username = sub.slice(SUB_PREFIX.length);
  return Object.hasOwn(USERS, username) ? username : undefined;
}

const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);

// All claims of a user in a realm (ID token, userinfo and access token all draw from this).
function userClaims(realm, username) {
  const u = USERS[username];
  return {
    sub: `${SUB_PREFIX}${username}`,
    preferred_username: username,
    email: `${username}@${realm}.example`,
    email_verified: true,
    name: `${cap(username)} ${cap(realm)}`,
    given_name: cap(username),
    family_name: cap(realm),
    realm_access: { roles: [...u.realmRoles] },
    resource_access: { [CLIENT_ID]: { roles: [...(u.clientRoles || [])] } },
    organization: [...(u.organizations || [realm])],
    ...(u.fhirUser ? { fhirUser: u.fhirUser } : {}),
  };
}

// Claims copied into access tokens (besides iss/sub/aud/exp/iat/jti/scope/client_id).
const ACCESS_TOKEN_CLAIMS = [
  'preferred_username', 'email', 'email_verified', 'name', 'given_name', 'family_name',
  'realm_access', 'resource_access', 'organization', 'fhirUser',
];

function resourceServerInfo() {
  return {
    scope: RESOURCE_SCOPES,
    audience: 'account', // what Keycloak puts in `aud`
    accessTokenTTL: ACCESS_TOKEN_TTL,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: 'RS256' } },
  };
}

// ---------------------------------------------------------------------------------------------
// Keys

const kidCounters = new Map();
async function newSigningKey(label) {
  const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
  const n = (kidCounters.get(label) || 0) + 1;
  kidCounters.set(label, n);
  const kid = `${label}-${n}-${crypto.randomBytes(4).toString('hex')}`;
  const jwk = { ...(await jose.exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
  const keyObject = crypto.createPrivateKey({ key: jwk, format: 'jwk' });
  const publicKeyObject = crypto.createPublicKey(keyObject);
  return {
    kid,
    jwk,
    keyObject,
    publicPem: publicKeyObject.export({ type: 'spki', format: 'pem' }),
  };
}

// ---------------------------------------------------------------------------------------------
// Realms

const COOKIE_KEYS = [crypto.randomBytes(32).toString('hex')];
const realms = new Map();
const jwksRequests = Object.fromEntries(REALMS.map((r) => [r, 0]));
let ORIGIN;

function isLoopbackUri(value) {
  const url = URL.parse(value);
  return !!url && url.protocol === 'http:' && url.hostname === '127.0.0.1' && !url.hash;
}

function createProvider(realm) {
  const { name } = realm;
  const issuer = `${ORIGIN}/realms/${name}`;
  const base = `/realms/${name}`;

  const provider = new Provider(issuer, {
    adapter: (model) => new MemoryAdapter(model, realm.store),
    // newest key first: oidc-provider signs with the first matching key
    jwks: { keys: realm.keys.map((k) => k.jwk) },
    clients: [{
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      client_name: 'Tessera',
      grant_types: ['authorization_code', 'refresh_token', 'password'],
      response_types: ['code'],
      // placeholders: any http://127.0.0.1:<port>/... is accepted, see redirectUriAllowed below
      redirect_uris: ['http://127.0.0.1/callback', 'http://127.0.0.1/placeholder'],
      post_logout_redirect_uris: ['http://127.0.0.1/'],
      token_endpoint_auth_method: 'client_secret_basic', // client_secret_post is accepted too
      id_token_signed_response_alg: 'RS256',
    }],
    clientDefaults: { id_token_signed_response_alg: 'RS256' },
    responseTypes: ['code'],
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    pkce: { required: () => true }, // S256 is the only method oidc-provider 9 supports
    cookies: {
      keys: COOKIE_KEYS,
      names: {
        session: `op_${name}_session`,
        interaction: `op_${name}_interaction`,
        resume: `op_${name}_resume`,
      },
      long: { httpOnly: true, sameSite: 'lax', path: `${base}/` },
      short: { httpOnly: true, sameSite: 'lax', path: `${base}/` },
    },
    routes: {
      authorization: '/protocol/openid-connect/auth',
      token: '/protocol/openid-connect/token',
      jwks: '/protocol/openid-connect/certs',
      userinfo: '/protocol/openid-connect/userinfo',
      end_session: '/protocol/openid-connect/logout',
      revocation: '/protocol/openid-connect/revoke',
      introspection: '/protocol/openid-connect/token/introspect',
    },
    scopes: ['openid', 'offline_access', 'profile', 'email', 'roles', 'organization'],
    claims: {
      acr: null,
      sid: null,
      iss: null,
      openid: ['sub', 'auth_time', ...ACCESS_TOKEN_CLAIMS],
      profile: ['name', 'given_name', 'family_name', 'preferred_username'],
      email: ['email', 'email_verified'],
      roles: ['realm_access', 'resource_access'],
      organization: ['organization'],
    },
    conformIdTokenClaims: false,
    async findAccount(ctx, sub) {
      const username = userBySub(sub);
      if (!username) return undefined;
      return {
        accountId: sub,
        async claims() { return userClaims(name, username); },
      };
    },
    // Keycloak does not ask a first-party confidential client for consent: grant what is asked.
    async loadExistingGrant(ctx) {
      const { oidc } = ctx;
      const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
      let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
      if (!grant) {
        if (!oidc.session.accountId) return undefined;
        grant = new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.session.accountId });
      }
      const requested = oidc.requestParamScopes;
      grant.addOIDCScope([...requested].join(' '));
      const claims = oidc.requestParamClaims;
      if (claims?.size) grant.addOIDCClaims([...claims]);
      for (const [indicator, rs] of Object.entries(oidc.resourceServers || {})) {
        const scopes = [...requested].filter((s) => rs.scopes.has(s));
        grant.addResourceScope(indicator, scopes.join(' '));
      }
      await grant.save();
      return grant;
    },
    interactions: {
      url: (ctx, interaction) => `${base}/interaction/${interaction.uid}`,
    },
    features: {
      devInteractions: { enabled: false },
      introspection: { enabled: false },
      revocation: { enabled: true },
      userinfo: { enabled: true }, // served by server.js itself (JWT access tokens), see below
      rpInitiatedLogout: {
        enabled: true,
        // never rendered: the end_session response is turned into an automatic confirm below
        async logoutSource(ctx, form) { ctx.body = `<!DOCTYPE html><html><body>${form}</body></html>`; },
        async postLogoutSuccessSource(ctx) {
          ctx.type = 'html';
          ctx.body = '<!DOCTYPE html><html><body><h1>Signed out</h1></body></html>';
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => RESOURCE,
        useGrantedResource: async () => true,
        async getResourceServerInfo(ctx, indicator) {
          if (indicator !== RESOURCE) throw new errors.InvalidTarget();
          return resourceServerInfo();
        },
      },
    },
    async extraTokenClaims(ctx, token) {
      const username = userBySub(token.accountId);
      if (!username) return undefined;
      const all = userClaims(name, username);
      const extra = { azp: token.clientId, typ: 'Bearer' };
      for (const claim of ACCESS_TOKEN_CLAIMS) {
        if (all[claim] !== undefined) extra[claim] = all[claim];
      }
      return extra;
    },
    formats: {
      customizers: {
        // Keycloak's access tokens carry typ "JWT" in the header (oidc-provider's default is at+jwt)
        async jwt(ctx, token, jwt) {
          jwt.header = { typ: 'JWT' };
        },
      },
    },
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    ttl: {
      AccessToken: ACCESS_TOKEN_TTL,
      AuthorizationCode: 60,
      IdToken: ID_TOKEN_TTL,
      RefreshToken: 30 * 60,
      Interaction: 60 * 60,
      Session: 10 * 60 * 60,
      Grant: 10 * 60 * 60,
    },
    clientBasedCORS: () => false,
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = `<!DOCTYPE html><html><body><h1>error</h1>${Object.entries(out)
        .map(([k, v]) => `<p><b>${escapeHtml(k)}</b>: <span id="${escapeHtml(k)}">${escapeHtml(v)}</span></p>`)
        .join('')}</body></html>`;
    },
  });

  // Any http://127.0.0.1:<port>/... redirect / post-logout redirect is allowed (Tessera's test
  // servers run on ephemeral ports).
  provider.Client.prototype.redirectUriAllowed = function redirectUriAllowed(value) {
    return isLoopbackUri(value) || this.redirectUris.includes(value);
  };
  provider.Client.prototype.postLogoutRedirectUriAllowed = function postLogoutAllowed(value) {
    return isLoopbackUri(value) || this.postLogoutRedirectUris.includes(value);
  };

  // RP-initiated logout without a confirmation page: turn the end_session response (logout
  // prompt, or the auto-submitting form when there is no OP session) into oidc-provider's own
  // confirm step with logout=yes, which ends the session and 303-redirects to
  // post_logout_redirect_uri?state=... (or to .../logout/success).
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.oidc?.route === 'end_session' && ctx.status === 200 && ctx.oidc.session?.state?.secret) {
      // drop the session cookie just written by the end_session step; confirm clears it
      const sessionCookie = provider.cookieName('session');
      const setCookie = [ctx.response.get('set-cookie') || []].flat()
        .filter((c) => !c.startsWith(`${sessionCookie}=`) && !c.startsWith(`${sessionCookie}.sig=`));
      ctx.remove('set-cookie');
      if (setCookie.length) ctx.set('set-cookie', setCookie);
      ctx.oidc.params.logout = 'yes';
      ctx.body = null;
      await endSessionConfirm.at(-1)(ctx);
    }
  });

  // Keycloak's direct access grant (grant_type=password), minted with the provider's own models.
  provider.registerGrantType('password', async (ctx) => {
    const { client, params } = ctx.oidc;
    const { username, password } = params;
    if (!username || !password) {
      throw new errors.InvalidRequest('username and password are required');
    }
    if (!Object.hasOwn(USERS, username)) {
      throw new errors.CustomOIDCProviderError('invalid_grant', 'Invalid user credentials');
    }
    const accountId = `${SUB_PREFIX}${username}`;
    const account = { accountId, claims: async () => userClaims(name, username) };
    ctx.oidc.entity('Account', account);

    const requested = new Set((params.scope || '').split(' ').filter(Boolean));
    // Keycloak's default client scopes
    requested.add('profile');
    requested.add('email');
    const known = new Set(['openid', 'offline_access', 'profile', 'email', 'roles', 'organization']);
    const scopes = [...requested].filter((s) => known.has(s));

    const grant = new provider.Grant({ accountId, clientId: client.clientId });
    grant.addOIDCScope(scopes.join(' '));
    const rsScopes = new Set(RESOURCE_SCOPES.split(' '));
    grant.addResourceScope(RESOURCE, scopes.filter((s) => rsScopes.has(s)).join(' '));
    const grantId = await grant.save();
    ctx.oidc.entity('Grant', grant);

    const at = new provider.AccessToken({
      accountId, client, grantId, gty: 'password',
    });
    at.resourceServer = new provider.ResourceServer(RESOURCE, resourceServerInfo());
    at.scope = grant.getResourceScopeFiltered(RESOURCE, scopes.filter((s) => at.resourceServer.scopes.has(s)));
    ctx.oidc.entity('AccessToken', at);
    const accessToken = await at.save();

    const rt = new provider.RefreshToken({
      accountId,
      client,
      grantId,
      gty: 'password',
      resource: RESOURCE,
      rotations: 0,
      scope: scopes.join(' '),
      authTime: Math.floor(Date.now() / 1000),
    });
    ctx.oidc.entity('RefreshToken', rt);
    const refreshToken = await rt.save();

    let idToken;
    if (requested.has('openid')) {
      const token = new provider.IdToken({
        ...await account.claims('id_token', scopes.join(' '), {}, []),
        sub: accountId,
        auth_time: Math.floor(Date.now() / 1000),
      }, { ctx });
      token.scope = grant.getOIDCScopeFiltered(new Set(scopes));
      idToken = await token.issue({ use: 'idtoken' });
    }

    ctx.body = {
      access_token: accessToken,
      expires_in: at.expiration,
      refresh_token: refreshToken,
      token_type: 'Bearer',
      ...(idToken ? { id_token: idToken } : {}),
      scope: at.scope,
    };
  }, ['username', 'password', 'scope']);

  provider.on('server_error', (ctx, err) => log(`[${name}] server_error`, ctx?.path, err));
  for (const ev of ['grant.error', 'authorization.error', 'end_session.error', 'userinfo.error']) {
    provider.on(ev, (ctx, err) => log(`[${name}] ${ev}:`, err?.error, err?.error_description || err?.message));
  }

  return provider;
}

async function createRealm(name) {
  const realm = {
    name,
    keys: [await newSigningKey(name)], // newest first
    otherKey: await newSigningKey(`${name}-other`), // never published in any JWKS
    store: new LRU({ maxSize: 100000 }),
  };
  realm.provider = createProvider(realm);
  realm.callback = realm.provider.callback();
  realms.set(name, realm);
  return realm;
}

async function rotateRealm(realm) {
  const key = await newSigningKey(realm.name);
  realm.keys.unshift(key);
  realm.provider = createProvider(realm);
  realm.callback = realm.provider.callback();
  log(`[${realm.name}] rotated signing key; now signing with kid=${key.kid}; jwks has ${realm.keys.length} keys`);
  return key.kid;
}

// ---------------------------------------------------------------------------------------------
// Helpers

function escapeHtml(v) {
  return String(v).replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  })[c]);
}

function send(res, status, body, type = 'application/json') {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': `${type}; charset=utf-8`,
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 1024 * 1024) throw new Error('body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const b64u = (input) => Buffer.from(input).toString('base64url');

// Compact JWS of exactly `claims`. The signature is chosen by the final header's alg:
// "none" -> empty signature; "HS256|384|512" -> HMAC keyed with the realm public key PEM
// (the key-confusion attack); "RS384|RS512" / "PS256|384|512" -> that algorithm with the chosen
// RSA key; anything else (RS256, or a bogus alg) -> RSASSA-PKCS1-v1_5 SHA-256 with the chosen key.
function signRaw(realm, claims, header = {}, which = 'realm') {
  const signing = which === 'other' ? realm.otherKey : realm.keys[0];
  const fullHeader = { alg: 'RS256', typ: 'JWT', kid: realm.keys[0].kid, ...header };
  for (const [k, v] of Object.entries(fullHeader)) if (v === null) delete fullHeader[k];
  const input = `${b64u(JSON.stringify(fullHeader))}.${b64u(JSON.stringify(claims))}`;
  let sig;
  const { alg } = fullHeader;
  if (alg === 'none') {
    sig = '';
  } else if (typeof alg === 'string' && /^HS(256|384|512)$/.test(alg)) {
    sig = crypto.createHmac(`sha${alg.slice(2)}`, realm.keys[0].publicPem).update(input).digest('base64url');
  } else if (typeof alg === 'string' && /^PS(256|384|512)$/.test(alg)) {
    sig = crypto.sign(`sha${alg.slice(2)}`, Buffer.from(input), {
      key: signing.keyObject,
      padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
      saltLength: Number(alg.slice(2)) / 8,
    }).toString('base64url');
  } else {
    const hash = typeof alg === 'string' && /^RS(384|512)$/.test(alg) ? `sha${alg.slice(2)}` : 'sha256';
    sig = crypto.sign(hash, Buffer.from(input), signing.keyObject).toString('base64url');
  }
  return `${input}.${sig}`;
}

// ---------------------------------------------------------------------------------------------
// Login interaction (plain HTML forms; see README.md)

function loginPage(realm, uid, { error, username = '' } = {}) {
  const action = `/realms/${realm.name}/interaction/${uid}`;
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Sign in to ${escapeHtml(realm.name)}</title></head>
<body>
<h1>Sign in to ${escapeHtml(realm.name)}</h1>
${error ? `<p id="error">${escapeHtml(error)}</p>` : ''}
<form id="kc-form-login" method="post" action="${escapeHtml(action)}">
  <input type="text" name="username" value="${escapeHtml(username)}" autofocus>
  <input type="password" name="password">
  <button type="submit" name="login" value="Sign In">Sign In</button>
</form>
<p><a href="${escapeHtml(`${action}/abort`)}">Cancel</a></p>
</body></html>`;
}

async function handleInteraction(realm, req, res, uid, action) {
  const { provider } = realm;
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    send(res, 400, { error: 'invalid_request', error_description: 'interaction uid mismatch' });
    return;
  }
  const { prompt } = details;

  if (action === 'abort') {
    await provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
    return;
  }

  if (prompt.name === 'consent') {
    // Not expected (loadExistingGrant grants everything), but approve automatically anyway.
    const { params, session } = details;
    let grant = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
    grant ||= new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const d = prompt.details;
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(d.missingResourceScopes || {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }

  if (prompt.name !== 'login') {
    send(res, 501, { error: 'unsupported prompt', prompt: prompt.name });
    return;
  }

  if (req.method === 'GET') {
    send(res, 200, loginPage(realm, uid), 'text/html');
    return;
  }

  const form = querystring.parse(await readBody(req));
  const username = String(form.username ?? form.login ?? '').trim();
  const password = String(form.password ?? '');
  if (!Object.hasOwn(USERS, username) || !password) {
    log(`[${realm.name}] failed login for ${JSON.stringify(username)}`);
    send(res, 401, loginPage(realm, uid, { error: 'Invalid username or password.', username }), 'text/html');
    return;
  }
  await provider.interactionFinished(req, res, {
    login: { accountId: `${SUB_PREFIX}${username}`, amr: ['pwd'] },
  }, { mergeWithLastSubmission: false });
}

// ---------------------------------------------------------------------------------------------
// UserInfo (JWT access tokens are not accepted by oidc-provider's own userinfo endpoint)

async function handleUserinfo(realm, req, res) {
  let token;
  const auth = req.headers.authorization || '';
  if (/^bearer /i.test(auth)) token = auth.slice(7).trim();
  if (!token && req.method === 'POST') {
    token = querystring.parse(await readBody(req)).access_token;
  }
  const fail = (desc) => {
    res.setHeader('www-authenticate', `Bearer realm="${realm.name}", error="invalid_token", error_description="${desc}"`);
    send(res, 401, { error: 'invalid_token', error_description: desc });
  };
  if (!token) { fail('missing access token'); return; }
  let payload;
  try {
    const jwks = jose.createLocalJWKSet({
      keys: realm.keys.map(({ jwk: { kty, n, e, kid, alg, use } }) => ({ kty, n, e, kid, alg, use })),
    });
    ({ payload } = await jose.jwtVerify(token, jwks, {
      issuer: `${ORIGIN}/realms/${realm.name}`,
      algorithms: ['RS256'],
    }));
  } catch (err) {
    fail(`token verification failed: ${err.code || err.message}`);
    return;
  }
  const username = userBySub(payload.sub);
  if (!username) { fail('unknown subject'); return; }
  send(res, 200, userClaims(realm.name, username));
}

// ---------------------------------------------------------------------------------------------
// HTTP server

async function route(req, res) {
  const url = new URL(req.url, ORIGIN);
  const path = url.pathname;
  let m;

  if (path === '/test/stats' && req.method === 'GET') {
    send(res, 200, { jwks_requests: { ...jwksRequests } });
    return;
  }

  if ((m = path.match(/^\/test\/realms\/([^/]+)\/(sign|public-key\.pem|rotate)$/))) {
    const realm = realms.get(m[1]);
    if (!realm) { send(res, 404, { error: 'unknown realm' }); return; }
    const op = m[2];
    if (op === 'public-key.pem' && req.method === 'GET') {
      send(res, 200, realm.keys[0].publicPem, 'application/x-pem-file');
      return;
    }
    if (op === 'rotate' && req.method === 'POST') {
      await readBody(req);
      const kid = await rotateRealm(realm);
      send(res, 200, { kid });
      return;
    }
    if (op === 'sign' && req.method === 'POST') {
      let body;
      try {
        body = JSON.parse(await readBody(req) || '{}');
      } catch {
        send(res, 400, { error: 'invalid JSON body' });
        return;
      }
      const { claims, header = {}, key = 'realm' } = body;
      if (claims === null || typeof claims !== 'object' || (key !== 'realm' && key !== 'other')) {
        send(res, 400, { error: 'expected {"claims": {...}, "header"?: {...}, "key"?: "realm"|"other"}' });
        return;
      }
      send(res, 200, signRaw(realm, claims, header, key), 'text/plain');
      return;
    }
    send(res, 405, { error: 'method not allowed' });
    return;
  }

  if ((m = path.match(/^\/realms\/([^/]+)(\/.*)?$/))) {
    const realm = realms.get(m[1]);
    if (!realm) { send(res, 404, { error: 'Realm does not exist' }); return; }
    const rest = m[2] || '/';

    let im;
    if ((im = rest.match(/^\/interaction\/([^/]+)(\/abort)?$/))) {
      await handleInteraction(realm, req, res, im[1], im[2] ? 'abort' : undefined);
      return;
    }
    if (rest === '/protocol/openid-connect/userinfo' && (req.method === 'GET' || req.method === 'POST')) {
      await handleUserinfo(realm, req, res);
      return;
    }
    if (rest === '/protocol/openid-connect/certs' && req.method === 'GET') {
      jwksRequests[realm.name] += 1;
    }

    req.originalUrl = req.url;
    req.url = rest + url.search;
    realm.callback(req, res);
    return;
  }

  if (path === '/' || path === '/health') {
    send(res, 200, { status: 'ok', realms: [...realms.keys()] });
    return;
  }
  send(res, 404, { error: 'not found' });
}

const server = http.createServer((req, res) => {
  route(req, res).catch((err) => {
    log('request failed', req.method, req.url, err);
    if (!res.headersSent) {
      const status = err.statusCode || err.status || 500;
      send(res, status, { error: err.error || 'server_error', error_description: err.error_description || err.message });
    } else {
      res.destroy();
    }
  });
});

function shutdown(reason) {
  log(`exiting: ${reason}`);
  server.close();
  process.exit(0);
}

process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
if (!process.env.OIDC_IGNORE_STDIN) {
  process.stdin.on('end', () => shutdown('stdin closed'));
  process.stdin.on('close', () => shutdown('stdin closed'));
  process.stdin.on('error', () => shutdown('stdin error'));
  process.stdin.resume();
}

const port = Number(process.env.PORT || 0);
server.listen(port, '127.0.0.1', async () => {
  try {
    ORIGIN = `http://127.0.0.1:${server.address().port}`;
    for (const name of REALMS) await createRealm(name);
    log(`listening on ${ORIGIN}; realms: ${REALMS.join(', ')}`);
    writeStdout(`${JSON.stringify({ origin: ORIGIN })}\n`);
  } catch (err) {
    log('startup failed', err);
    process.exit(1);
  }
});
