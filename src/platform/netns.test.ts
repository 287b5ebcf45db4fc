// Unit tests (no root): the netns toolkit and nftables helpers refuse bad names and addresses before running anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createNetns, createVethPair, deleteNetns, ipIn, netnsPath, runIn, spawnIn } from './netns.js';
import { applyNft, deleteNftTable } from './nftables.js';
import { PlatformArgumentError } from './platform-errors.js';

const isArgError = (pattern: RegExp) => (err: unknown) => err instanceof PlatformArgumentError &&
  err.code === 'PLATFORM_BAD_ARGUMENT' && pattern.test(err.message);

test('netns names are checked', async () => {
  assert.equal(netnsPath('pod-a'), '/var/run/netns/pod-a');
  assert.throws(() => netnsPath('../etc'), isArgError(/^netnsPath: netns name "..\/etc" is invalid/));
  await assert.rejects(createNetns(''), isArgError(/^createNetns: netns name "" is invalid/));
  await assert.rejects(deleteNetns('a b'), isArgError(/^deleteNetns: netns name "a b" is invalid/));
  await assert.rejects(runIn('-x', ['true']), isArgError(/^runIn: netns name "-x" is invalid/));
  await assert.rejects(runIn('ok', []), isArgError(/^runIn: argv is empty/));
  await assert.rejects(ipIn('x'.repeat(64), ['link']), isArgError(/^ipIn: netns name/));
  assert.throws(() => spawnIn('a/b', ['true']), isArgError(/^spawnIn: netns name "a\/b" is invalid/));
});

test('veth names and addresses are checked', async () => {
  await assert.rejects(createVethPair({ netns: 'a', name: 'much-too-long-name0' }, { netns: 'b', name: 'eth0' }),
    isArgError(/^createVethPair: a.name "much-too-long-name0" is invalid: an interface name is 1-15/));
  await assert.rejects(createVethPair({ netns: 'a', name: 'eth0' }, { netns: 'b', name: 'eth0', addresses: ['10.250.1.1'] }),
    isArgError(/^createVethPair: b.addresses "10.250.1.1" is not an address with prefix length/));
  await assert.rejects(createVethPair({ netns: 'a', name: 'eth0', addresses: ['10.250.1.1/33'] }, { netns: 'b', name: 'eth0' }),
    isArgError(/a.addresses "10.250.1.1\/33"/));
});

test('nft helpers check their arguments', async () => {
  await assert.rejects(applyNft('pod', '  '), isArgError(/^applyNft: rulesetText is empty/));
  await assert.rejects(deleteNftTable('pod', 'inet6', 'ambit'), isArgError(/family "inet6" is not an nftables family/));
  await assert.rejects(deleteNftTable('pod', 'inet', 'am bit'), isArgError(/table "am bit" is not a valid table name/));
});
