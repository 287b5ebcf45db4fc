// RequestAuthentication with real signed JWTs (keys made here with jose): where tokens are found, what is accepted
// and refused (with Envoy's reasons), the identity handed to AuthorizationPolicy, the header edits, and a key
// rotation picked up by asking the key source again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exportJWK, generateKeyPair, SignJWT, type JSONWebKeySet, type JWTPayload } from 'jose';
import { authenticateRequest, KeyFetchError, type JwtRuleSpec, type KeySource, type RequestAuthnPolicy } from './jwt-authn.js';

const ISSUER = 'https://issuer.test';

async function keyPair(kid: string) {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

type Key = Awaited<ReturnType<typeof keyPair>>;

function sign(key: Key, claims: JWTPayload, opts: { iss?: string; expIn?: number } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: key.kid }).setIssuer(opts.iss ?? ISSUER).setSubject('alice')
    .setIssuedAt(now).setExpirationTime(now + (opts.expIn ?? 600)).sign(key.privateKey);
}

const policy = (rule: Partial<JwtRuleSpec> = {}): RequestAuthnPolicy => ({ namespace: 'shop', name: 'jwt', spec: { jwtRules: [{ issuer: ISSUER, jwksUri: 'http://jwks.shop/keys', ...rule }] } });
const keysOf = (...ks: Key[]): JSONWebKeySet => ({ keys: ks.map((k) => k.jwk) });

test('RequestAuthentication: tokens accepted and refused as Istio does', async () => {
  const k1 = await keyPair('k1');
  const other = await keyPair('k1');
  const source: KeySource = async () => keysOf(k1);
  const bearer = (t: string) => ({ path: '/', headers: { authorization: `Bearer ${t}` } });

  const ok = await authenticateRequest([policy({ audiences: ['shop'] })], bearer(await sign(k1, { aud: ['shop', 'web'], azp: 'web-app', groups: ['admins'], scope: 'read write' })), source);
  assert.equal(ok.kind, 'authenticated');
  assert.ok(ok.kind === 'authenticated');
  assert.equal(ok.auth.principal, `${ISSUER}/alice`);
  assert.deepEqual(ok.auth.audiences, ['shop', 'web']);
  assert.equal(ok.auth.presenter, 'web-app');
  assert.deepEqual(ok.auth.claims['groups'], ['admins']);
  assert.deepEqual(ok.auth.claims['scope'], ['read', 'write'], 'scope is split on spaces');
  assert.deepEqual(ok.removeHeaders, ['authorization'], 'the token is not forwarded by default');
  assert.equal(ok.policy, 'shop/jwt');

  const refused = async (token: string, rule: Partial<JwtRuleSpec> = {}) => {
    const r = await authenticateRequest([policy(rule)], bearer(token), source);
    assert.equal(r.kind, 'refused', JSON.stringify(r));
    return r.kind === 'refused' ? r.reason : '';
  };
  assert.equal(await refused(await sign(k1, {}, { expIn: -120 })), 'Jwt is expired');
  assert.equal(await refused(await sign(k1, {}, { iss: 'https://elsewhere.test' })), 'Jwt issuer is not configured');
  assert.equal(await refused(await sign(k1, { aud: 'other' }), { audiences: ['shop'] }), 'Audiences in Jwt are not allowed');
  assert.equal(await refused(await sign(other, {})), 'Jwt verification fails', 'signed by a key of the same kid that is not the issuer\'s');
  const good = await sign(k1, { role: 'user' });
  const [h, , s] = good.split('.');
  const forged = `${h}.${Buffer.from(JSON.stringify({ iss: ISSUER, sub: 'alice', role: 'admin', exp: Math.floor(Date.now() / 1000) + 600 })).toString('base64url')}.${s}`;
  assert.equal(await refused(forged), 'Jwt verification fails', 'a tampered payload');
  assert.match(await refused('not-a-jwt'), /^Jwt is not in the form/);
  // Within 60 s of clock skew an expired token still passes.
  assert.equal((await authenticateRequest([policy()], bearer(await sign(k1, {}, { expIn: -30 })), source)).kind, 'authenticated');

  // No token: passes, with no identity (AuthorizationPolicy decides).
  assert.deepEqual(await authenticateRequest([policy()], { path: '/', headers: {} }, source), { kind: 'none' });
  assert.deepEqual(await authenticateRequest([policy()], { path: '/', headers: { authorization: 'Basic abc' } }, source), { kind: 'none' });
  assert.deepEqual(await authenticateRequest([], bearer(good), source), { kind: 'none' }, 'no RequestAuthentication: tokens are not looked at');
});

test('RequestAuthentication: token locations, forwarding and output headers', async () => {
  const k1 = await keyPair('k1');
  const source: KeySource = async () => keysOf(k1);
  const token = await sign(k1, { org: { team: 'payments' }, perms: 'a b' });
  const at = async (rule: Partial<JwtRuleSpec>, req: { path: string; headers: Record<string, string> }) => authenticateRequest([policy(rule)], req, source);
  assert.equal((await at({}, { path: `/x?access_token=${token}`, headers: {} })).kind, 'authenticated', 'the default query parameter');
  assert.equal((await at({ fromHeaders: [{ name: 'X-Jwt', prefix: 'Token ' }] }, { path: '/', headers: { 'x-jwt': `Token ${token}` } })).kind, 'authenticated');
  assert.deepEqual(await at({ fromHeaders: [{ name: 'X-Jwt', prefix: 'Token ' }] }, { path: '/', headers: { authorization: `Bearer ${token}` } }), { kind: 'none' }, 'explicit locations replace the defaults');
  assert.equal((await at({ fromParams: ['jwt'] }, { path: `/?jwt=${token}`, headers: {} })).kind, 'authenticated');
  assert.equal((await at({ fromCookies: ['session'] }, { path: '/', headers: { cookie: `a=1; session=${token}` } })).kind, 'authenticated');
  const out = await at({ forwardOriginalToken: true, outputPayloadToHeader: 'X-Jwt-Payload', outputClaimToHeaders: [{ header: 'X-Team', claim: 'org.team' }, { header: 'X-Missing', claim: 'nope' }], spaceDelimitedClaims: ['perms'] },
    { path: '/', headers: { authorization: `Bearer ${token}`, 'x-team': 'spoofed', 'x-missing': 'spoofed' } });
  assert.ok(out.kind === 'authenticated');
  assert.deepEqual(out.removeHeaders, ['x-team', 'x-missing'], 'the token stays; claim headers a caller sent are dropped');
  assert.deepEqual(out.setHeaders, { 'x-jwt-payload': token.split('.')[1], 'x-team': 'payments' });
  assert.deepEqual(out.auth.claims['perms'], ['a', 'b']);
});

test('RequestAuthentication: a rotated key is fetched again; an unreachable JWKS refuses tokens, not tokenless requests', async () => {
  const k1 = await keyPair('k1');
  const k2 = await keyPair('k2');
  const asked: boolean[] = [];
  let published = keysOf(k1);
  let cached = published;
  const source: KeySource = async (_rule, refresh) => {
    asked.push(refresh);
    if (refresh) cached = published;
    return cached;
  };
  const bearer = (t: string) => ({ path: '/', headers: { authorization: `Bearer ${t}` } });
  assert.equal((await authenticateRequest([policy()], bearer(await sign(k1, {})), source)).kind, 'authenticated');
  published = keysOf(k2);
  assert.equal((await authenticateRequest([policy()], bearer(await sign(k2, {})), source)).kind, 'authenticated', 'the new key after a refresh');
  assert.deepEqual(asked, [false, false, true]);
  const down: KeySource = async () => {
    throw new KeyFetchError('connect ECONNREFUSED');
  };
  const r = await authenticateRequest([policy()], bearer(await sign(k2, {})), down);
  assert.deepEqual(r, { kind: 'refused', reason: 'Jwks remote fetch is failed: connect ECONNREFUSED', policy: 'shop/jwt' });
  assert.deepEqual(await authenticateRequest([policy()], { path: '/', headers: {} }, down), { kind: 'none' });
});

test('RequestAuthentication claims-only (x authz check with remote keys): issuer, audience and expiry checked, signature not', async () => {
  const k1 = await keyPair('k1');
  const stranger = await keyPair('k9');
  const bearer = (t: string) => ({ path: '/', headers: { authorization: `Bearer ${t}` } });
  const remote = [policy({ audiences: ['shop'] })];
  assert.equal((await authenticateRequest(remote, bearer(await sign(stranger, { aud: 'shop' })), 'claims-only')).kind, 'authenticated', 'an unknown key cannot be told offline');
  assert.deepEqual(await authenticateRequest(remote, bearer(await sign(k1, { aud: 'shop' }, { expIn: -600 })), 'claims-only'), { kind: 'refused', reason: 'Jwt is expired', policy: 'shop/jwt' });
  assert.deepEqual(await authenticateRequest(remote, bearer(await sign(k1, { aud: 'web' })), 'claims-only'), { kind: 'refused', reason: 'Audiences in Jwt are not allowed', policy: 'shop/jwt' });
  assert.deepEqual(await authenticateRequest(remote, bearer(await sign(k1, {}, { iss: 'https://other.test' })), 'claims-only'), { kind: 'refused', reason: 'Jwt issuer is not configured' });
  // Inline keys are verified in full even offline.
  const inline = [policy({ jwksUri: undefined, jwks: JSON.stringify(keysOf(k1)) })];
  assert.equal((await authenticateRequest(inline, bearer(await sign(stranger, {})), 'claims-only')).kind, 'refused');
  assert.equal((await authenticateRequest(inline, bearer(await sign(k1, {})), 'claims-only')).kind, 'authenticated');
});
