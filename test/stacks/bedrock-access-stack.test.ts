import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { kitApp } from '../helpers/kit-app';
import { nagFindings } from '../helpers/nag';

const policyOf = (template: Template) => Object.values(template.findResources('AWS::IAM::Policy'))[0].Properties.PolicyDocument;

describe('BedrockAccess stack (global partition)', () => {
  const { kit } = kitApp({ 'bedrock.sourceIps': '52.83.10.1,52.83.10.2' });
  const stack = kit.bedrockAccess!;
  const template = Template.fromStack(stack);

  test('lives in the global account and region', () => {
    expect([stack.account, stack.region]).toEqual(['444455556666', 'us-east-1']);
  });

  test('a dedicated IAM user with no access key created by CloudFormation', () => {
    template.hasResourceProperties('AWS::IAM::User', { UserName: 'cnllm-china-gateway' });
    template.resourceCountIs('AWS::IAM::AccessKey', 0);
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
  });

  test('least privilege: only InvokeModel(+stream) on the allow-listed profiles and their destination-region models, from the China egress IPs', () => {
    const doc = policyOf(template);
    expect(doc.Statement).toHaveLength(1);
    const [statement] = doc.Statement;
    expect(statement.Action).toEqual(['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream']);
    expect(statement.Condition).toEqual({ IpAddress: { 'aws:SourceIp': ['52.83.10.1', '52.83.10.2'] } });
    expect(statement.Resource).toHaveLength(4 + 4 * 3);
    expect(statement.Resource).toEqual(
      expect.arrayContaining([
        'arn:aws:bedrock:us-east-1:444455556666:inference-profile/us.amazon.nova-pro-v1:0',
        'arn:aws:bedrock:us-east-2::foundation-model/amazon.nova-pro-v1:0',
        'arn:aws:bedrock:us-west-2::foundation-model/amazon.nova-2-lite-v1:0',
      ]),
    );
    for (const arn of statement.Resource) expect(arn).toMatch(/^arn:aws:bedrock:/);
    expect(JSON.stringify(template.toJSON())).not.toMatch(/Premier|premier/);
  });

  test('no source-IP pin unless configured', () => {
    const { kit: open } = kitApp();
    expect(policyOf(Template.fromStack(open.bedrockAccess!)).Statement[0].Condition).toBeUndefined();
  });

  test('Nova Premier only when asked for, with a warning that it is Legacy', () => {
    const { kit: withPremier } = kitApp({ 'bedrock.models': '["nova-pro","nova-premier"]' });
    const t = Template.fromStack(withPremier.bedrockAccess!);
    expect(policyOf(t).Statement[0].Resource).toContain('arn:aws:bedrock:us-east-1:444455556666:inference-profile/us.amazon.nova-premier-v1:0');
    Annotations.fromStack(withPremier.bedrockAccess!).hasWarning('*', Match.stringLikeRegexp('Nova Premier v1 is Legacy'));
  });

  test('a guardrail adds ApplyGuardrail on exactly that guardrail', () => {
    const { kit: guarded } = kitApp({ 'bedrock.guardrail': '{"id":"gr1abc","version":"2"}' });
    expect(policyOf(Template.fromStack(guarded.bedrockAccess!)).Statement[1]).toEqual(
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
