// Snapshot and property tests of the in-pod redirection rules (PROTOCOLS.md §8.1 in nftables form).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderRedirectRules, replyRoutes, replyRoutesRemoval } from './redirect-rules.js';

const SNAPSHOT = `table inet ambit {
}
delete table inet ambit
table inet ambit {
  comment "ambit in-pod redirection v1"
  chain prerouting_mangle {
    type filter hook prerouting priority mangle; policy accept;
    meta mark & 0xfff == 0x539 ct mark set ct mark & 0xfffff000 | 0x111
  }
  chain output_mangle {
    type route hook output priority mangle; policy accept;
    ct mark & 0xfff == 0x111 meta mark set meta mark & 0xfffff000 | 0x111
  }
  chain output_nat {
    type nat hook output priority -100; policy accept;
    meta mark & 0xfff == 0x539 accept
    ip daddr 169.254.7.127 meta l4proto tcp accept
    udp dport 53 oifname != "lo" redirect to :15053
    ip daddr != 127.0.0.1 tcp dport 53 redirect to :15053
    ip6 daddr != ::1 tcp dport 53 redirect to :15053
    meta l4proto tcp meta mark & 0xfff == 0x111 accept
    oifname "lo" ip daddr != 127.0.0.1 accept
    oifname "lo" ip6 daddr != ::1 accept
    meta l4proto tcp ip daddr != 127.0.0.1 redirect to :15001
    meta l4proto tcp ip6 daddr != ::1 redirect to :15001
  }
  chain prerouting_nat {
    type nat hook prerouting priority -100; policy accept;
    meta mark & 0xfff == 0x539 accept
    ip saddr 169.254.7.127 meta l4proto tcp accept
    ip daddr != 127.0.0.1 tcp dport != 15008 redirect to :15006
    ip6 daddr != ::1 tcp dport != 15008 redirect to :15006
  }
}
`;

test('the rendered rule set matches the snapshot', () => {
  assert.equal(renderRedirectRules().nft, SNAPSHOT);
});

test('the rule set is the same for every call (pure) and replaces the table in one transaction', () => {
  const a = renderRedirectRules();
  assert.deepEqual(renderRedirectRules(), a);
  const lines = a.nft.split('\n');
  assert.deepEqual(lines.slice(0, 3), ['table inet ambit {', '}', 'delete table inet ambit']);
  // nft 1.0.6: no rule may share a line with a closing brace.
  for (const line of lines) if (line.includes('}')) assert.match(line, /^\s*}$|\{ *$|^table .* \{$/);
});

test('ztunnel-marked packets are exempt before any redirect, in both NAT chains', () => {
  const { nft } = renderRedirectRules();
  for (const chain of ['output_nat', 'prerouting_nat']) {
    const body = nft.slice(nft.indexOf(`chain ${chain}`));
    const exempt = body.indexOf('meta mark & 0xfff == 0x539 accept');
    const firstRedirect = body.indexOf('redirect to');
    assert.ok(exempt > 0 && exempt < firstRedirect, `${chain}: the 0x539 exemption comes first`);
  }
});

test('inbound skips the HBONE port; DNS capture can be turned off', () => {
  const { nft, comment } = renderRedirectRules();
  assert.match(nft, /tcp dport != 15008 redirect to :15006/);
  const noDns = renderRedirectRules({ captureDns: false });
  assert.doesNotMatch(noDns.nft, /15053/);
  assert.notEqual(noDns.comment, comment, 'a different rule set carries a different comment');
});

test('reply routing: fwmark 0x111/0xfff → table 100 (local default route), IPv4 and IPv6; removal mirrors it', () => {
  assert.deepEqual(replyRoutes(), [
    ['-4', 'rule', 'add', 'fwmark', '0x111/0xfff', 'pref', '32764', 'lookup', '100'],
    ['-4', 'route', 'add', 'local', '0.0.0.0/0', 'dev', 'lo', 'table', '100'],
    ['-6', 'rule', 'add', 'fwmark', '0x111/0xfff', 'pref', '32764', 'lookup', '100'],
    ['-6', 'route', 'add', 'local', '::/0', 'dev', 'lo', 'table', '100'],
  ]);
  assert.equal(replyRoutesRemoval().length, 4);
  assert.ok(replyRoutesRemoval().every((args) => args.includes('del') || args.includes('flush')));
});
