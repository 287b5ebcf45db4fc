// Who may read the dashboard: socket and loopback callers always; others only with the API token (bearer, cookie,
// or ?token= which sets the cookie); a wrong token never.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dashboardAccess, sha } from './dashboard-server.js';

test('dashboardAccess', () => {
  const digest = sha('s3cret');
  const url = (q = '') => new URL(`http://dashboard/api/graph${q}`);
  assert.deepEqual(dashboardAccess(undefined, {}, url(), digest), { allowed: true }, 'Unix socket');
  assert.deepEqual(dashboardAccess('127.0.0.1', {}, url(), digest), { allowed: true });
  assert.deepEqual(dashboardAccess('::ffff:127.0.0.1', {}, url(), undefined), { allowed: true });
  assert.deepEqual(dashboardAccess('10.0.0.7', {}, url(), undefined), { allowed: false }, 'no token configured: nobody remote');
  assert.deepEqual(dashboardAccess('10.0.0.7', {}, url(), digest), { allowed: false });
  assert.deepEqual(dashboardAccess('10.0.0.7', { authorization: 'Bearer wrong' }, url(), digest), { allowed: false });
  assert.deepEqual(dashboardAccess('10.0.0.7', { authorization: 'Bearer s3cret' }, url(), digest), { allowed: true });
  assert.deepEqual(dashboardAccess('10.0.0.7', { cookie: 'a=b; ambit_dashboard_token=s3cret' }, url(), digest), { allowed: true });
  const viaQuery = dashboardAccess('10.0.0.7', {}, url('?token=s3cret'), digest);
  assert.equal(viaQuery.allowed, true);
  assert.match(viaQuery.setCookie!, /^ambit_dashboard_token=s3cret; HttpOnly; SameSite=Strict; Path=\/$/);
});
