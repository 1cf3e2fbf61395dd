import { Template } from 'aws-cdk-lib/assertions';
import { ConfigError, loadConfig } from '../../lib/config/load';
import { kitApp, cdkJsonContext } from '../helpers/kit-app';
import { nagFindings } from '../helpers/nag';
import { resourcesOf } from '../helpers/template';

const QUOTAS = {
  'quotas.default.requestsPerMinute': '60',
  'quotas.groups': JSON.stringify({ 'team-a': { monthlyBudget: 5000, perIdentity: { tokensPerMinute: 20000 } }, 'team-b': { requestsPerMinute: 100 } }),
  'quotas.prices': JSON.stringify({ 'nova-lite': { input: 0.5, output: 2, currency: 'CNY' } }),
  'quotas.principals': JSON.stringify([{ pattern: 'arn:aws-cn:iam::*:role/team-a-*', group: 'team-a' }]),
};

/** Statements of the policies attached to a role (by its logical id). */
function statementsOf(template: Template, roleLogicalId: string): any[] {
  return resourcesOf(template, 'AWS::IAM::Policy')
    .filter((p) => p.Properties.Roles.some((r: any) => r.Ref === roleLogicalId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
}

describe('Gateway stack with quotas: the shared counter table', () => {
  const { kit } = kitApp({ ...QUOTAS, 'gateway.streamingDoor.enabled': 'true' });
  const stack = kit.gateway!;
  const t = Template.fromStack(stack);
  const json = t.toJSON();
  const [tableId] = Object.keys(t.findResources('AWS::DynamoDB::Table', { Properties: { TableName: 'cnllm-quotas' } }));
  const keyId = Object.keys(t.findResources('AWS::KMS::Key'))[0];

  test('one table, encrypted with the kit key, point-in-time recovery, counters expire by TTL, kept on stack deletion', () => {
    const table = json.Resources[tableId];
    expect(table.Properties).toEqual(
      expect.objectContaining({
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        SSESpecification: { KMSMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] }, SSEEnabled: true, SSEType: 'KMS' },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      }),
    );
    expect(table.DeletionPolicy).toBe('Retain');
  });

  test('the Lambda and the door task get exactly the calls they make, on this table only: no dynamodb:*, no Resource *', () => {
    const lambdaRole = stack.getLogicalId(kit.gateway!.gatewayFunction.function.role!.node.defaultChild as any);
    const taskRole = stack.getLogicalId(kit.gateway!.streamingDoor!.service.taskDefinition.taskRole.node.defaultChild as any);
    for (const role of [lambdaRole, taskRole]) {
      const statements = statementsOf(t, role);
      const quota = statements.filter((s) => JSON.stringify(s.Resource).includes(tableId));
      expect(quota).toEqual([
        { Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [tableId, 'Arn'] }, Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['c#*'] } } },
        { Action: 'dynamodb:Query', Effect: 'Allow', Resource: { 'Fn::GetAtt': [tableId, 'Arn'] }, Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['limits'] } } },
      ]);
      for (const s of statements.filter((x) => JSON.stringify(x.Action).includes('dynamodb:'))) {
        expect(JSON.stringify(s.Action)).not.toMatch(/dynamodb:\*|dynamodb:(Scan|PutItem|DeleteItem|BatchWriteItem)/);
        expect(s.Resource).not.toBe('*');
      }
      expect(statements).toContainEqual({ Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [keyId, 'Arn'] } });
    }
  });

  test('both front doors get the table and the limits in their run-time settings', () => {
    const fn = resourcesOf(t, 'AWS::Lambda::Function').find((f) => f.Properties.Handler === 'index.handler')!.Properties;
    const text = JSON.stringify(fn.Environment.Variables.CNLLM_GATEWAY_CONFIG);
    expect(text).toContain('\\"tableName\\":\\"cnllm-quotas\\"');
    expect(text).toContain('\\"enforce\\":true');
    const container = resourcesOf(t, 'AWS::ECS::TaskDefinition')[0].Properties.ContainerDefinitions[0];
    const env = Object.fromEntries(container.Environment.map((e: any) => [e.Name, e.Value]));
    expect(JSON.stringify(env.CNLLM_GATEWAY_CONFIG)).toContain('cnllm-quotas');
  });

  test('an alarm per group with a monthly budget at quotas.budgetAlarmPercent, and one on store failures, all notifying the AlarmTopic', () => {
    const alarms = resourcesOf(t, 'AWS::CloudWatch::Alarm').map((a) => a.Properties);
    const budget = alarms.filter((a) => a.MetricName === 'BudgetUsedPercent');
    expect(budget).toHaveLength(1);
    expect(budget[0]).toEqual(expect.objectContaining({ Namespace: 'cn-llm-kit/Gateway', Dimensions: [{ Name: 'Group', Value: 'team-a' }], Threshold: 80, ComparisonOperator: 'GreaterThanOrEqualToThreshold', Statistic: 'Maximum' }));
    const topic = Object.keys(t.findResources('AWS::SNS::Topic'))[0];
    expect(budget[0].AlarmActions).toEqual([{ Ref: topic }]);
    expect(alarms.find((a) => a.MetricName === 'QuotaStoreFailures')).toEqual(expect.objectContaining({ Threshold: 0, AlarmActions: [{ Ref: topic }] }));
    // The usage dashboard shows what is left of each group's budget.
    expect(JSON.stringify(resourcesOf(t, 'AWS::CloudWatch::Dashboard')[0].Properties.DashboardBody)).toMatch(/Budget remaining by group.*100 - SEARCH\('MetricName=[\\"]+BudgetUsedPercent[\\"]+ Group', 'Maximum', 3600\)/);
  });

  test('no unacknowledged AwsSolutions or ChinaRegion findings on the quota store', () => {
    expect(nagFindings(stack).filter((f) => f.path.includes('/Quotas/'))).toEqual([]);
  });
});

describe('quotas off by default', () => {
  test('no table, no grants, and the gateway gets no quota settings unless something is priced or grouped', () => {
    const { kit } = kitApp();
    const t = Template.fromStack(kit.gateway!);
    expect(Object.keys(t.findResources('AWS::DynamoDB::Table'))).toEqual([]);
    expect(JSON.stringify(t.toJSON())).not.toMatch(/quotas|BudgetUsedPercent/);
  });
});

describe('bad quota config fails synth naming the field and the fix', () => {
  const problems = (context: Record<string, unknown>) => {
    try {
      loadConfig({ ...cdkJsonContext(), ...context });
    } catch (e) {
      if (e instanceof ConfigError) return e.problems;
      throw e;
    }
    return [];
  };

  test.each([
    [{ 'quotas.default.requestsPerMinute': '-5' }, /^quotas\.default\.requestsPerMinute = "-5": must be at least 1 \(requests per minute\)/],
    [{ 'quotas.default.monthlyBudget': 'lots' }, /^quotas\.default\.monthlyBudget = "lots": must be an amount of money/],
    [{ 'quotas.groups': '{"Team A":{"requestsPerMinute":5}}' }, /^quotas\.groups\.Team A = \{"requestsPerMinute":5\}: is not a usable name: the group name must be 1-40 lower-case letters/],
    [{ 'quotas.groups': '{"default":{"requestsPerMinute":5}}' }, /^quotas\.groups\.default = .*configured under quotas\.default/],
    [{ 'quotas.groups': '{"a":{"requestsPerMinut":5}}' }, /^quotas\.groups\.a: unknown key "requestsPerMinut"/],
    [{ 'quotas.onStoreFailure': 'maybe' }, /^quotas\.onStoreFailure = "maybe": must be open or closed/],
    [{ 'quotas.storeTimeoutMs': '10' }, /^quotas\.storeTimeoutMs = "10": must be at least 50/],
    [{ 'quotas.principals': '[{"pattern":"arn:aws-cn:iam::*:role/x","group":"Bad Group"}]' }, /^quotas\.principals\[0\]\.group = "Bad Group": must be a group name/],
    [{ 'quotas.default.monthlyBudget': '100' }, /^quotas\.default\.monthlyBudget = "100": is a money budget, but quotas\.prices is empty/],
    [
      { 'quotas.default.monthlyBudget': '100', 'quotas.prices': '{"nova-lite":{"input":1,"output":2,"currency":"USD"}}' },
      /^quotas\.prices\.nova-lite\.currency = "USD": must be CNY \(quotas\.currency\) while money budgets are set/,
    ],
  ])('%j', (context, expected) => {
    const found = problems(context);
    expect(found.some((p) => expected.test(p))).toBe(true);
  });
});
