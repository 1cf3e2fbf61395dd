import { Match, Template } from 'aws-cdk-lib/assertions';
import { checkChinaPartition } from '../helpers/partition';
import { kitApp } from '../helpers/kit-app';
import { nagFindings } from '../helpers/nag';

describe('ModelStore stack', () => {
  const { kit } = kitApp();
  const stack = kit.modelStore!;
  const template = Template.fromStack(stack);
  const json = template.toJSON();
  const keyId = Object.entries(json.Resources).find(([, r]: any) => r.Type === 'AWS::KMS::Key')![0];

  test('a rotating KMS key with an alias', () => {
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.hasResourceProperties('AWS::KMS::Alias', { AliasName: 'alias/cnllm/model-store' });
  });

  test('the weights bucket: KMS-encrypted, versioned, private, access-logged', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [keyId, 'Arn'] } }, BucketKeyEnabled: true }],
      },
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LoggingConfiguration: { DestinationBucketName: Match.anyValue(), LogFilePrefix: 'weights/' },
    });
  });

  test('both buckets refuse plain HTTP and old TLS', () => {
    const policies = Object.values(json.Resources).filter((r: any) => r.Type === 'AWS::S3::BucketPolicy') as any[];
    expect(policies).toHaveLength(2);
    for (const p of policies) {
      const conditions = p.Properties.PolicyDocument.Statement.filter((s: any) => s.Effect === 'Deny').map((s: any) => s.Condition);
      expect(conditions).toEqual(expect.arrayContaining([{ Bool: { 'aws:SecureTransport': 'false' } }, { NumericLessThan: { 's3:TlsVersion': 1.2 } }]));
    }
  });

  test('private ECR repositories: scan on push, immutable tags, KMS, lifecycle rules', () => {
    for (const name of ['cnllm/vllm', 'cnllm/tools']) {
      template.hasResourceProperties('AWS::ECR::Repository', {
        RepositoryName: name,
        ImageScanningConfiguration: { ScanOnPush: true },
        ImageTagMutability: 'IMMUTABLE',
        EncryptionConfiguration: { EncryptionType: 'KMS', KmsKey: { 'Fn::GetAtt': [keyId, 'Arn'] } },
      });
    }
    const policy = JSON.parse((Object.values(json.Resources).find((r: any) => r.Type === 'AWS::ECR::Repository') as any).Properties.LifecyclePolicy.LifecyclePolicyText);
    expect(policy.rules.map((r: any) => r.selection)).toEqual([
      expect.objectContaining({ tagStatus: 'untagged', countType: 'sinceImagePushed', countNumber: 7 }),
      expect.objectContaining({ tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 20 }),
    ]);
  });

  test('outputs the bucket name and repository URIs on the .amazonaws.com.cn registry host', () => {
    expect(json.Outputs['RepositoryUrivllm'].Value).toBe('111122223333.dkr.ecr.cn-northwest-1.amazonaws.com.cn/cnllm/vllm');
    expect(json.Outputs['RepositoryUritools'].Value).toBe('111122223333.dkr.ecr.cn-northwest-1.amazonaws.com.cn/cnllm/tools');
    expect(json.Outputs.WeightsBucketName.Value).toEqual({ Ref: expect.stringMatching(/^Weights/) });
  });

  test('retains data on delete by default, and can be told not to', () => {
    const buckets = Object.values(json.Resources).filter((r: any) => r.Type === 'AWS::S3::Bucket') as any[];
    for (const b of buckets) expect(b.DeletionPolicy).toBe('Retain');
    const { kit: disposable } = kitApp({ 'modelStore.retainOnDelete': 'false' });
    const t = Template.fromStack(disposable.modelStore!);
    t.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Delete' });
    t.hasResourceProperties('AWS::ECR::Repository', { EmptyOnDelete: true });
  });

  test('every ARN is arn:aws-cn:', () => {
    const { arns, wrong } = checkChinaPartition(json, { region: 'cn-northwest-1', account: '111122223333' });
    expect(arns.length).toBeGreaterThan(0);
    expect(wrong).toEqual([]);
  });

  test('zero unacknowledged nag findings; the one acknowledgement is the log bucket\'s own logging', () => {
    expect(nagFindings(stack).filter((f) => f.severity === 'error')).toEqual([]);
  });

  test('template snapshot', () => {
    expect(json).toMatchSnapshot();
  });
});
