import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { kitApp } from '../helpers/kit-app';
import { nagFindings } from '../helpers/nag';

const policyOf = (template: Template) => Object.values(template.findResources('AWS::IAM::Policy'))[0].Properties.PolicyDocument;
const statementOf = (template: Template, sid: string) => policyOf(template).Statement.find((s: { Sid: string }) => s.Sid === sid);
/** The policy is minimized (sorted, single values unwrapped): compare as sorted lists. */
const sorted = (value: string | string[]) => [value].flat().sort();

describe('BedrockAccess stack (global partition)', () => {
  const { kit } = kitApp({ 'bedrock.sourceIps': '52.83.10.1,52.83.10.2' });
  const stack = kit.bedrockAccess!;
  const template = Template.fromStack(stack);

  test('lives in the global account and region', () => {
    expect([stack.account, stack.region]).toEqual(['444455556666', 'us-east-1']);
  });

  test('a dedicated IAM user with no access key created by CloudFormation, its permissions through a group', () => {
    template.hasResourceProperties('AWS::IAM::User', { UserName: 'cnllm-china-gateway', Groups: [{ Ref: Match.stringLikeRegexp('GatewayGroup') }] });
    const [policy] = Object.values(template.findResources('AWS::IAM::Policy'));
    expect(policy.Properties.Users).toBeUndefined();
    expect(policy.Properties.Groups).toEqual([{ Ref: expect.stringMatching(/^GatewayGroup/) }]);
    template.resourceCountIs('AWS::IAM::AccessKey', 0);
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
  });

  test('least privilege: only InvokeModel(+stream) on the allow-listed profiles, and their models only through them, from the China egress IPs', () => {
    const doc = policyOf(template);
    expect(doc.Statement).toHaveLength(2);
    const [invoke, behind] = ['InvokeAllowListedModels', 'ServeThroughAllowListedProfiles'].map((sid) => statementOf(template, sid));
    for (const statement of doc.Statement) {
      expect(statement.Action).toEqual(['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream']);
      for (const arn of [statement.Resource].flat()) expect(arn).toMatch(/^arn:aws:bedrock:/);
    }
    expect(invoke.Condition).toEqual({ IpAddress: { 'aws:SourceIp': ['52.83.10.1', '52.83.10.2'] } });
    expect(sorted(invoke.Resource)).toEqual(sorted(['micro', 'lite', 'pro', '2-lite'].map((m) => `arn:aws:bedrock:us-east-1:444455556666:inference-profile/us.amazon.nova-${m}-v1:0`)));
    expect(behind.Resource).toHaveLength(4 * 3);
    expect(behind.Resource).toEqual(expect.arrayContaining(['arn:aws:bedrock:us-east-2::foundation-model/amazon.nova-pro-v1:0', 'arn:aws:bedrock:us-west-2::foundation-model/amazon.nova-2-lite-v1:0']));
    expect(behind.Condition.IpAddress).toEqual({ 'aws:SourceIp': ['52.83.10.1', '52.83.10.2'] });
    expect(sorted(behind.Condition.StringEquals['bedrock:InferenceProfileArn'])).toEqual(sorted(invoke.Resource));
    expect(JSON.stringify(template.toJSON())).not.toMatch(/Premier|premier/);
  });

  describe('the ARNs Bedrock authorizes, per kind of model entry', () => {
    const statementsFor = (model: Record<string, unknown>) => {
      // Only the global stack: the China stacks do not change with the allow-list's IAM.
      const { kit: k } = kitApp({ 'bedrock.models': JSON.stringify([model]), 'stacks.network': 'false', 'stacks.modelStore': 'false', 'stacks.gateway': 'false', 'stacks.vllmEc2': 'false' });
      return policyOf(Template.fromStack(k.bedrockAccess!)).Statement as { Sid: string; Resource: string | string[]; Condition?: any }[];
    };

    test('us. profile: the profile in the home region, the model in every destination region through that profile', () => {
      const [invoke, behind] = statementsFor({ alias: 'lite', modelId: 'amazon.nova-lite-v1:0', profile: 'us', destinationRegions: ['us-east-1', 'us-west-2'] });
      expect(invoke.Resource).toBe('arn:aws:bedrock:us-east-1:444455556666:inference-profile/us.amazon.nova-lite-v1:0');
      expect(sorted(behind.Resource)).toEqual(['arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0', 'arn:aws:bedrock:us-west-2::foundation-model/amazon.nova-lite-v1:0']);
      expect(sorted(behind.Condition.StringEquals['bedrock:InferenceProfileArn'])).toEqual(['arn:aws:bedrock:us-east-1:444455556666:inference-profile/us.amazon.nova-lite-v1:0']);
    });

    test('global. profile: also the region-less foundation model ARN (global routing is authorized against it)', () => {
      const [invoke, behind] = statementsFor({ alias: 'nova-2-lite-global', modelId: 'amazon.nova-2-lite-v1:0', profile: 'global', destinationRegions: ['us-east-1'] });
      expect(invoke.Resource).toBe('arn:aws:bedrock:us-east-1:444455556666:inference-profile/global.amazon.nova-2-lite-v1:0');
      expect(sorted(behind.Resource)).toEqual(['arn:aws:bedrock:::foundation-model/amazon.nova-2-lite-v1:0', 'arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-2-lite-v1:0']);
      expect(sorted(behind.Condition.StringEquals['bedrock:InferenceProfileArn'])).toEqual(['arn:aws:bedrock:us-east-1:444455556666:inference-profile/global.amazon.nova-2-lite-v1:0']);
    });

    test('a foundation model called without a profile: only that model in the home region, no profile statement', () => {
      const statements = statementsFor({ alias: 'titan', modelId: 'amazon.titan-text-express-v1', profile: 'none', destinationRegions: ['us-east-1'] });
      expect(statements).toHaveLength(1);
      expect(statements[0].Resource).toBe('arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-text-express-v1');
      expect(statements[0].Condition).toBeUndefined();
    });
  });

  test('no source-IP pin unless configured', () => {
    const { kit: open } = kitApp();
    const t = Template.fromStack(open.bedrockAccess!);
    expect(statementOf(t, 'InvokeAllowListedModels').Condition).toBeUndefined();
    expect(Object.keys(statementOf(t, 'ServeThroughAllowListedProfiles').Condition)).toEqual(['StringEquals']);
  });

  test('Nova Premier (past end of life) only when bedrock.allowEndOfLife keeps it, with a warning', () => {
    const { kit: withPremier } = kitApp({ 'bedrock.models': '["nova-pro","nova-premier"]', 'bedrock.allowEndOfLife': 'nova-premier' });
    const t = Template.fromStack(withPremier.bedrockAccess!);
    expect(statementOf(t, 'InvokeAllowListedModels').Resource).toContain('arn:aws:bedrock:us-east-1:444455556666:inference-profile/us.amazon.nova-premier-v1:0');
    Annotations.fromStack(withPremier.bedrockAccess!).hasWarning('*', Match.stringLikeRegexp('"nova-premier" .* is past its end of life \\(2026-09-14\\) and kept only because bedrock.allowEndOfLife lists it'));
  });

  test('a guardrail adds ApplyGuardrail on exactly that guardrail', () => {
    const { kit: guarded } = kitApp({ 'bedrock.guardrail': '{"id":"gr1abc","version":"2"}' });
    expect(statementOf(Template.fromStack(guarded.bedrockAccess!), 'ApplyGuardrail')).toEqual(
      expect.objectContaining({ Action: 'bedrock:ApplyGuardrail', Resource: 'arn:aws:bedrock:us-east-1:444455556666:guardrail/gr1abc' }),
    );
  });

  test('invocation logging is off by default, and when on logs to a KMS-encrypted group through a scoped role', () => {
    template.resourceCountIs('Custom::AWS', 0);
    const { kit: logged } = kitApp({ 'bedrock.invocationLogging': 'true' });
    const t = Template.fromStack(logged.bedrockAccess!);
    t.hasResourceProperties('AWS::Logs::LogGroup', { KmsKeyId: Match.anyValue(), RetentionInDays: 90 });
    t.hasResourceProperties('AWS::KMS::Key', { KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'logs.us-east-1.amazonaws.com' } })]) } });
    t.hasResourceProperties('AWS::IAM::Role', { AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'bedrock.amazonaws.com' } })] } });
    const create = JSON.parse(Object.values(t.findResources('Custom::AWS'))[0].Properties.Create['Fn::Join'][1].map((p: unknown) => (typeof p === 'string' ? p : 'TOKEN')).join(''));
    expect(create.action).toBe('PutModelInvocationLoggingConfiguration');
    expect(nagFindings(logged.bedrockAccess!).filter((f) => f.severity === 'error')).toEqual([]);
  });

  test('zero unacknowledged nag findings', () => {
    expect(nagFindings(stack).filter((f) => f.severity === 'error')).toEqual([]);
  });

  test('template snapshot', () => {
    expect(template.toJSON()).toMatchSnapshot();
  });
});
