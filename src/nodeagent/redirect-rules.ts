// Renders the in-pod redirection rules (nftables text + policy routes) for an enrolled pod: a pure function.
//
// The rules mirror Istio's in-pod iptables (PROTOCOLS.md §8.1) as one nftables `inet` table, so IPv4 and IPv6 are
// captured by the same chains. They live inside the pod's own netns: the node never sees captured traffic.
//   - app TCP out → 15001; TCP in (except to 15008) → 15006; DNS (UDP and TCP port 53) → 15053;
//   - packets carrying ztunnel's mark 0x539 are never redirected (ztunnel's own sockets);
//   - replies on connections ztunnel opened with a spoofed source carry connmark 0x111 and are routed to `lo`
//     (policy route, table 100), so they reach ztunnel's transparent socket instead of leaving the pod;
//   - the kubelet probe address 169.254.7.127 bypasses capture.
import { CONNMARK, MARK_MASK, PORT_DNS, PORT_HBONE, PORT_INBOUND_PLAINTEXT, PORT_OUTBOUND, ZTUNNEL_MARK } from '../lib/mesh-contract.js';

/** Routing table that delivers marked replies locally. */
export const REPLY_ROUTE_TABLE = 100;
const REPLY_RULE_PRIORITY = 32764;
const PROBE_IP = '169.254.7.127';
/** The table the agent owns in each enrolled pod netns (family inet). */
export const RULES_TABLE_FAMILY = 'inet';
export const RULES_TABLE_NAME = 'ambit';
/** Bumped whenever the rendered rules change meaning, so a restarted agent re-applies older rule sets. */
const RULES_VERSION = 1;

export interface RedirectRuleOptions {
  /** Redirect DNS (UDP/TCP 53) to ztunnel's DNS proxy; default true. */
  captureDns?: boolean;
}

interface RenderedRules {
  /** One `nft -f` transaction that replaces the table atomically (declare, delete, define). */
  nft: string;
  /** The table's comment: identifies the rule set version, read back to tell a current table from a stale one. */
  comment: string;
  /** `ip` argument lists that install the reply policy routing (run in the pod netns, in order). */
  routes: string[][];
}

const hex = (n: number): string => `0x${n.toString(16)}`;

/**
 * The rule set for one pod. Depends only on the options (the rules are the same for every pod: they match on
 * marks, loopback and ports, never on the pod's own address), which is what makes the output snapshot-testable.
 */
export function renderRedirectRules(opts: RedirectRuleOptions = {}): RenderedRules {
  const captureDns = opts.captureDns ?? true;
  const mark = hex(ZTUNNEL_MARK);
  const conn = hex(CONNMARK);
  const mask = hex(MARK_MASK);
  const keep = hex((0xffffffff ^ MARK_MASK) >>> 0);
  const comment = `ambit in-pod redirection v${RULES_VERSION}${captureDns ? '' : ' nodns'}`;
  // nft 1.0.6 wants every closing brace on its own line.
  const lines = [
    `table ${RULES_TABLE_FAMILY} ${RULES_TABLE_NAME} {`,
    '}',
    `delete table ${RULES_TABLE_FAMILY} ${RULES_TABLE_NAME}`,
    `table ${RULES_TABLE_FAMILY} ${RULES_TABLE_NAME} {`,
    `  comment "${comment}"`,
    '  chain prerouting_mangle {',
    '    type filter hook prerouting priority mangle; policy accept;',
    // ztunnel's spoofed-source packets loop through lo: remember their connection.
    `    meta mark & ${mask} == ${mark} ct mark set ct mark & ${keep} | ${conn}`,
    '  }',
    '  chain output_mangle {',
    '    type route hook output priority mangle; policy accept;',
    // The app's replies on such a connection get the mark back, which selects the local route table.
    `    ct mark & ${mask} == ${conn} meta mark set meta mark & ${keep} | ${conn}`,
    '  }',
    '  chain output_nat {',
    // `priority dstnat` is refused in an inet output nat chain by nft 1.0.6; -100 is its value.
    '    type nat hook output priority -100; policy accept;',
    `    meta mark & ${mask} == ${mark} accept`,
    `    ip daddr ${PROBE_IP} meta l4proto tcp accept`,
    ...(captureDns
      ? [
          `    udp dport 53 oifname != "lo" redirect to :${PORT_DNS}`,
          `    ip daddr != 127.0.0.1 tcp dport 53 redirect to :${PORT_DNS}`,
          `    ip6 daddr != ::1 tcp dport 53 redirect to :${PORT_DNS}`,
        ]
      : []),
    `    meta l4proto tcp meta mark & ${mask} == ${conn} accept`,
    '    oifname "lo" ip daddr != 127.0.0.1 accept',
    '    oifname "lo" ip6 daddr != ::1 accept',
    `    meta l4proto tcp ip daddr != 127.0.0.1 redirect to :${PORT_OUTBOUND}`,
    `    meta l4proto tcp ip6 daddr != ::1 redirect to :${PORT_OUTBOUND}`,
    '  }',
    '  chain prerouting_nat {',
    '    type nat hook prerouting priority -100; policy accept;',
    `    meta mark & ${mask} == ${mark} accept`,
    `    ip saddr ${PROBE_IP} meta l4proto tcp accept`,
    `    ip daddr != 127.0.0.1 tcp dport != ${PORT_HBONE} redirect to :${PORT_INBOUND_PLAINTEXT}`,
    `    ip6 daddr != ::1 tcp dport != ${PORT_HBONE} redirect to :${PORT_INBOUND_PLAINTEXT}`,
    '  }',
    '}',
    '',
  ];
  return { nft: lines.join('\n'), comment, routes: replyRoutes() };
}

/** The policy routing for replies to spoofed sources, IPv4 and IPv6 (see VERIFIED.md). */
export function replyRoutes(): string[][] {
  const fwmark = `${hex(CONNMARK)}/${hex(MARK_MASK)}`;
  const table = String(REPLY_ROUTE_TABLE);
  const pref = String(REPLY_RULE_PRIORITY);
  return [
    ['-4', 'rule', 'add', 'fwmark', fwmark, 'pref', pref, 'lookup', table],
    ['-4', 'route', 'add', 'local', '0.0.0.0/0', 'dev', 'lo', 'table', table],
    ['-6', 'rule', 'add', 'fwmark', fwmark, 'pref', pref, 'lookup', table],
    ['-6', 'route', 'add', 'local', '::/0', 'dev', 'lo', 'table', table],
  ];
}

/** The commands that undo `replyRoutes()` (each may fail harmlessly when already gone). */
export function replyRoutesRemoval(): string[][] {
  const fwmark = `${hex(CONNMARK)}/${hex(MARK_MASK)}`;
  const table = String(REPLY_ROUTE_TABLE);
  return [
    ['-4', 'rule', 'del', 'fwmark', fwmark, 'lookup', table],
    ['-4', 'route', 'flush', 'table', table],
    ['-6', 'rule', 'del', 'fwmark', fwmark, 'lookup', table],
    ['-6', 'route', 'flush', 'table', table],
  ];
}
