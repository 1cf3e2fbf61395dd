import { Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';

/**
 * Lets a role read one model revision's prefix of the weights bucket, and list only under it. The
 * bucket is named, not referenced: its name is deterministic, so no cross-stack export is needed.
 */
export function grantModelRead(role: iam.Role, opts: { bucketName: string; prefix: string; reason: string; sids?: { read: string; list: string } }): void {
  const stack = Stack.of(role);
  const bucketArn = stack.formatArn({ service: 's3', region: '', account: '', resource: opts.bucketName });
  const modelObjects = `${bucketArn}/${opts.prefix}*`;
  role.addToPolicy(new iam.PolicyStatement({ sid: opts.sids?.read, actions: ['s3:GetObject'], resources: [modelObjects] }));
  role.addToPolicy(new iam.PolicyStatement({ sid: opts.sids?.list, actions: ['s3:ListBucket'], resources: [bucketArn], conditions: { StringLike: { 's3:prefix': [`${opts.prefix}*`] } } }));
  Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[Resource::${stack.resolve(modelObjects)}]`, reason: opts.reason });
}
