// nftables inside a network namespace: apply a rule set atomically (`nft -f -`), read it back, drop a table.
import { runCommand } from './command.js';
import { checkNetnsName } from './arguments.js';
import { PlatformArgumentError } from './platform-errors.js';

const NFT_FAMILIES = new Set(['ip', 'ip6', 'inet', 'arp', 'bridge', 'netdev']);
const NFT_TABLE = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/** Applies `rulesetText` in one transaction inside the named netns; on a syntax error nothing is applied. */
export async function applyNft(netns: string, rulesetText: string): Promise<void> {
  checkNetnsName('applyNft', netns);
  if (typeof rulesetText !== 'string' || !rulesetText.trim()) throw new PlatformArgumentError('applyNft: rulesetText is empty');
  await runCommand(['ip', 'netns', 'exec', netns, 'nft', '-f', '-'], { input: rulesetText });
}

/** The netns's whole rule set as `nft list ruleset` prints it. */
export async function listNftRuleset(netns: string): Promise<string> {
  checkNetnsName('listNftRuleset', netns);
  return (await runCommand(['ip', 'netns', 'exec', netns, 'nft', 'list', 'ruleset'])).stdout;
}

/** Deletes one table (e.g. `inet ambit`); with `ignoreMissing`, an absent table is not an error. */
export async function deleteNftTable(netns: string, family: string, table: string, opts: { ignoreMissing?: boolean } = {}): Promise<void> {
  checkNetnsName('deleteNftTable', netns);
  if (!NFT_FAMILIES.has(family)) throw new PlatformArgumentError(`deleteNftTable: family ${JSON.stringify(family)} is not an nftables family`);
  if (!NFT_TABLE.test(table)) throw new PlatformArgumentError(`deleteNftTable: table ${JSON.stringify(table)} is not a valid table name`);
  // `destroy` (ignore-if-missing) needs nft >= 1.0.8; Debian 12 has 1.0.6, so probe with `list` first.
  if (opts.ignoreMissing) {
    try {
      await runCommand(['ip', 'netns', 'exec', netns, 'nft', 'list', 'table', family, table]);
    } catch {
      return;
    }
  }
  await runCommand(['ip', 'netns', 'exec', netns, 'nft', 'delete', 'table', family, table]);
}
