// nftables inside a network namespace: apply a rule set atomically (`nft -f -`), read it back, drop a table.
// A netns of `null` means the caller's own (the node agent's guard table lives in the node's netns).
import { runCommand } from './command.js';
import { checkNetnsName } from './arguments.js';
import { CommandError, PlatformArgumentError } from './platform-errors.js';

const NFT_FAMILIES = new Set(['ip', 'ip6', 'inet', 'arp', 'bridge', 'netdev']);
const NFT_TABLE = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/** `nft …` run inside the named netns, or in the caller's own for null. */
function nftIn(fn: string, netns: string | null, args: string[]): string[] {
  if (netns === null) return ['nft', ...args];
  return ['ip', 'netns', 'exec', checkNetnsName(fn, netns), 'nft', ...args];
}

function checkTable(fn: string, family: string, table: string): void {
  if (!NFT_FAMILIES.has(family)) throw new PlatformArgumentError(`${fn}: family ${JSON.stringify(family)} is not an nftables family`);
  if (!NFT_TABLE.test(table)) throw new PlatformArgumentError(`${fn}: table ${JSON.stringify(table)} is not a valid table name`);
}

/** Applies `rulesetText` in one transaction inside the named netns; on a syntax error nothing is applied. */
export async function applyNft(netns: string | null, rulesetText: string): Promise<void> {
  const argv = nftIn('applyNft', netns, ['-f', '-']);
  if (typeof rulesetText !== 'string' || !rulesetText.trim()) throw new PlatformArgumentError('applyNft: rulesetText is empty');
  await runCommand(argv, { input: rulesetText });
}

/** The netns's whole rule set as `nft list ruleset` prints it. */
export async function listNftRuleset(netns: string): Promise<string> {
  checkNetnsName('listNftRuleset', netns);
  return (await runCommand(['ip', 'netns', 'exec', netns, 'nft', 'list', 'ruleset'])).stdout;
}

/** One table as `nft list table` prints it, or undefined when the table does not exist. */
export async function listNftTable(netns: string | null, family: string, table: string): Promise<string | undefined> {
  checkTable('listNftTable', family, table);
  try {
    return (await runCommand(nftIn('listNftTable', netns, ['list', 'table', family, table]))).stdout;
  } catch (err) {
    if (err instanceof CommandError && err.exitCode !== null) return undefined;
    throw err;
  }
}

/** Deletes one table (e.g. `inet ambit`); with `ignoreMissing`, an absent table is not an error. */
export async function deleteNftTable(netns: string | null, family: string, table: string, opts: { ignoreMissing?: boolean } = {}): Promise<void> {
  checkTable('deleteNftTable', family, table);
  // `destroy` (ignore-if-missing) needs nft >= 1.0.8; Debian 12 has 1.0.6, so probe with `list` first.
  if (opts.ignoreMissing) {
    try {
      await runCommand(nftIn('deleteNftTable', netns, ['list', 'table', family, table]));
    } catch {
      return;
    }
  }
  await runCommand(nftIn('deleteNftTable', netns, ['delete', 'table', family, table]));
}
