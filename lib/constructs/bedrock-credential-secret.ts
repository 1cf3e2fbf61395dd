import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

export interface BedrockCredentialSecretProps {
  readonly key: kms.IKey;
  readonly secretName: string;
}

/**
 * Holds the global account's access key for the China gateway. CloudFormation creates it with a
 * random placeholder (a real key in the template would leak); `npm run link-credentials` writes the
 * key, and the gateway answers 503 "credential_not_linked" until then.
 */
export class BedrockCredentialSecret extends Construct {
  public readonly secret: secretsmanager.Secret;

  constructor(scope: Construct, id: string, props: BedrockCredentialSecretProps) {
    super(scope, id);
    this.secret = new secretsmanager.Secret(this, 'Secret', {
      secretName: props.secretName,
      description: 'Global (aws partition) access key the China gateway uses to call Bedrock. Written by npm run link-credentials.',
      encryptionKey: props.key,
      generateSecretString: { secretStringTemplate: JSON.stringify({ linked: false }), generateStringKey: 'placeholder' },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The secret holds a key of the global partition, which no China-side rotation Lambda can create without giving the gateway IAM rights there. Rotation is `npm run link-credentials -- --rotate`, run by an operator holding both partitions\' credentials; it stores the new key before retiring the old one.',
    });
  }
}
