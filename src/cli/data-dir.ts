// Where the control plane keeps its state and socket: `--data-dir` > `AMBIT_DATA_DIR` > /var/lib/ambit (root) or ~/.ambit.
import { join } from 'node:path';

interface DataDirInputs {
  /** The `--data-dir` flag, if given. */
  flag?: string;
  /** The `AMBIT_DATA_DIR` environment variable, if set. */
  env?: string;
  isRoot: boolean;
  homeDir: string;
}

/** Resolves the data dir by the precedence above; empty strings count as unset. */
export function resolveDataDir(inputs: DataDirInputs): string {
  if (inputs.flag) return inputs.flag;
  if (inputs.env) return inputs.env;
  return inputs.isRoot ? '/var/lib/ambit' : join(inputs.homeDir, '.ambit');
}

/** The API socket inside a data dir. */
export function socketPathIn(dataDir: string): string {
  return join(dataDir, 'ambit.sock');
}
