import * as fs from 'fs';
import { UpstreamKeySource } from '../../runtime/gateway/openai-upstream';
import { OperatorError } from '../../runtime/operator/operator-error';

/** Where a local run found an upstream's API key, for the start banner (never the key itself). */
export interface LocalUpstreamKey extends UpstreamKeySource {
  readonly from: string;
}

/**
 * The environment variable that holds an upstream's key on a developer's machine, e.g.
 * `CNLLM_KEY_DASHSCOPE` or `CNLLM_KEY_VLLM_QWEN2_5_7B_INSTRUCT` (route `vllm-qwen2.5-7b-instruct`).
 */
export function upstreamKeyEnvName(upstream: string): string {
  return `CNLLM_KEY_${upstream.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/**
 * API keys of OpenAI-compatible upstreams for a local run, from the environment or a JSON file
 * (`{"<upstream name>": "<key>"}`), never from the command line: argv is visible to every user of
 * the machine (ps) and lands in shell history. Deployed gateways read the same keys from Secrets Manager.
 */
export function localUpstreamKeys(upstreams: readonly string[], opts: { env: NodeJS.ProcessEnv; keysFile?: string }): Map<string, LocalUpstreamKey> {
  const fromFile = opts.keysFile ? readKeysFile(opts.keysFile, upstreams) : {};
  const keys = new Map<string, LocalUpstreamKey>();
  for (const name of upstreams) {
    const variable = upstreamKeyEnvName(name);
    const value = opts.env[variable] ?? fromFile[name];
    if (!value) continue;
    const from = opts.env[variable] !== undefined ? `$${variable}` : opts.keysFile!;
    keys.set(name, { from, get: async () => value });
  }
  return keys;
}

function readKeysFile(file: string, upstreams: readonly string[]): Record<string, string> {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new OperatorError(`keys file ${file} does not exist (it holds {"<upstream name>": "<API key>"}, mode 600)`);
  }
  // Like ssh with a private key: a secret other users can read is refused rather than used.
  if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
    throw new OperatorError(`keys file ${file} can be read by other users (mode ${(stat.mode & 0o777).toString(8)}): chmod 600 ${file}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new OperatorError(`keys file ${file} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new OperatorError(`keys file ${file} must hold one JSON object {"<upstream name>": "<API key>"}`);
  for (const [name, value] of Object.entries(parsed)) {
    if (!upstreams.includes(name)) throw new OperatorError(`keys file ${file} names "${name}", which is not an upstream of this run (upstreams: ${upstreams.join(', ') || 'none'})`);
    if (typeof value !== 'string' || value === '') throw new OperatorError(`keys file ${file}: the key of "${name}" must be a non-empty string`);
  }
  return parsed as Record<string, string>;
}
