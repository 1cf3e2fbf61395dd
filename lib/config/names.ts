import { KitConfig } from './schema';

/** Physical names that stacks create and operator scripts look up: one derivation for both. */
export const names = (config: KitConfig) => ({
  stack: (component: string) => `${config.prefix}-${component}`,
  /** The global-partition IAM user the China gateway calls Bedrock as. */
  gatewayUser: `${config.prefix}-china-gateway`,
  /** The China-side secret holding that user's access key. */
  credentialSecret: `${config.prefix}/bedrock-credential`,
});
