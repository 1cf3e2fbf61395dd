import { ConfigError, loadConfig } from '../lib/config/load';
import { distillBaseModel } from '../lib/config/distill-defaults';
import { gatewayRuntimeSettings } from '../lib/gateway/runtime-settings';

function problemsOf(context: Record<string, unknown>): string[] {
  try {
    loadConfig(context);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error('expected the config to be rejected');
}

const qwen = { id: 'Qwen/Qwen2.5-7B-Instruct', servedName: 'qwen2.5-7b-instruct', parametersBillions: 7.6, instanceType: 'g5.2xlarge' };

describe('distill config', () => {
  test('defaults: off, teacher and judge nova-pro, the first model as base, ml.g5.2xlarge, the China DLC', () => {
    const config = loadConfig({});
    expect(config.stacks.distill).toBe(false);
    expect(config.distill).toEqual(
      expect.objectContaining({ teacher: 'nova-pro', judge: 'nova-pro', baseModel: 'qwen2.5-1.5b-instruct', adapterName: 'qwen2-5-1-5b-instruct-distilled', studentAlias: 'qwen2-5-1-5b-instruct-distilled', evalShare: 0.1, promoteThreshold: 0.5 }),
    );
    expect(config.distill.training).toEqual(expect.objectContaining({ instanceType: 'ml.g5.2xlarge', image: 'dlc', networkIsolation: true, pipPackages: [], loraR: 16 }));
    expect(distillBaseModel(config)).toEqual({ id: 'Qwen/Qwen2.5-1.5B-Instruct', revision: 'master', servedName: 'qwen2.5-1.5b-instruct' });
  });

  test('a base model given as a staged id (with or without revision) is found in the weights bucket by id', () => {
    expect(distillBaseModel(loadConfig({ 'distill.baseModel': 'Qwen/Qwen2.5-0.5B-Instruct@v1.0' }))).toEqual({ id: 'Qwen/Qwen2.5-0.5B-Instruct', revision: 'v1.0' });
    expect(distillBaseModel(loadConfig({ 'distill.baseModel': 'Qwen/Qwen2.5-0.5B-Instruct' }))).toEqual({ id: 'Qwen/Qwen2.5-0.5B-Instruct', revision: 'master' });
  });

  test('the stack needs network, model store and gateway; every missing one is named', () => {
    expect(problemsOf({ 'stacks.distill': 'true', 'stacks.gateway': 'false', 'stacks.modelStore': 'false', 'stacks.vllmEc2': 'false' })).toContainEqual(
      expect.stringMatching(/^stacks\.distill = true: .*enable stacks\.modelStore, stacks\.gateway too\.$/),
    );
  });

  test('teacher and judge must be routed aliases; the error lists what is routed', () => {
    const problems = problemsOf({ 'stacks.distill': 'true', 'distill.teacher': 'gpt-4o', 'distill.judge': 'deepseek-chat' });
    expect(problems).toContainEqual(expect.stringMatching(/^distill\.teacher = "gpt-4o": names "gpt-4o", which no route of the gateway serves; routed models are nova-micro, nova-lite, nova-pro, nova-2-lite, qwen2\.5-1\.5b-instruct\.$/));
    expect(problems).toContainEqual(expect.stringMatching(/^distill\.judge = "deepseek-chat": names "deepseek-chat"/));
    // A domestic provider's alias is a route: accepted.
    expect(() => loadConfig({ 'stacks.distill': 'true', 'distill.judge': 'deepseek-chat', routing: { providers: [{ name: 'deepseek', baseUrl: 'https://api.deepseek.com/v1', models: [{ alias: 'deepseek-chat', model: 'deepseek-chat' }] }] } })).not.toThrow();
  });

  test('a base model that is neither served nor an id, a LoRA rank vLLM could not load, API-key auth, pip packages under isolation, a mirror without repository', () => {
    const problems = problemsOf({
      'stacks.distill': 'true',
      'distill.baseModel': 'llama3',
      models: [{ ...qwen, vllm: { maxLoraRank: 8 } }],
      'distill.training.image': 'mirror',
      'distill.training.pipPackages': 'peft==0.13.2',
      'gateway.authorization': 'API_KEY',
      'gateway.icpLicence': '京ICP备12345678号',
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^distill\.baseModel = "llama3": is not a served model \(models\[\]\.servedName: qwen2\.5-7b-instruct\); name one, or a model id staged/),
        expect.stringMatching(/^modelStore\.repositories = .*must include "training" while distill\.training\.image is mirror/),
        expect.stringMatching(/^distill\.training\.pipPackages = "peft==0\.13\.2": need the network at job start.*set networkIsolation to false/),
        expect.stringMatching(/^gateway\.authorization = "API_KEY": must be IAM while stacks\.distill is on/),
      ]),
    );
    const rank = problemsOf({ 'stacks.distill': 'true', models: [{ ...qwen, vllm: { maxLoraRank: 8 } }] });
    expect(rank).toEqual([expect.stringMatching(/^distill\.training\.loraR = 16: is above models\[0\]\.vllm\.maxLoraRank \(8\): vLLM could not load the adapter on qwen2\.5-7b-instruct/)]);
  });

  test('the training instance must be an ml.* type; the run must outlast its training job', () => {
    expect(problemsOf({ 'distill.training.instanceType': 'g5.2xlarge' })).toEqual([expect.stringMatching(/^distill\.training\.instanceType = "g5\.2xlarge": must be a SageMaker instance type such as "ml\.g5\.2xlarge"/)]);
    expect(problemsOf({ 'stacks.distill': 'true', 'distill.maxRunHours': '12' })).toEqual([expect.stringMatching(/^distill\.maxRunHours = "12": must be more than distill\.training\.maxRuntimeHours \(12\)/)]);
  });
});

describe('models[].adapters', () => {
  const withAdapters = (adapters: unknown[], extra: Record<string, unknown> = {}) => ({ models: [{ ...qwen, adapters }], ...extra });

  test('each adapter is a routed alias that falls back to the teacher, unless routing.fallbacks says otherwise', () => {
    const config = loadConfig(withAdapters([{ name: 'support-bot', version: 'v3' }, { name: 'legal', version: '20261201' }], { routing: { fallbacks: { legal: ['nova-lite'] } } }));
    expect(config.models[0].adapters).toEqual([{ name: 'support-bot', version: 'v3', requirePromoted: true }, { name: 'legal', version: '20261201', requirePromoted: true }]);
    expect(config.routing.fallbacks).toEqual({ 'support-bot': ['nova-pro'], legal: ['nova-lite'] });
    // The gateway gets the fallbacks with its settings (Lambda, streaming door and local runner alike).
    expect(gatewayRuntimeSettings(config, { upstreamTimeoutSeconds: 30 }).fallbacks).toEqual({ 'support-bot': ['nova-pro'], legal: ['nova-lite'] });
    // routing.fallbacks may name an adapter's alias: it is routed.
    expect(() => loadConfig(withAdapters([{ name: 'support-bot', version: 'v3' }], { routing: { fallbacks: { 'qwen2.5-7b-instruct': ['support-bot'] } } }))).not.toThrow();
  });

  test('both platforms: the EKS adapter alias is eks/<name> and falls back too; no registry, no automatic fallback', () => {
    expect(loadConfig(withAdapters([{ name: 'support-bot', version: 'v3' }], { 'stacks.vllmEks': 'true', 'modelStore.repositories': 'vllm,tools,node,awscli' })).routing.fallbacks).toEqual({ 'support-bot': ['nova-pro'], 'eks/support-bot': ['nova-pro'] });
    expect(loadConfig(withAdapters([{ name: 'support-bot', version: 'v3' }], { 'routing.registerVllm': 'false' })).routing.fallbacks).toEqual({});
  });

  test('names are unique, clash with no other alias, and the teacher they fall back to must be routed', () => {
    const problems = problemsOf(withAdapters([{ name: 'nova-pro', version: 'v1' }, { name: 'a', version: 'v1' }, { name: 'a', version: 'v2' }, { name: 'B/x', version: 'v 1' }], { 'distill.teacher': 'gpt-4o' }));
    expect(problems).toEqual(
      expect.arrayContaining([
        'models[0].adapters[0].name = "nova-pro": is already a model alias (a served model, Bedrock or provider alias); rename the adapter.',
        'models[0].adapters[2].name = "a": is used by another adapter; adapter names are model aliases and must be unique.',
        expect.stringMatching(/^models\[0\]\.adapters\[3\]\.name = "B\/x": must be lower-case letters/),
        expect.stringMatching(/^models\[0\]\.adapters\[3\]\.version = "v 1": must be letters, digits/),
        expect.stringMatching(/^distill\.teacher = "gpt-4o": is every adapter's fallback \(models\[\]\.adapters\), but no route serves "gpt-4o"/),
      ]),
    );
  });

  test('vLLM LoRA limits: a rank vLLM accepts, and no more batch slots than adapters', () => {
    expect(problemsOf({ models: [{ ...qwen, vllm: { maxLoraRank: 24 } }] })).toEqual([expect.stringMatching(/^models\[0\]\.vllm\.maxLoraRank = 24: must be one of 8, 16, 32, 64, 128, 256, 320, 512/)]);
    expect(problemsOf({ models: [{ ...qwen, adapters: [{ name: 'a', version: 'v1' }], vllm: { maxLoras: 2 } }] })).toEqual([
      expect.stringMatching(/^models\[0\]\.vllm\.maxLoras = 2: must not exceed the number of adapters \(1\)/),
    ]);
  });
});
