import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { cloudWatchLogsPrincipal } from '../china/china';
import { kitKey } from './kit-key';

export interface EncryptedLogGroupProps {
  readonly retentionDays: logs.RetentionDays;
  /** Said in the key's description, so an auditor knows what the key protects. */
  readonly purpose: string;
  readonly retain: boolean;
  /** Encrypt with this key instead of a new one. */
  readonly key?: kms.IKey;
}

/** A CloudWatch Logs group encrypted with a customer managed KMS key that CloudWatch Logs in this region may use. */
export class EncryptedLogGroup extends Construct {
  public readonly logGroup: logs.LogGroup;
  public readonly key: kms.IKey;

  constructor(scope: Construct, id: string, props: EncryptedLogGroupProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const removalPolicy = props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    this.key =
      props.key ??
      kitKey(this, 'Key', {
        description: `Encrypts ${props.purpose} (${stack.stackName})`,
        removalPolicy,
      });
    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.retentionDays,
      encryptionKey: this.key,
      removalPolicy,
    });
    // CloudWatch Logs uses the key on behalf of log groups of this account and region only.
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [cloudWatchLogsPrincipal(stack.region)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: {
          ArnLike: { 'kms:EncryptionContext:aws:logs:arn': stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
        },
      }),
    );
  }
}
