import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';

/**
 * Read access to a KMS-encrypted secret that works in China. CDK's grantRead lets the key be used
 * only through `kms:ViaService = secretsmanager.<region>.amazonaws.com`, and the form of that value
 * in the aws-cn partition is unconfirmed (aws-cdk#20087 shows the grant alone is fragile). Decrypt is
 * also granted on the key for exactly this secret, by Secrets Manager's encryption context.
 */
export function grantSecretRead(secret: secretsmanager.ISecret, key: kms.IKey, grantee: iam.IGrantable): void {
  secret.grantRead(grantee);
  grantee.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['kms:Decrypt'],
      resources: [key.keyArn],
      conditions: { StringEquals: { 'kms:EncryptionContext:SecretARN': secret.secretArn } },
    }),
  );
}
