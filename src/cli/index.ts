// The CLI's verbs: each module registers one command on the program; add new verbs (e.g. `ca`) to VERBS.
import type { Command } from 'commander';
import type { CliContext } from './cli-context.js';
import * as apply from './apply.js';
import * as ca from './ca.js';
import * as dashboard from './dashboard.js';
import * as del from './delete.js';
import * as describe from './describe.js';
import * as get from './get.js';
import * as install from './install.js';
import * as label from './label.js';
import * as proxyStatus from './proxy-status.js';
import * as version from './version.js';
import * as waypoint from './waypoint.js';
import * as xDescribe from './x-describe.js';
import * as xAuthz from './x-authz.js';
import * as ztunnelConfig from './ztunnel-config.js';

interface Verb {
  register(program: Command, ctx: CliContext): void;
}

/** In help order. */
export const VERBS: readonly Verb[] = [apply, get, describe, del, label, proxyStatus, ztunnelConfig, waypoint, xDescribe, xAuthz, dashboard, ca, install, version];

export { globalsOf, writeError } from './cli-context.js';
export type { CliContext } from './cli-context.js';
export { resolveDataDir, socketPathIn } from './data-dir.js';
