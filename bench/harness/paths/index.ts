// The benchmarked paths in report order (the numbering): direct, Ambit L4, stunnel, Ambit L7, HAProxy.
import type { BenchPath } from '../bench-path.js';
import { directPath } from './direct.js';
import { ambitL4Path } from './ambit-l4.js';
import { stunnelPath } from './stunnel.js';
import { ambitL7Path } from './ambit-l7.js';
import { haproxyPath } from './haproxy.js';

export const ALL_PATHS: readonly BenchPath[] = [directPath, ambitL4Path, stunnelPath, ambitL7Path, haproxyPath];
