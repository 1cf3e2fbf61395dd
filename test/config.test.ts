import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ConfigError, loadConfig } from '../lib/config/load';
import { gatewayRuntimeSettings } from '../lib/gateway/runtime-settings';

function problemsOf(context: Record<string, unknown>, cwd?: string): string[] {
  try {
    loadConfig(context, cwd);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error('expected the config to be rejected');
}

function tempConfigFile(content: string): { dir: string; file: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-config-'));
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(file, content);
  return { dir, file };
}

describe('defaults (the embedded demo config)', () => {
  const config = loadConfig({});

  test('target cn-northwest-1 with its three AZs and a demo account', () => {
    expect(config.china).toEqual({
      account: '111122223333',
      region: 'cn-northwest-1',
      availabilityZones: ['cn-northwest-1a', 'cn-northwest-1b', 'cn-northwest-1c'],
      tagLaggingTypes: false,
    });
    expect(config.global).toEqual({ account: '444455556666', region: 'us-east-1' });
  });

  test('serve one small open model from ModelScope', () => {
    expect(config.models).toEqual([
      expect.objectContaining({ id: 'Qwen/Qwen2.5-1.5B-Instruct', source: 'modelscope', parametersBillions: 1.5 }),
    ]);
  });

  test('derive a NAT gateway per AZ and the region GPU allow-list', () => {
    expect(config.network.natGateways).toBe(3);
    expect(config.gpu.allowedInstanceFamilies).toEqual(['g4dn', 'g5', 'p3', 'p4d', 'inf1']);
  });

  test('use the Lambda runtime and architecture confirmed in China', () => {
    expect(config.lambda).toEqual({ runtime: 'nodejs22.x', pythonRuntime: 'python3.12', architecture: 'x86_64' });
  });

  test('region defaults follow the chosen region', () => {
    const beijing = loadConfig({ 'china.region': 'cn-north-1' });
    expect(beijing.china.availabilityZones).toEqual(['cn-north-1a', 'cn-north-1b', 'cn-north-1d']);
    expect(beijing.gpu.allowedInstanceFamilies).not.toContain('p4d');
  });
});

describe('stacks that build on others', () => {
  test('every missing dependency is listed at once, with the value in effect (defaults included) and the fix', () => {
    expect(problemsOf({ 'stacks.network': 'false', 'stacks.modelStore': 'false', 'stacks.vllmEks': 'true' })).toEqual([
      "stacks.vllmEc2 = true: vLLM on EC2 needs the kit's network and model store; enable stacks.network and stacks.modelStore too.",
      "stacks.vllmEks = true: vLLM on EKS needs the kit's network and model store; enable stacks.network and stacks.modelStore too.",
      "stacks.gateway = true: the gateway runs in the kit's VPC; enable stacks.network too (it can reuse an existing VPC).",
    ]);
  });
});

describe('overrides', () => {
  test('-c keys are dotted paths; strings become booleans, numbers and lists where the schema wants them', () => {
    const config = loadConfig({
      'china.account': '012345678901',
      'stacks.modelStore': 'false',
      'stacks.vllmEc2': 'false', // it builds on the model store
      'china.availabilityZones': 'cn-northwest-1a, cn-northwest-1b',
      'network.natGateways': '1',
      'modelStore.repositories': '["vllm"]',
    });
    expect(config.china.account).toBe('012345678901'); // leading zero kept
    expect(config.stacks).toEqual({ network: true, modelStore: false, bedrockAccess: true, gateway: true, vllmEc2: false, vllmEks: false, agents: false, distill: false });
    expect(config.china.availabilityZones).toEqual(['cn-northwest-1a', 'cn-northwest-1b']);
    expect(config.network.natGateways).toBe(1);
    expect(config.modelStore.repositories).toEqual(['vllm']);
  });

  test('precedence: defaults < cdk.json "cnLlmKit" < config file < -c keys', () => {
    const { dir } = tempConfigFile(JSON.stringify({ prefix: 'fromfile', china: { account: '222233334444' } }));
    const config = loadConfig(
      { cnLlmKit: { prefix: 'fromcdkjson', tags: { team: 'ml' } }, config: 'config.json', 'china.account': '555566667777' },
      dir,
    );
    expect(config.prefix).toBe('fromfile');
    expect(config.tags).toEqual({ team: 'ml' });
    expect(config.china.account).toBe('555566667777');
  });

  test('CDK context keys (feature flags, aws:cdk:*) are not mistaken for config', () => {
    expect(() => loadConfig({ '@aws-cdk/core:enablePartitionLiterals': true, 'aws:cdk:enable-path-metadata': true })).not.toThrow();
  });
});

describe('validation errors name the field, the bad value and the fix, all at once', () => {
  test('a region outside China', () => {
    expect(problemsOf({ 'china.region': 'us-east-1' })).toEqual([
      'china.region = "us-east-1": must be one of cn-north-1, cn-northwest-1 (the AWS China regions).',
    ]);
  });

  test('a malformed account id', () => {
    expect(problemsOf({ 'china.account': '12345' })).toEqual([
      'china.account = "12345": must be the 12-digit id of your AWS China (aws-cn) account, e.g. "111122223333".',
    ]);
  });

  test('an AZ of another region, a repeated AZ, and more NAT gateways than AZs', () => {
    const problems = problemsOf({ 'china.availabilityZones': 'cn-northwest-1a,cn-north-1a,cn-northwest-1a', 'network.natGateways': '3' });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^china\.availabilityZones\[1\] = "cn-north-1a": is not an availability zone of cn-northwest-1; use some of cn-northwest-1a, cn-northwest-1b, cn-northwest-1c/),
        expect.stringMatching(/^china\.availabilityZones = .*lists an availability zone twice/),
      ]),
    );
    expect(problemsOf({ 'china.availabilityZones': 'cn-northwest-1a,cn-northwest-1b', 'network.natGateways': '3' })).toEqual([
      'network.natGateways = "3": must be at most the number of availability zones (2); one NAT gateway per AZ is the most that helps.',
    ]);
  });

  test('a wrong type', () => {
    expect(problemsOf({ 'stacks.network': 'yes' })).toEqual(['stacks.network = "yes": must be true or false.']);
    expect(problemsOf({ 'modelStore.keepTaggedImages': 'many' })).toEqual([
      'modelStore.keepTaggedImages = "many": must be a whole number (tagged images kept per repository).',
    ]);
  });

  test('unknown keys, in a file and on the command line, with the known ones listed', () => {
    const { dir } = tempConfigFile(JSON.stringify({ network: { vpcCird: '10.0.0.0/16' } }));
    const problems = problemsOf({ config: 'config.json', 'chian.account': '111122223333' }, dir);
    expect(problems).toEqual([
      expect.stringMatching(/^chian\.account: unknown configuration key; check the spelling; top-level keys are prefix, tags, china/),
      expect.stringMatching(/^network: unknown key "vpcCird"; remove it or check the spelling; known keys here are vpcCidr, natGateways/),
    ]);
  });

  test('a missing or broken config file', () => {
    expect(problemsOf({ config: 'does-not-exist.json' })).toEqual([expect.stringMatching(/^config: cannot read "does-not-exist.json" \(ENOENT\)/)]);
    const { dir } = tempConfigFile('{ "prefix": ');
    expect(problemsOf({ config: 'config.json' }, dir)).toEqual([expect.stringMatching(/^config: "config.json" is not valid JSON/)]);
  });

  test('an existing VPC whose subnets do not match the AZs', () => {
    const problems = problemsOf({
      'network.existingVpc': JSON.stringify({
        vpcId: 'vpc-0abc1234',
        vpcCidrBlock: '10.1.0.0/16',
        privateSubnetIds: ['subnet-0aaa1111'],
        privateSubnetRouteTableIds: ['rtb-0aaa1111', 'rtb-0bbb2222', 'rtb-0ccc3333'],
      }),
    });
    expect(problems).toEqual([
      'network.existingVpc.privateSubnetIds = ["subnet-0aaa1111"]: must list one entry per availability zone in china.availabilityZones (3), in the same order.',
    ]);
  });

  test('existing VPC ids have exactly 8 or 17 hex digits, and an error names the field and a correct example', () => {
    const existingVpc = (ids: { vpc: string; subnet: string; rtb: string }) => ({
      'china.availabilityZones': 'cn-northwest-1a,cn-northwest-1b',
      'network.existingVpc': JSON.stringify({ vpcId: ids.vpc, vpcCidrBlock: '10.1.0.0/16', privateSubnetIds: [ids.subnet, ids.subnet], privateSubnetRouteTableIds: [ids.rtb, ids.rtb] }),
    });
    expect(loadConfig(existingVpc({ vpc: 'vpc-0abc1234', subnet: 'subnet-0aaa1111', rtb: 'rtb-0aaa1111' })).network.existingVpc?.vpcId).toBe('vpc-0abc1234');
    expect(loadConfig(existingVpc({ vpc: 'vpc-0abc12345def67890', subnet: 'subnet-0aaa1111bbb22222c', rtb: 'rtb-0aaa1111bbb22222c' })).network.existingVpc?.privateSubnetIds).toEqual([
      'subnet-0aaa1111bbb22222c',
      'subnet-0aaa1111bbb22222c',
    ]);
    // 12 and 16 hex digits look plausible but no EC2 id has them.
    expect(problemsOf(existingVpc({ vpc: 'vpc-0abc1234def5', subnet: 'subnet-0aaa1111bbb22222', rtb: 'rtb-0aaa1111b' }))).toEqual([
      'network.existingVpc.vpcId = "vpc-0abc1234def5": must be a VPC id: "vpc-" and 8 or 17 lower-case hex digits, e.g. "vpc-0abc12345def67890".',
      'network.existingVpc.privateSubnetIds[0] = "subnet-0aaa1111bbb22222": must be a subnet id: "subnet-" and 8 or 17 lower-case hex digits, e.g. "subnet-0aaa1111bbb22222c".',
      'network.existingVpc.privateSubnetIds[1] = "subnet-0aaa1111bbb22222": must be a subnet id: "subnet-" and 8 or 17 lower-case hex digits, e.g. "subnet-0aaa1111bbb22222c".',
      'network.existingVpc.privateSubnetRouteTableIds[0] = "rtb-0aaa1111b": must be a route table id: "rtb-" and 8 or 17 lower-case hex digits, e.g. "rtb-0aaa1111bbb22222c".',
      'network.existingVpc.privateSubnetRouteTableIds[1] = "rtb-0aaa1111b": must be a route table id: "rtb-" and 8 or 17 lower-case hex digits, e.g. "rtb-0aaa1111bbb22222c".',
    ]);
  });

  test('duplicate served model names and reserved tag keys', () => {
    const problems = problemsOf({
      models: JSON.stringify([
        { id: 'Qwen/A', servedName: 'same', parametersBillions: 1 },
        { id: 'Qwen/B', servedName: 'same', parametersBillions: 2 },
      ]),
      tags: '{"aws:owner":"x"}',
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        'models[1].servedName = "same": is used by another model; served names must be unique.',
        'tags.aws:owner = "x": tag keys starting with "aws:" are reserved by AWS; rename the tag.',
      ]),
    );
  });

  test('every problem is reported in one error, with a hint on where to set values', () => {
    try {
      loadConfig({ 'china.region': 'eu-west-1', 'china.account': 'x', 'network.vpcCidr': '10.0.0.0/24', prefix: 'Bad_Prefix' });
      throw new Error('expected failure');
    } catch (e) {
      const message = (e as Error).message;
      expect(message).toMatch(/configuration is invalid \(4 problems\)/);
      expect(message).toContain('network.vpcCidr = "10.0.0.0/24": must be an IPv4 CIDR with a prefix from /16 to /20');
      expect(message).toContain('prefix = "Bad_Prefix"');
      expect(message).toContain('-c config=<file>');
    }
  });
});

describe('GPU sizing is validated at synth', () => {
  const model = (extra: object) => JSON.stringify([{ id: 'Qwen/Qwen2.5-7B-Instruct', servedName: 'q', parametersBillions: 7.6, ...extra }]);

  test('a model too large for the instance names the arithmetic and the ways out', () => {
    expect(problemsOf({ models: model({ instanceType: 'g4dn.xlarge' }) })).toEqual([
      'models[0].instanceType = "g4dn.xlarge": cannot hold the model: 7.6B parameters x 2 bytes = 14.2 GiB of weights plus KV-cache headroom needs 17.0 GiB, but 1 x T4 16 GiB x 0.9 gives 14.4 GiB. Choose a larger instance, more GPUs (tensorParallelSize), or quantized weights (bytesPerParameter).',
    ]);
  });

  test('quantized weights or more GPUs make it fit', () => {
    expect(() => loadConfig({ models: model({ instanceType: 'g4dn.xlarge', vllm: { bytesPerParameter: 0.5 } }) })).not.toThrow();
    expect(() => loadConfig({ models: model({ instanceType: 'g4dn.12xlarge' }) })).not.toThrow();
  });

  test('bf16 on T4 or V100', () => {
    expect(problemsOf({ models: model({ instanceType: 'p3.8xlarge', vllm: { dtype: 'bfloat16' } }) })).toEqual([
      'models[0].vllm.dtype = "bfloat16": bfloat16 needs an Ampere or newer GPU; p3.8xlarge has V100. Use half (or auto, which becomes half here).',
    ]);
  });

  test('an instance family the region does not offer, or one that is not an NVIDIA GPU', () => {
    expect(problemsOf({ models: model({ instanceType: 'g6.xlarge' }) })).toEqual([
      'models[0].instanceType = "g6.xlarge": g6 is not offered in cn-northwest-1 (allowed: g4dn, g5, p3, p4d, inf1; override with gpu.allowedInstanceFamilies).',
    ]);
    expect(problemsOf({ models: model({ instanceType: 'p4d.24xlarge' }), 'china.region': 'cn-north-1' })[0]).toMatch(/p4d is not offered in cn-north-1/);
    expect(problemsOf({ models: model({ instanceType: 'inf1.xlarge' }) })[0]).toMatch(/is not an NVIDIA GPU instance type vLLM can serve on/);
  });

  test('tensor parallelism must divide the GPUs; capacity bounds must be ordered', () => {
    expect(problemsOf({ models: model({ instanceType: 'g5.12xlarge', vllm: { tensorParallelSize: 3 }, minInstances: 3, maxInstances: 2 }) })).toEqual([
      'models[0].vllm.tensorParallelSize = 3: must divide the 4 GPU(s) of g5.12xlarge.',
      'models[0].minInstances = 3: must not exceed maxInstances (2).',
    ]);
  });
});

describe('routing configuration', () => {
  test('fallbacks may only name models some route serves', () => {
    expect(problemsOf({ 'routing.fallbacks': '{"nova-pro":["qwen-max"]}' })).toEqual([
      expect.stringMatching(/^routing\.fallbacks\.nova-pro = \["qwen-max"\]: names "qwen-max", which no route serves; routed models are nova-micro, nova-lite, nova-pro, nova-2-lite, qwen2.5-1.5b-instruct\.$/),
    ]);
  });

  test('self-hosted models count as routed on each enabled platform: eks/<name> only while EC2 and EKS both serve it', () => {
    const eksFallback = { 'routing.fallbacks': '{"qwen2.5-1.5b-instruct":["eks/qwen2.5-1.5b-instruct"]}' };
    expect(problemsOf(eksFallback)).toEqual([expect.stringMatching(/names "eks\/qwen2\.5-1\.5b-instruct", which no route serves/)]);
    expect(loadConfig({ ...eksFallback, 'stacks.vllmEks': 'true' }).routing.fallbacks).toEqual({ 'qwen2.5-1.5b-instruct': ['eks/qwen2.5-1.5b-instruct'] });
    expect(loadConfig({ 'routing.fallbacks': '{"nova-pro":["qwen2.5-1.5b-instruct"]}', 'stacks.vllmEc2': 'false', 'stacks.vllmEks': 'true' }).routing.fallbacks).toEqual({ 'nova-pro': ['qwen2.5-1.5b-instruct'] });
    expect(problemsOf({ 'routing.fallbacks': '{"nova-pro":["qwen2.5-1.5b-instruct"]}', 'stacks.vllmEc2': 'false', 'routing.registerVllm': 'false' })).toEqual([
      expect.stringMatching(/names "qwen2\.5-1\.5b-instruct", which no route serves; routed models are nova-micro, nova-lite, nova-pro, nova-2-lite\.$/),
    ]);
  });

  test('routing.registryRefreshSeconds: 60 by default, reaches the gateway, bounded', () => {
    expect(loadConfig({}).routing.registryRefreshSeconds).toBe(60);
    expect(gatewayRuntimeSettings(loadConfig({ 'routing.registryRefreshSeconds': '15' }), { upstreamTimeoutSeconds: 10 }).routeRegistry).toEqual(expect.objectContaining({ parameterPath: '/cnllm/routes', refreshSeconds: 15 }));
    expect(problemsOf({ 'routing.registryRefreshSeconds': '1' })).toEqual([expect.stringMatching(/^routing\.registryRefreshSeconds = "1": must be at least 5/)]);
  });

  test('vllmEks.loadBalancerWaitMinutes stays within what the kubectl handler can wait', () => {
    expect(problemsOf({ 'stacks.vllmEks': 'true', 'vllmEks.loadBalancerWaitMinutes': '30' })).toEqual([expect.stringMatching(/^vllmEks\.loadBalancerWaitMinutes = "30": must be at most 14/)]);
  });

  test('providers need a name, a base URL and model aliases', () => {
    const problems = problemsOf({ 'routing.providers': '[{"name":"Bad Name","baseUrl":"not a url","models":[]}]' });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^routing\.providers\[0\]\.name = "Bad Name": must be a short lower-case name/),
        expect.stringMatching(/^routing\.providers\[0\]\.baseUrl = "not a url": must be the provider's OpenAI-compatible base URL/),
        expect.stringMatching(/^routing\.providers\[0\]\.models = \[\]/),
      ]),
    );
  });
});

describe('Bedrock chat features per model', () => {
  const bedrockSettings = (context: Record<string, unknown>) =>
    Object.fromEntries(
      gatewayRuntimeSettings(loadConfig(context), { upstreamTimeoutSeconds: 10 })
        .models!.filter((m) => m.route === 'bedrock')
        .map((m) => [m.alias, { reasoning: m.reasoning, structuredOutput: m.structuredOutput, promptCaching: m.promptCaching }]),
    );

  test('catalog names carry their capabilities; prompt caching is off unless listed, and caches tools only where the model does', () => {
    const models = JSON.stringify(['nova-pro', 'nova-2-lite', { alias: 'claude', modelId: 'anthropic.claude-sonnet-4-5-20250929-v1:0', destinationRegions: ['us-east-1'], structuredOutput: 'native', cacheTools: true }]);
    expect(bedrockSettings({ 'bedrock.models': models, 'bedrock.promptCaching': 'nova-pro,claude' })).toEqual({
      'nova-pro': { reasoning: 'none', structuredOutput: 'tool', promptCaching: 'system' },
      'nova-2-lite': { reasoning: 'effort', structuredOutput: 'tool', promptCaching: 'off' },
      claude: { reasoning: 'none', structuredOutput: 'native', promptCaching: 'system-and-tools' },
    });
    expect(bedrockSettings({})['nova-lite']).toEqual({ reasoning: 'none', structuredOutput: 'tool', promptCaching: 'off' });
  });

  test('bedrock.promptCaching names models of bedrock.models; full entries state capabilities from a fixed set', () => {
    expect(problemsOf({ 'bedrock.models': '["nova-pro"]', 'bedrock.promptCaching': 'nova-pro,nova-lite' })).toEqual([
      expect.stringMatching(/^bedrock\.promptCaching\[1\] = "nova-lite": names "nova-lite", which is not in bedrock.models \(nova-pro\)/),
    ]);
    expect(problemsOf({ 'bedrock.models': JSON.stringify([{ alias: 'x', modelId: 'amazon.x-v1:0', destinationRegions: ['us-east-1'], reasoning: 'budget' }]) })).toEqual([expect.stringMatching(/^bedrock\.models\[0\]/)]);
  });
});
