import * as fs from 'fs';
import * as path from 'path';
import { fromIni } from '@aws-sdk/credential-providers';
import { loadSharedConfigFiles } from '@smithy/shared-ini-file-loader';
import { ConfigError, loadConfig } from '../lib/config/load';
import { OperatorError } from '../runtime/operator/operator-error';
import { KitConfig } from '../lib/config/schema';

/**
 * Operator scripts read the kit config exactly as `cdk synth` does: cdk.json context, then
 * `--config <file>` (or `-c config=<file>`), then `-c key=value` pairs.
 */
export function configFromArgs(args: string[], cwd = process.cwd()): KitConfig {
  const cdkJsonPath = path.join(cwd, 'cdk.json');
  const context: Record<string, unknown> = fs.existsSync(cdkJsonPath) ? { ...JSON.parse(fs.readFileSync(cdkJsonPath, 'utf8')).context } : {};
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--config') context.config = args[++i];
    else if (args[i] === '-c' || args[i] === '--context') {
      const [key, ...rest] = (args[++i] ?? '').split('=');
      context[key] = rest.join('=');
    }
  }
  return loadConfig(context, cwd);
}

/** The value after a flag, e.g. `--port 8787`. */
export function flagValue(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

/** Every value of a flag that may repeat, e.g. `--vllm a=URL --vllm b=URL`. */
export function flagValues(args: string[], flag: string): string[] {
  return args.flatMap((arg, i) => (arg === flag && i + 1 < args.length ? [args[i + 1]] : []));
}

/**
 * SDK client settings for a named profile. The SDK honours a profile's endpoint_url only for
 * AWS_PROFILE; operator scripts use two profiles at once, so they read it themselves.
 */
export async function profileClientConfig(profile: string, region: string) {
  const { configFile } = await loadSharedConfigFiles();
  const endpoint = configFile[profile]?.endpoint_url;
  return { region, credentials: fromIni({ profile }), ...(endpoint && { endpoint }) };
}

/** Runs an operator CLI: known failures (config, operator) print one line; exit 1 on any failure. */
export function runCli(name: string, main: (args: string[]) => Promise<unknown>): void {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (e) => {
      const known = e instanceof OperatorError || e instanceof ConfigError;
      console.error(`${name}: ${known ? e.message : `unexpected failure: ${(e as Error).name}: ${(e as Error).message}`}`);
      process.exit(1);
    },
  );
}
