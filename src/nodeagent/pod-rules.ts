// Applies, inspects and removes the redirection rules inside one pod's netns (the impure half of redirect-rules).
import { applyNft, deleteNftTable, ipIn, runIn, CommandError } from '../platform/index.js';
import {
  renderRedirectRules, replyRoutes, replyRoutesRemoval, REPLY_ROUTE_TABLE, RULES_TABLE_FAMILY, RULES_TABLE_NAME,
  type RedirectRuleOptions,
} from './redirect-rules.js';
import { CONNMARK, MARK_MASK } from '../lib/mesh-contract.js';

/** What is installed in a pod netns right now. */
interface InstalledRules {
  /** `nft list table inet ambit` output, or undefined when the table is absent. */
  listing: string | undefined;
  /** The IPv4 reply policy route (rule + local route in table 100) is present. */
  replyRouteOk: boolean;
}

/** Installs the rule set (atomically replacing an older one) and the reply routes; returns the installed listing. */
export async function installPodRules(netns: string, opts: RedirectRuleOptions = {}): Promise<string> {
  const rendered = renderRedirectRules(opts);
  await applyNft(netns, rendered.nft);
  await removeReplyRoutes(netns);
  for (const args of replyRoutes()) {
    try {
      await ipIn(netns, args);
    } catch (err) {
      // A pod netns with IPv6 disabled cannot take the -6 route; IPv4 capture does not depend on it.
      if (args[0] !== '-6') throw err;
    }
  }
  return (await readPodRules(netns)).listing ?? '';
}

/**
 * Puts back a deleted table alone (the reply routes are not nftables and survive a flushed rule set), falling back to
 * a full install when the routes are gone too; returns the installed listing. The fast path of event-driven repair.
 */
export async function restorePodTable(netns: string, opts: RedirectRuleOptions = {}): Promise<string> {
  await applyNft(netns, renderRedirectRules(opts).nft);
  const installed = await readPodRules(netns);
  if (!installed.replyRouteOk) return installPodRules(netns, opts);
  return installed.listing ?? '';
}

/** Reads back the table and the reply route; never throws for "absent". */
export async function readPodRules(netns: string): Promise<InstalledRules> {
  let listing: string | undefined;
  try {
    listing = (await runIn(netns, ['nft', 'list', 'table', RULES_TABLE_FAMILY, RULES_TABLE_NAME])).stdout;
  } catch (err) {
    if (!(err instanceof CommandError)) throw err;
    listing = undefined;
  }
  const rules = (await ipIn(netns, ['-4', 'rule', 'list'])).stdout;
  // An empty table 100 does not exist at all for `ip`: that is "route absent", not a failure.
  const routes = await ipIn(netns, ['-4', 'route', 'show', 'table', String(REPLY_ROUTE_TABLE)]).then((r) => r.stdout, () => '');
  const replyRouteOk = rules.includes(`fwmark 0x${CONNMARK.toString(16)}/0x${MARK_MASK.toString(16)} lookup ${REPLY_ROUTE_TABLE}`) && /^local default dev lo/m.test(routes);
  return { listing, replyRouteOk };
}

/** Removes the table and the reply routes; absent pieces are fine. */
export async function removePodRules(netns: string): Promise<void> {
  await deleteNftTable(netns, RULES_TABLE_FAMILY, RULES_TABLE_NAME, { ignoreMissing: true });
  await removeReplyRoutes(netns);
}

async function removeReplyRoutes(netns: string): Promise<void> {
  for (const args of replyRoutesRemoval()) {
    // `ip rule del` removes one matching rule per call; a few rounds clear duplicates left by others.
    const rounds = args[1] === 'rule' ? 4 : 1;
    for (let i = 0; i < rounds; i++) {
      try {
        await ipIn(netns, args);
      } catch {
        break;
      }
    }
  }
}
