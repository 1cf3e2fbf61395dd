import { CfnOutput, CfnResource, Fn, Stack, Validations } from 'aws-cdk-lib';
import { registryTypes, TAG_LAGGING_TYPES } from '../../lib/china/cfn-registry';
import { TEMPLATE_LIMITS, TemplateFormatChecks, templateProblems, TemplateFacts } from '../../lib/checks/template-format-checks';
import { newApp } from '../helpers/kit-app';

const inChina: TemplateFacts = { region: 'cn-northwest-1', bodyBytes: 10_000, uploadedToS3: true };
const rulesOf = (template: Record<string, unknown>, facts: TemplateFacts = inChina) => templateProblems(template, facts).map((p) => `${p.rule.id}@${p.location}`);
const many = (n: number, value: (i: number) => unknown) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`E${i}`, value(i)]));
const bucket = { Type: 'AWS::S3::Bucket', Properties: {} };

describe('template checks, rule by rule', () => {
  test('a clean template passes', () => {
    expect(rulesOf({ Description: 'fine', Resources: { Bucket: bucket }, Outputs: { Name: { Value: { Ref: 'Bucket' }, Description: 'the bucket' } } })).toEqual([]);
  });

  test('an output Description must be a literal string (values may use functions)', () => {
    const template = {
      Resources: { Bucket: bucket },
      Outputs: {
        Computed: { Value: { 'Fn::GetAtt': ['Bucket', 'Arn'] }, Description: 'literal' },
        Joined: { Value: 'x', Description: { 'Fn::Join': ['', ['The model callers send to ', { Ref: 'Bucket' }]] } },
      },
    };
    expect(rulesOf(template)).toEqual(['OutputDescriptionLiteral@Outputs.Joined.Description']);
  });

  test('quotas: resources, outputs, parameters, mappings and their attributes, dynamic references', () => {
    expect(rulesOf({ Resources: many(TEMPLATE_LIMITS.resources, () => bucket) })).toEqual([]);
    expect(rulesOf({ Resources: many(501, () => bucket) })).toEqual(['Quotas@Resources']);
    expect(rulesOf({ Resources: { Bucket: bucket }, Outputs: many(201, () => ({ Value: 'v' })) })).toEqual(['Quotas@Outputs']);
    expect(rulesOf({ Resources: { Bucket: bucket }, Parameters: many(201, () => ({ Type: 'String' })) })).toEqual(['Quotas@Parameters']);
    expect(rulesOf({ Resources: { Bucket: bucket }, Mappings: many(201, () => ({ a: { b: 'c' } })) })).toEqual(['Quotas@Mappings']);
    expect(rulesOf({ Resources: { Bucket: bucket }, Mappings: { Big: many(201, () => ({ b: 'c' })) } })).toEqual(['Quotas@Mappings.Big']);
    const resolve = (i: number) => ({ Type: 'AWS::SSM::Parameter', Properties: { Type: 'String', Value: `{{resolve:ssm:/p/${i}}}` } });
    expect(rulesOf({ Resources: many(61, resolve) })).toEqual(['Quotas@(template)']);
  });

  test('logical ids: alphanumeric, at most 255 characters, in every section', () => {
    const long = 'A'.repeat(256);
    expect(rulesOf({ Resources: { 'My-Bucket': bucket, [long]: bucket }, Conditions: { 'Is.China': { 'Fn::Equals': ['a', 'a'] } } })).toEqual([
      'LogicalIds@Resources.My-Bucket',
      `LogicalIds@Resources.${long}`,
      'LogicalIds@Conditions.Is.China',
    ]);
  });

  test('the template description: a literal string of at most 1,024 bytes (UTF-8: Chinese text counts 3 bytes a character)', () => {
    expect(rulesOf({ Description: '模'.repeat(341), Resources: { Bucket: bucket } })).toEqual([]);
    expect(rulesOf({ Description: '模'.repeat(342), Resources: { Bucket: bucket } })).toEqual(['TemplateDescription@Description']);
    expect(rulesOf({ Description: { 'Fn::Sub': '${AWS::Region}' }, Resources: { Bucket: bucket } })).toEqual(['TemplateDescription@Description']);
  });

  test('template body: 1 MB from S3, 51,200 bytes inline', () => {
    const template = { Resources: { Bucket: bucket } };
    expect(rulesOf(template, { ...inChina, bodyBytes: 900_000, uploadedToS3: true })).toEqual([]);
    expect(rulesOf(template, { ...inChina, bodyBytes: 1_000_001, uploadedToS3: true })).toEqual(['TemplateSize@(template)']);
    expect(rulesOf(template, { ...inChina, bodyBytes: 51_201, uploadedToS3: false })).toEqual(['TemplateSize@(template)']);
  });

  test('China stacks: every type in the region registry; custom resources and CDK metadata need none; global stacks are not judged by it', () => {
    const template = {
      Resources: {
        Url: { Type: 'AWS::Lambda::Url', Properties: {} },
        Pool: { Type: 'AWS::Cognito::UserPool', Properties: {} },
        Custom: { Type: 'Custom::VpcRestrictDefaultSG', Properties: {} },
        Meta: { Type: 'AWS::CDK::Metadata', Properties: {} },
        Bucket: bucket,
      },
    };
    expect(rulesOf(template)).toEqual(['RegistryType@Resources.Url.Type', 'RegistryType@Resources.Pool.Type']);
    expect(rulesOf(template, { ...inChina, region: 'us-east-1' })).toEqual([]);
    // The lists differ by region: AppStream is in Ningxia's registry, not in Beijing's.
    const appStream = { Resources: { Fleet: { Type: 'AWS::AppStream::Fleet', Properties: {} } } };
    expect(registryTypes('cn-northwest-1').has('AWS::AppStream::Fleet')).toBe(true);
    expect(rulesOf(appStream)).toEqual([]);
    expect(rulesOf(appStream, { ...inChina, region: 'cn-north-1' })).toEqual(['RegistryType@Resources.Fleet.Type']);
  });

  test('properties China lags on: Tags on ELBv2 listeners and scalable targets, unless the operator says the region accepts them', () => {
    expect(TAG_LAGGING_TYPES).toEqual(['AWS::ElasticLoadBalancingV2::Listener', 'AWS::ApplicationAutoScaling::ScalableTarget']);
    const tags = [{ Key: 'k', Value: 'v' }];
    const template = {
      Resources: {
        Listener: { Type: 'AWS::ElasticLoadBalancingV2::Listener', Properties: { Port: 80, Tags: tags } },
        Target: { Type: 'AWS::ApplicationAutoScaling::ScalableTarget', Properties: { Tags: tags } },
        Plain: { Type: 'AWS::ElasticLoadBalancingV2::Listener', Properties: { Port: 80 } },
        Balancer: { Type: 'AWS::ElasticLoadBalancingV2::LoadBalancer', Properties: { Tags: tags } },
      },
    };
    expect(rulesOf(template)).toEqual(['LaggingProperty@Resources.Listener.Properties.Tags', 'LaggingProperty@Resources.Target.Properties.Tags']);
    expect(rulesOf(template, { ...inChina, acceptedLaggingProperties: ['Tags'] })).toEqual([]);
    expect(rulesOf(template, { ...inChina, region: 'us-east-1' })).toEqual([]);
  });

  test('values China constrains more tightly: ECR repository names with "--" or "__" fail in China only; tokens are not judged', () => {
    const repository = (name: unknown) => ({ Type: 'AWS::ECR::Repository', Properties: { RepositoryName: name } });
    const template = {
      Resources: {
        Fine: repository('llm-prod/vllm'),
        Nested: repository('team.a/tools_1/node'),
        Dashes: repository('llm--prod/vllm'),
        Underscores: repository('llm/cuda__12'),
        Token: repository({ 'Fn::Join': ['/', [{ Ref: 'AWS::StackName' }, 'vllm']] }),
        Unnamed: { Type: 'AWS::ECR::Repository', Properties: {} },
      },
    };
    expect(rulesOf(template)).toEqual(['RegistryPattern@Resources.Dashes.Properties.RepositoryName', 'RegistryPattern@Resources.Underscores.Properties.RepositoryName']);
    expect(rulesOf(template, { ...inChina, region: 'cn-north-1' })).toHaveLength(2);
    expect(rulesOf(template, { ...inChina, region: 'us-east-1' })).toEqual([]);
    expect(templateProblems(template, inChina)[0].message).toContain('"llm--prod/vllm" does not match the cn-northwest-1 registry\'s pattern');
  });
});

describe('as a validation plugin on the app', () => {
  const stackWith = (build: (stack: Stack) => void) => {
    const app = newApp();
    Validations.of(app).addPlugins(new TemplateFormatChecks());
    build(new Stack(app, 'Subject', { env: { account: '111122223333', region: 'cn-northwest-1' } }));
    return app;
  };

  test('a token in an output description fails synth, naming the output, the rule and the fix', () => {
    const app = stackWith((s) => {
      const bucket = new CfnResource(s, 'Bucket', { type: 'AWS::S3::Bucket' });
      new CfnOutput(s, 'Url', { value: bucket.ref, description: Fn.join('', ['The model callers send to ', bucket.ref]) });
    });
    expect(() => app.synth()).toThrow(
      /ERROR Every output Description is a literal string .*: output Url has a Description built with Fn::Join\. \(cn-llm-kit TemplateFormat\)[\s\S]*Suggested fix: Write the description as plain text/,
    );
  });

  test('the plugin reports each problem with its rule and location', () => {
    const app = stackWith((s) => {
      new CfnResource(s, 'Url', { type: 'AWS::Lambda::Url', properties: { AuthType: 'AWS_IAM', TargetFunctionArn: 'arn:aws-cn:lambda:cn-northwest-1:111122223333:function:f' } });
    });
    const plugin = new TemplateFormatChecks();
    let report: ReturnType<TemplateFormatChecks['validate']> | undefined;
    Validations.of(app).addPlugins({ name: 'capture', validate: (context) => (report = plugin.validate(context)) });
    expect(() => app.synth()).toThrow();
    expect(report!.success).toBe(false);
    expect(report!.violations.map((v) => [v.ruleName, v.violatingResources[0].resourceLogicalId, v.violatingResources[0].locations])).toEqual([
      ['TemplateFormat-RegistryType', 'Url', ['Resources.Url.Type']],
    ]);
    expect(report!.violations[0].description).toContain("Every resource type is in the China region's CloudFormation registry");
  });
});
