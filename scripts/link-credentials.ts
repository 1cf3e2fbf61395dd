import { IAMClient } from '@aws-sdk/client-iam';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { STSClient } from '@aws-sdk/client-sts';
import { names } from '../lib/config/names';
import { linkCredentials } from '../runtime/operator/link-credentials';
import { configFromArgs, flagValue, profileClientConfig, runCli } from './cli-config';

const USAGE = `Usage: npm run link-credentials -- [--global-profile NAME] [--china-profile NAME] [--rotate] [--config FILE] [-c key=value ...]

Creates an access key for the global gateway user (stack <prefix>-BedrockAccess) and stores it in
the China secret the gateway reads (stack <prefix>-Gateway). With --rotate, replaces the stored key
and retires the old one after the new one is stored and works. Secret values are never printed.
  --global-profile  AWS profile of the global (aws) account     (default: global)
  --china-profile   AWS profile of the China (aws-cn) account   (default: china)`;

async function main(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  const config = configFromArgs(args);
  const globalProfile = flagValue(args, '--global-profile') ?? 'global';
  const chinaProfile = flagValue(args, '--china-profile') ?? 'china';
  const g = await profileClientConfig(globalProfile, config.global.region);
  const c = await profileClientConfig(chinaProfile, config.china.region);
  const n = names(config);

  await linkCredentials(
    { globalAccount: config.global.account, chinaAccount: config.china.account, userName: n.gatewayUser, secretId: n.credentialSecret },
    {
      globalSts: new STSClient(g),
      chinaSts: new STSClient(c),
      iam: new IAMClient(g),
      secrets: new SecretsManagerClient(c),
      stsWith: (credentials) => new STSClient({ ...g, credentials }),
    },
    { rotate: args.includes('--rotate') },
  );
  return 0;
}

runCli('link-credentials', main);
