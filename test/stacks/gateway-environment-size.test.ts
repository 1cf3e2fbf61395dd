import { Template } from 'aws-cdk-lib/assertions';
import { deployedEnvironmentBytes, LAMBDA_ENVIRONMENT_LIMIT_BYTES } from '../../lib/constructs/gateway-function';
import { kitApp } from '../helpers/kit-app';

/** Lambda refuses environments over 4 KB at deploy time: the kit must refuse such a config at synth, naming what grows it. */
describe('gateway Lambda environment size', () => {
  test('the default kit (private CA certificate included) fits with room to spare', () => {
    const { kit } = kitApp();
    const bytes = kit.gateway!.gatewayFunction.environmentBytes;
    // The certificate alone is about 1.4 KB of it: a default kit keeps at least 0.5 KB for providers, fallbacks and quotas.
    expect(bytes).toBeGreaterThan(1400);
    expect(bytes).toBeLessThan(LAMBDA_ENVIRONMENT_LIMIT_BYTES - 512);
    expect(Template.fromStack(kit.gateway!).toJSON().Resources[kit.gateway!.getLogicalId(kit.gateway!.gatewayFunction.function.node.defaultChild as never)].Properties.Environment.Variables.CNLLM_GATEWAY_CONFIG).toBeDefined();
  });

  test('deploy-time values count at their deployed size: the CA certificate as a PEM, other tokens as ARNs', () => {
    const pem = '${Token[TOKEN.900]}';
    const arn = '${Token[TOKEN.901]}';
    const settings = { credentialSecretId: arn, routeRegistry: { caCertificates: [pem] } };
    const bytes = deployedEnvironmentBytes({ CNLLM_GATEWAY_CONFIG: JSON.stringify(settings) }, settings);
    const literal = JSON.stringify({ credentialSecretId: '', routeRegistry: { caCertificates: [''] } }).length + 'CNLLM_GATEWAY_CONFIG'.length;
    expect(bytes).toBe(literal + 1400 + 128);
  });

  test('a config whose settings would not fit fails synth, naming the fields that grow them and the fix', () => {
    const providers = Array.from({ length: 6 }, (_, p) => ({
      name: `provider-${p}`,
      baseUrl: `https://llm-${p}.example.cn/compatible-mode/v1`,
      models: Array.from({ length: 8 }, (_, m) => ({ alias: `provider-${p}-model-number-${m}`, model: `vendor-model-with-a-long-name-${m}` })),
    }));
    expect(() => kitApp({ 'routing.providers': providers })).toThrow(
      new RegExp(`too large for the gateway Lambda: its settings take about \\d+ bytes .* over Lambda's limit of ${LAMBDA_ENVIRONMENT_LIMIT_BYTES} bytes.*routing\\.providers\\[\\]\\.models.*Trim those lists`),
    );
  });
});
