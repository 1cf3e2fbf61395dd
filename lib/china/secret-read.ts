import { ArnFormat, Stack, Validations } from 'aws-cdk-lib';
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

/**
 * Read access to every secret of this account and region whose name starts with `namePrefix`, for
 * secrets another stack owns and may create after the reader deploys (the vLLM services' API keys):
 * no reference to their stacks, so neither stack waits for or pins the other.
 * - Secret ARNs end in `-` and six random characters: the name prefix plus `*` covers them.
 * - kms:Decrypt on the account's keys, but only as Secrets Manager decrypting one of those secrets
 *   (encryption context SecretARN) on the reader's behalf (kms:ViaService). The ViaService value is
 *   listed in both forms, `secretsmanager.<region>.amazonaws.com` and `...amazonaws.com.cn`, because
 *   which one KMS reports in aws-cn is unconfirmed: both name Secrets Manager in this region only.
 * The keys keep the default policy that lets IAM policies of the account grant their use.
 */
export function grantSecretsReadByNamePrefix(role: iam.IRole, namePrefix: string, reason: string): void {
  const stack = Stack.of(role);
  const secrets = stack.formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: `${namePrefix}*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
  role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], resources: [secrets] }));
  const keys = stack.formatArn({ service: 'kms', resource: 'key', resourceName: '*' });
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['kms:Decrypt'],
      resources: [keys],
      conditions: {
        StringLike: { 'kms:EncryptionContext:SecretARN': secrets },
        StringEquals: { 'kms:ViaService': [`secretsmanager.${stack.region}.amazonaws.com`, `secretsmanager.${stack.region}.amazonaws.com.cn`] },
      },
    }),
  );
  Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[Resource::${secrets}]`, reason });
  Validations.of(role).acknowledge({
    id: `AwsSolutions-IAM5[Resource::${keys}]`,
    reason: `${reason} Decrypt is limited to Secrets Manager (kms:ViaService) decrypting those secrets (encryption context SecretARN).`,
  });
}
