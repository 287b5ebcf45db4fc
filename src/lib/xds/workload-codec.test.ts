// Unit tests of the workload-API codec: records survive encode → decode unchanged, invalid resources are refused
// with a reason, and IP text/bytes conversions are exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { create, toBinary } from '@bufbuild/protobuf';
import { AddressSchema, TunnelProtocol } from '../../../proto/gen/istio/workload/workload_pb.js';
import { bytesToIp, ipToBytes, parseCidr } from './ip-bytes.js';
import { decodeAddress, decodeAuthorization, encodeAddress, encodeAuthorization } from './workload-codec.js';
import type { AddressRecord, AuthorizationRecord } from './workload-records.js';

test('every golden record round-trips through the wire format', () => {
  const root = join('test', 'fixtures', 'ambient');
  assert.ok(existsSync(root), `${root} is missing`);
  let n = 0;
  for (const c of readdirSync(root)) {
    const file = join(root, c, 'expected.json');
    if (!existsSync(file)) continue;
    const golden = JSON.parse(readFileSync(file, 'utf8')) as { addresses: AddressRecord[]; authorizations: AuthorizationRecord[] };
    for (const a of golden.addresses) {
      const d = decodeAddress(encodeAddress(a));
      assert.ok(d.ok, `${c}: ${!d.ok && d.reason}`);
      // Decoding fills defaults the records leave out; compare what the record states.
      const back = d.value as unknown as Record<string, Record<string, unknown>>;
      for (const [kind, rec] of Object.entries(a as unknown as Record<string, Record<string, unknown>>)) {
        for (const [k, v] of Object.entries(rec)) assert.deepEqual(back[kind]![k], v, `${c}: ${kind}.${k}`);
      }
      n++;
    }
    for (const a of golden.authorizations) {
      const d = decodeAuthorization(encodeAuthorization(a));
      assert.ok(d.ok);
      assert.deepEqual(d.value, a, c);
      n++;
    }
  }
  assert.ok(n > 100, `only ${n} records checked`);
});

test('invalid resources are refused with a reason', () => {
  const legacy = toBinary(AddressSchema, create(AddressSchema, { type: { case: 'workload', value: { uid: 'x', tunnelProtocol: TunnelProtocol.LEGACY_ISTIO_MTLS } } }));
  assert.deepEqual(decodeAddress(legacy), { ok: false, reason: 'tunnel protocol LEGACY_ISTIO_MTLS is not supported' });
  const badIp = toBinary(AddressSchema, create(AddressSchema, { type: { case: 'workload', value: { uid: 'x', addresses: [new Uint8Array([1, 2, 3])] } } }));
  assert.deepEqual(decodeAddress(badIp), { ok: false, reason: 'addresses: an IP must be 4 or 16 bytes, got 3' });
  const empty = toBinary(AddressSchema, create(AddressSchema, {}));
  assert.equal(decodeAddress(empty).ok, false);
  assert.equal(decodeAddress(new Uint8Array([0xff, 0xff])).ok, false);
});

test('IP text and bytes', () => {
  assert.deepEqual([...ipToBytes('10.244.0.11')!], [10, 244, 0, 11]);
  assert.equal(bytesToIp(ipToBytes('fd00:10:244::a')!), 'fd00:10:244::a');
  assert.equal(bytesToIp(ipToBytes('::ffff:1.2.3.4')!), '::ffff:102:304');
  assert.equal(bytesToIp(ipToBytes('1:0:0:2:0:0:0:3')!), '1:0:0:2::3');
  assert.equal(ipToBytes('300.1.1.1'), undefined);
  assert.deepEqual(parseCidr('10.0.0.0/8'), { address: '10.0.0.0', length: 8 });
  assert.deepEqual(parseCidr('fd00::/8'), { address: 'fd00::', length: 8 });
  assert.equal(parseCidr('10.0.0.0/33'), undefined);
  assert.equal(parseCidr('nope'), undefined);
});
