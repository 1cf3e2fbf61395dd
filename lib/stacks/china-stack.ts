import { Aspects, Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { PinLambdaRuntime } from '../china/pin-lambda-runtime';
import { KitConfig } from '../config/schema';

export interface ChinaStackProps extends Omit<StackProps, 'env'> {
  readonly config: KitConfig;
}

/**
 * A stack deployed in the configured China account and region. Its availability zones come from
 * config: CDK would otherwise look them up in the account (a context lookup needs credentials, and
 * synth must work offline). Every Node.js Lambda in it, CDK's own included, runs the configured
 * runtime (newer ones are not confirmed in China).
 */
export abstract class ChinaStack extends Stack {
  public readonly config: KitConfig;

  constructor(scope: Construct, id: string, props: ChinaStackProps) {
    super(scope, id, { ...props, env: { account: props.config.china.account, region: props.config.china.region } });
    this.config = props.config;
    Aspects.of(this).add(new PinLambdaRuntime(props.config.lambda.runtime, props.config.lambda.pythonRuntime));
  }

  get availabilityZones(): string[] {
    return [...this.config.china.availabilityZones];
  }
}
