import * as fs from 'fs';
import * as path from 'path';
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

  test('repository names fit the China registry\'s pattern: a prefix with "--" fails config, naming the field, before a China deploy would refuse it', () => {
    expect(() => kitApp({ prefix: 'llm--prod' })).toThrow(/prefix = "llm--prod": .*no "--": ECR repository names in China/);
    const { kit: single } = kitApp({ prefix: 'llm-prod-a1', 'stacks.bedrockAccess': 'false', 'stacks.gateway': 'false', 'stacks.vllmEc2': 'false' });
    Template.fromStack(single.modelStore!).hasResourceProperties('AWS::ECR::Repository', { RepositoryName: 'llm-prod-a1/vllm' });
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

  test('a CodeBuild project stages weights in-region: image from the private ECR, script as an asset, KMS, own narrow role', () => {
    const project = Object.values(template.findResources('AWS::CodeBuild::Project'))[0] as any;
    expect(project.Properties.Name).toBe('cnllm-stage-model');
    expect(project.Properties.Environment).toEqual(
      expect.objectContaining({
        ComputeType: 'BUILD_GENERAL1_LARGE',
        PrivilegedMode: false,
        ImagePullCredentialsType: 'SERVICE_ROLE',
        EnvironmentVariables: expect.arrayContaining([
          { Name: 'BUCKET', Type: 'PLAINTEXT', Value: 'cnllm-weights-111122223333-cn-northwest-1' },
          { Name: 'PIP_INDEX_URL', Type: 'PLAINTEXT', Value: 'https://mirrors.aliyun.com/pypi/simple/' },
          { Name: 'PIP_PACKAGES', Type: 'PLAINTEXT', Value: 'modelscope==1.28.0 awscli==1.40.0' },
        ]),
      }),
    );
    expect(JSON.stringify(project.Properties.Environment.Image)).toContain(':3.12-slim');
    expect(JSON.stringify(project.Properties.Environment.Image)).toContain('Repositorytools');
    expect(project.Properties.Source.Type).toBe('S3');
    expect(project.Properties.EncryptionKey).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    expect(project.Properties.TimeoutInMinutes).toBe(480);
    const policy = (Object.values(template.findResources('AWS::IAM::Policy')) as any[]).find((p) => JSON.stringify(p.Properties.Roles).includes('StagingRole')).Properties.PolicyDocument;
    const bySid = (sid: string) => policy.Statement.find((st: any) => st.Sid === sid);
    expect(bySid('WriteModels').Resource).toBe('arn:aws-cn:s3:::cnllm-weights-111122223333-cn-northwest-1/models/*');
    expect(bySid('EcrLogin').Resource).toBe('*');
    expect(policy.Statement.map((st: any) => st.Sid).sort()).toEqual(['EcrLogin', 'ListModels', 'PullToolsImage', 'ReadScript', 'UseKey', 'WriteLogs', 'WriteModels']);
    for (const st of policy.Statement) for (const action of [st.Action].flat()) expect(action).not.toContain('*');
  });

  test('the staging script ships as an asset of runtime/staging', () => {
    const { app } = kitApp();
    const assembly = app.synth();
    const manifest = JSON.parse(fs.readFileSync(path.join(assembly.directory, 'cnllm-ModelStore.assets.json'), 'utf8'));
    const sources = Object.values(manifest.files).map((f: any) => f.source.path);
    const scriptAsset = sources.find((p: string) => fs.existsSync(path.join(assembly.directory, p, 'stage-model.sh')));
    expect(scriptAsset).toBeDefined();
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
