import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';

/**
 * Read access to a KMS-encrypted secret, granted on the reader's side only:
 * - CDK's grantRead lets the key be used through `kms:ViaService = secretsmanager.<region>.amazonaws.com`,
 *   a value whose form in the aws-cn partition is unconfirmed (and aws-cdk#20087 shows that grant alone
 *   is fragile); here Decrypt is conditioned on Secrets Manager's encryption context for this one secret;
 * - no resource policy changes, so a reader in another stack adds no reference back (no cycle).
 * The kit's keys keep the default policy that lets IAM policies of the account grant their use.
 */
export function grantSecretRead(secret: secretsmanager.ISecret, key: kms.IKey, grantee: iam.IGrantable): void {
  grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], resources: [secret.secretArn] }));
  grantee.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['kms:Decrypt'],
      resources: [key.keyArn],
      conditions: { StringEquals: { 'kms:EncryptionContext:SecretARN': secret.secretArn } },
    }),
  );
}
