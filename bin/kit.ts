import { App, Stack, Tags } from 'aws-cdk-lib';
import { applyComplianceChecks } from '../lib/checks/apply-checks';
import { ComplianceLedger } from '../lib/checks/compliance-ledger';
import { KitConfig } from '../lib/config/schema';
import { ModelStoreStack } from '../lib/stacks/model-store-stack';
import { NetworkStack } from '../lib/stacks/network-stack';

export interface Kit {
  readonly network?: NetworkStack;
  readonly modelStore?: ModelStoreStack;
  /** Every stack the config enabled, in deploy order. */
  readonly stacks: Stack[];
}

/** Wires the enabled stacks for one validated config and puts the compliance checks on the app. */
export function buildKit(app: App, config: KitConfig, ledger?: ComplianceLedger): Kit {
  const stackName = (component: string) => `${config.prefix}-${component}`;
  const stacks: Stack[] = [];

  Tags.of(app).add('cn-llm-kit:prefix', config.prefix);
  for (const [key, value] of Object.entries(config.tags)) Tags.of(app).add(key, value);

  const enabled = <T extends Stack>(on: boolean, create: () => T): T | undefined => {
    if (!on) return undefined;
    const stack = create();
    stacks.push(stack);
    return stack;
  };

  const network = enabled(config.stacks.network, () =>
    new NetworkStack(app, stackName('Network'), {
      config,
      description: 'cn-llm-kit: VPC, NAT egress IPs, flow logs and VPC endpoints in the AWS China region',
    }),
  );
  const modelStore = enabled(config.stacks.modelStore, () =>
    new ModelStoreStack(app, stackName('ModelStore'), {
      config,
      description: 'cn-llm-kit: KMS key, model weights bucket and private ECR repositories in the AWS China region',
    }),
  );

  applyComplianceChecks(app, { globalAccounts: [config.global.account], ledger });
  return { network, modelStore, stacks };
}
