import * as fs from 'fs';
import * as path from 'path';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { BEDROCK_CATALOG, invocationId, lifecycleOn } from '../../lib/bedrock/catalog';
import { ConfigError, parseConfig } from '../../lib/config/load';
import { gatewayRuntimeSettings } from '../../lib/gateway/runtime-settings';
import { BedrockAccessStack } from '../../lib/stacks/bedrock-access-stack';
import { newApp } from '../helpers/kit-app';
import { nagFindings } from '../helpers/nag';

/** The BedrockAccess stack alone, for a bedrock section: the lifecycle and IAM of the allow-list. */
function bedrockStack(bedrock: Record<string, unknown>) {
  const config = parseConfig({ bedrock });
  const stack = new BedrockAccessStack(newApp(), 'BedrockAccess', { config });
  return { config, stack, template: Template.fromStack(stack) };
}

const statements = (template: Template) => (Object.values(template.findResources('AWS::IAM::Policy'))[0].Properties.PolicyDocument.Statement as { Sid: string; Action: string | string[]; Resource: string | string[] }[]);
const statement = (template: Template, sid: string) => statements(template).find((s) => s.Sid === sid)!;

/** The config problems of a bedrock section, as the synth error lists them. */
function problems(bedrock: Record<string, unknown>): string[] {
  try {
    parseConfig({ bedrock });
    return [];
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return e.problems;
  }
}

describe('model lifecycle drives synth', () => {
  test('a model past its end of life fails synth, naming the field, the date and the fix', () => {
    expect(problems({ models: ['nova-pro', 'nova-premier'] })).toEqual([
      'bedrock.models[1] = "nova-premier": "nova-premier" (amazon.nova-premier-v1:0) is past its end of life (2026-09-14): Bedrock no longer serves it. Remove it from bedrock.models (e.g. nova-2-lite), or list it in bedrock.allowEndOfLife to keep it knowingly.',
    ]);
    expect(problems({ models: ['nova-canvas'] })[0]).toMatch(/^bedrock\.models\[0\] = "nova-canvas": .*end of life \(2026-09-30\)/);
    // A full entry says so itself, by lifecycle or by a date that has passed.
    expect(problems({ models: [{ alias: 'old-one', modelId: 'amazon.old-v1:0', profile: 'none', destinationRegions: ['us-east-1'], lifecycle: 'end-of-life' }] })).toHaveLength(1);
    expect(problems({ models: [{ alias: 'old-two', modelId: 'amazon.old-v2:0', profile: 'none', destinationRegions: ['us-east-1'], lifecycle: 'legacy', endOfLife: '2020-01-01' }] })).toHaveLength(1);
  });

  test('bedrock.allowEndOfLife keeps such a model knowingly (with a warning); it must name an allow-listed model', () => {
    expect(problems({ models: ['nova-pro', 'nova-premier'], allowEndOfLife: ['nova-premier'] })).toEqual([]);
    expect(problems({ models: ['nova-pro'], allowEndOfLife: ['nova-premier'] })).toEqual(['bedrock.allowEndOfLife = ["nova-premier"]: names "nova-premier", which is not in bedrock.models; remove it.']);
  });

  test('legacy and preview models synthesize with a warning on the stack; active ones without', () => {
    const { stack } = bedrockStack({
      models: ['nova-pro', 'nova-2-pro', { alias: 'sunsetting', modelId: 'amazon.sunset-v1:0', profile: 'none', destinationRegions: ['us-east-1'], lifecycle: 'legacy', endOfLife: '2099-01-01' }],
    });
    const annotations = Annotations.fromStack(stack);
    annotations.hasWarning('*', Match.stringLikeRegexp('"sunsetting" \\(amazon.sunset-v1:0\\) is Legacy with end of life on 2099-01-01'));
    annotations.hasWarning('*', Match.stringLikeRegexp('"nova-2-pro" .* is in preview'));
    expect(annotations.findWarning('*', Match.stringLikeRegexp('"nova-pro"'))).toEqual([]);
  });

  test('the catalog of late 2026: Premier and Canvas ended, Nova 2 Lite current, Nova 2 Pro and Omni in preview, embeddings and rerankers with their kind', () => {
    const today = '2026-12-02';
    const status = Object.fromEntries(Object.entries(BEDROCK_CATALOG).map(([alias, m]) => [alias, `${m.kind}/${lifecycleOn(m, today)}`]));
    expect(status).toEqual({
      'nova-micro': 'chat/active',
      'nova-lite': 'chat/active',
      'nova-pro': 'chat/active',
      'nova-2-lite': 'chat/active',
      'nova-2-lite-global': 'chat/active',
      'nova-2-pro': 'chat/preview',
      'nova-2-omni': 'chat/preview',
      'nova-premier': 'chat/end-of-life',
      'nova-canvas': 'image/end-of-life',
      'titan-embed-v2': 'embed/active',
      'nova-2-embed': 'embed/active',
      'cohere-embed-multilingual-v3': 'embed/active',
      'cohere-rerank-3-5': 'rerank/active',
      'amazon-rerank': 'rerank/active',
    });
  });
});

describe('embedding and rerank models on the cross-border path', () => {
  const { config, stack, template } = bedrockStack({ models: ['nova-pro', 'titan-embed-v2', 'nova-2-embed', 'cohere-embed-multilingual-v3', 'cohere-rerank-3-5', 'amazon-rerank'] });

  test('InvokeModel on each embedding and rerank model in the region it is called in (Amazon Rerank: us-west-2)', () => {
    expect([statement(template, 'InvokeAllowListedModels').Resource].flat()).toEqual(
      expect.arrayContaining([
        'arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0',
        'arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-2-multimodal-embeddings-v1:0',
        'arn:aws:bedrock:us-east-1::foundation-model/cohere.embed-multilingual-v3',
        'arn:aws:bedrock:us-east-1::foundation-model/cohere.rerank-v3-5:0',
        'arn:aws:bedrock:us-west-2::foundation-model/amazon.rerank-v1:0',
      ]),
    );
  });

  test('bedrock:Rerank (no resource type) only when a reranker is allow-listed, acknowledged for nag with that reason', () => {
    expect(statement(template, 'RerankWithAllowListedModels')).toEqual(expect.objectContaining({ Action: 'bedrock:Rerank', Resource: '*' }));
    expect(nagFindings(stack).filter((f) => f.severity === 'error')).toEqual([]);
    const { template: chatOnly } = bedrockStack({ models: ['nova-pro', 'titan-embed-v2'] });
    expect(statements(chatOnly).map((s) => s.Sid)).not.toContain('RerankWithAllowListedModels');
  });

  test('the gateway gets each model\'s kind (and the reranker\'s region)', () => {
    const models = gatewayRuntimeSettings(config, { upstreamTimeoutSeconds: 29 }).models!;
    expect(models.map((m) => [m.alias, m.modelId, m.kind, m.region])).toEqual([
      ['nova-pro', 'us.amazon.nova-pro-v1:0', 'chat', undefined],
      ['titan-embed-v2', 'amazon.titan-embed-text-v2:0', 'embed', undefined],
      ['nova-2-embed', 'amazon.nova-2-multimodal-embeddings-v1:0', 'embed', undefined],
      ['cohere-embed-multilingual-v3', 'cohere.embed-multilingual-v3', 'embed', undefined],
      ['cohere-rerank-3-5', 'cohere.rerank-v3-5:0', 'rerank', undefined],
      ['amazon-rerank', 'amazon.rerank-v1:0', 'rerank', 'us-west-2'],
    ]);
  });
});

test('a fallback of another kind is a config error (the gateway would skip it): an embedding model cannot answer a chat', () => {
  try {
    parseConfig({ bedrock: { models: ['nova-pro', 'titan-embed-v2', 'cohere-embed-multilingual-v3'] }, routing: { fallbacks: { 'nova-pro': ['titan-embed-v2'], 'titan-embed-v2': ['cohere-embed-multilingual-v3'] } } });
    throw new Error('accepted');
  } catch (e) {
    expect((e as ConfigError).problems).toEqual(['routing.fallbacks.nova-pro = ["titan-embed-v2"]: names "titan-embed-v2" (kind embed) as the fallback of "nova-pro" (kind chat); list only chat models.']);
  }
});

test('the README model table matches the catalog (alias, model id, kind, how it is called, lifecycle, end of life)', () => {
  const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
  const rows = readme.split('\n').filter((l) => /^\| `[a-z0-9.-]+` \| `[a-z0-9.:-]+` \| (chat|embed|rerank|image) \|/.test(l));
  const expected = Object.entries(BEDROCK_CATALOG).map(
    ([alias, m]) => `| \`${alias}\` | \`${m.modelId}\` | ${m.kind} | \`${invocationId(m)}\`${m.region ? ` in ${m.region}` : ''} | ${m.lifecycle} | ${m.endOfLife ?? ''} |`,
  );
  expect(rows).toEqual(expected);
});
