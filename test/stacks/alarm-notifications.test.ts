import { Template } from 'aws-cdk-lib/assertions';
import { kitApp } from '../helpers/kit-app';
import { resourcesOf } from '../helpers/template';
import { nagFindings } from '../helpers/nag';

/** Every stack the kit can build, alarms included (streaming door and EKS on). */
const everything = {
  'gateway.streamingDoor.enabled': 'true',
  'stacks.vllmEks': 'true',
  'alarms.email': 'ops@example.com,oncall@example.com',
  'alarms.httpsEndpoints': 'https://hooks.example.com/cnllm',
};

describe('alarms notify someone', () => {
  const { kit } = kitApp(everything);

  test('every CloudWatch alarm in every stack has alarm and OK actions on a topic of its own stack', () => {
    let alarms = 0;
    for (const stack of kit.stacks) {
      const template = Template.fromStack(stack);
      const topics = Object.keys(template.findResources('AWS::SNS::Topic'));
      for (const [id, alarm] of Object.entries(template.findResources('AWS::CloudWatch::Alarm'))) {
        alarms++;
        const where = `${stack.stackName}/${id}`;
        for (const actions of [alarm.Properties.AlarmActions, alarm.Properties.OKActions]) {
          expect({ where, actions: actions ?? [] }).toEqual({ where, actions: [expect.anything()] });
          // A Ref to a topic of the same stack: no cross-stack import that would order deploys.
          expect({ where, topic: topics.includes(actions[0].Ref) }).toEqual({ where, topic: true });
        }
      }
    }
    // Gateway (5xx rate, throttles, p99, door: unhealthy tasks, 5xx) and vLLM on EC2 (unhealthy hosts, 5xx).
    expect(alarms).toBeGreaterThanOrEqual(7);
  });

  test('the topics are KMS-encrypted, TLS-only, and have the configured subscribers', () => {
    for (const stack of [kit.gateway!, kit.vllmEc2!]) {
      const template = Template.fromStack(stack);
      const [topicId, topic] = Object.entries(template.findResources('AWS::SNS::Topic')).find(([, t]) => /alarms$/.test(t.Properties.DisplayName))!;
      expect(topic.Properties.KmsMasterKeyId).toBeDefined();
      const policy = resourcesOf(template, 'AWS::SNS::TopicPolicy').find((p) => JSON.stringify(p.Properties.Topics).includes(topicId))!.Properties.PolicyDocument;
      expect(policy.Statement).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          expect.objectContaining({ Sid: 'AlarmsOfThisAccountPublish', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish' }),
        ]),
      );
      const subs = resourcesOf(template, 'AWS::SNS::Subscription').filter((s) => s.Properties.TopicArn.Ref === topicId).map((s) => [s.Properties.Protocol, s.Properties.Endpoint]);
      expect(subs).toEqual([
        ['email', 'ops@example.com'],
        ['email', 'oncall@example.com'],
        ['https', 'https://hooks.example.com/cnllm'],
      ]);
      // CloudWatch may use the topic's key to publish.
      const keyPolicies = JSON.stringify(resourcesOf(template, 'AWS::KMS::Key').map((k) => k.Properties.KeyPolicy));
      expect(keyPolicies).toMatch(/"Action":\["kms:Decrypt","kms:GenerateDataKey\*"\],"Effect":"Allow","Principal":\{"Service":(\[[^\]]*)?"cloudwatch\.amazonaws\.com"/);
      expect(nagFindings(stack).filter((f) => /SNS/.test(f.rule))).toEqual([]);
    }
  });

  test('subscribers are checked: an http:// endpoint or a malformed address fails synth naming the field', () => {
    expect(() => kitApp({ 'alarms.httpsEndpoints': 'http://hooks.example.com/x' })).toThrow(/alarms\.httpsEndpoints/);
    expect(() => kitApp({ 'alarms.email': 'not-an-address' })).toThrow(/alarms\.email/);
  });
});
