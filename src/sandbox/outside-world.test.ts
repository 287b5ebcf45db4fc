// The sandbox nameserver's answers: outside hosts by name, NXDOMAIN at once for everything else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyFlags, Rcode, RecordClass, RecordType, type DnsMessage } from '../lib/dns/dns-message.js';
import { clusterLayout } from './cluster-layout.js';
import { answerQuery } from './outside-world.js';

const layout = clusterLayout('demo', 1, 1);
const query = (name: string, type: number = RecordType.A, opcode = 0): DnsMessage => ({
  id: 7, flags: emptyFlags({ rd: true, opcode }), questions: [{ name, type, class: RecordClass.IN }], answers: [], authorities: [], additionals: [],
});

test('outside hosts resolve to their address (any letter case), authoritatively', () => {
  const res = answerQuery(layout, query('API.example.test'));
  assert.equal(res.flags.rcode, Rcode.NOERROR);
  assert.ok(res.flags.aa && res.flags.qr);
  assert.equal(res.id, 7);
  assert.deepEqual(res.answers.map((a) => a.data), [{ kind: 'a', address: '198.18.1.10' }]);
});

test('other record types of an outside host: an empty answer, not NXDOMAIN (the name exists)', () => {
  const res = answerQuery(layout, query('api.example.test', RecordType.AAAA));
  assert.equal(res.flags.rcode, Rcode.NOERROR);
  assert.deepEqual(res.answers, []);
});

test('every other name gets NXDOMAIN, including cluster names (pods have them in /etc/hosts)', () => {
  for (const name of ['nowhere.example.test', 'example.test', 'echo.default.svc.cluster.local', 'www.example.com']) {
    assert.equal(answerQuery(layout, query(name)).flags.rcode, Rcode.NXDOMAIN, name);
  }
});

test('anything but a one-question QUERY is NOTIMP', () => {
  assert.equal(answerQuery(layout, query('api.example.test', RecordType.A, 2)).flags.rcode, Rcode.NOTIMP);
  assert.equal(answerQuery(layout, { ...query('x'), questions: [] }).flags.rcode, Rcode.NOTIMP);
});
