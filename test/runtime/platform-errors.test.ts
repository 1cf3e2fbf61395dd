import * as http from 'http';
import { AddressInfo } from 'net';
import OpenAI from 'openai';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { OpenAiRestApi } from '../../lib/constructs/openai-rest-api';
import {
  GATEWAY_ROUTES,
  GATEWAY_RESPONSE_VARIABLES,
  gatewayResponseTemplate,
  PLATFORM_ERROR_TYPES,
  PlatformErrorContext,
  platformErrors,
} from '../../runtime/gateway/platform-errors';

const CTX: PlatformErrorContext = {
  region: 'cn-northwest-1',
  authorization: 'IAM',
  rateLimit: 20,
  burstLimit: 40,
  integrationTimeoutSeconds: 29,
  maxBodyBytes: 6 * 1024 * 1024,
  wafRequestsPer5MinPerIp: 3000,
  streamingDoor: false,
};

/** What API Gateway does with a gateway response template: plain variable substitution, nothing else. */
function substitute(template: string, platformMessage: string, requestId: string): string {
  return template.split(GATEWAY_RESPONSE_VARIABLES.message).join(JSON.stringify(platformMessage)).split(GATEWAY_RESPONSE_VARIABLES.requestId).join(requestId);
}

// API Gateway's own message for a bad signature quotes the canonical request: quotes, newlines, backslashes.
const SIGNATURE_MESSAGE = 'The request signature we calculated does not match.\nThe Canonical String for this request should have been\n\'POST\n/prod/v1/chat/completions\n\ncontent-type:"application/json"\\n\'';

describe('API Gateway platform errors in OpenAI\'s shape', () => {
  const errors = platformErrors(CTX);

  test('every response type the brief names has an entry, with the right status', () => {
    expect(Object.keys(errors).sort()).toEqual([...PLATFORM_ERROR_TYPES].sort());
    const status = Object.fromEntries(PLATFORM_ERROR_TYPES.map((t) => [t, errors[t].status]));
    expect(status).toEqual(
      expect.objectContaining({
        MISSING_AUTHENTICATION_TOKEN: 403,
        INVALID_SIGNATURE: 403,
        EXPIRED_TOKEN: 403,
        ACCESS_DENIED: 403,
        UNAUTHORIZED: 401,
        INVALID_API_KEY: 403,
        THROTTLED: 429,
        QUOTA_EXCEEDED: 429,
        REQUEST_TOO_LARGE: 413,
        BAD_REQUEST_BODY: 400,
        BAD_REQUEST_PARAMETERS: 400,
        RESOURCE_NOT_FOUND: 404,
        WAF_FILTERED: 403,
        INTEGRATION_TIMEOUT: 504,
        // The catch-alls keep whatever status API Gateway chose.
        DEFAULT_4XX: undefined,
        DEFAULT_5XX: undefined,
      }),
    );
    expect(errors.THROTTLED.headers).toEqual({ 'Retry-After': '1' });
  });

  test.each(PLATFORM_ERROR_TYPES)('%s: the template is JSON once API Gateway substitutes its variables, and error is exactly OpenAI\'s shape', (type) => {
    const template = gatewayResponseTemplate(errors[type]);
    expect(template).toContain(GATEWAY_RESPONSE_VARIABLES.message);
    // Unsubstituted, `$context.error.messageString` is no JSON value: the template must not be read as a finished body.
    expect(() => JSON.parse(template)).toThrow();
    const body = JSON.parse(substitute(template, SIGNATURE_MESSAGE, 'c0ffee00-1111-2222-3333-444455556666'));
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(body.error).toEqual({ message: errors[type].message, type: errors[type].type, param: null, code: errors[type].code });
    expect(body.platform).toEqual({ message: SIGNATURE_MESSAGE, request_id: 'c0ffee00-1111-2222-3333-444455556666' });
  });

  test('hints say what to do: how to sign, which limit, the in-VPC door for long generations', () => {
    expect(errors.MISSING_AUTHENTICATION_TOKEN.message).toContain('curl --aws-sigv4 "aws:amz:cn-northwest-1:execute-api"');
    expect(errors.INVALID_SIGNATURE.message).toContain('execute-api in cn-northwest-1');
    expect(errors.THROTTLED.message).toContain('20 requests per second with bursts of 40');
    expect(errors.REQUEST_TOO_LARGE.message).toContain('at most 6 MB');
    expect(errors.INTEGRATION_TIMEOUT.message).toContain('29 s');
    expect(errors.INTEGRATION_TIMEOUT.message).toContain('gateway.streamingDoor.enabled');
    expect(platformErrors({ ...CTX, streamingDoor: true }).INTEGRATION_TIMEOUT.message).toContain('StreamingBaseUrl output');
    expect(platformErrors({ ...CTX, authorization: 'API_KEY' }).MISSING_AUTHENTICATION_TOKEN.message).toContain('x-api-key');
  });

  test('a hint with "$" is refused: API Gateway would substitute it', () => {
    expect(() => gatewayResponseTemplate({ ...errors.THROTTLED, message: 'export $AWS_ACCESS_KEY_ID first' })).toThrow(/contains "\$"/);
  });

  test('the official OpenAI client reads the substituted body as an API error with the hint, type and code', async () => {
    const body = substitute(gatewayResponseTemplate(errors.THROTTLED), 'Too Many Requests', 'req-1');
    const server = http.createServer((_req, res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const client = new OpenAI({ baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/prod/v1`, apiKey: 'iam', maxRetries: 0 });
      const failure = await client.chat.completions.create({ model: 'nova-lite', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(OpenAI.RateLimitError);
      const e = failure as InstanceType<typeof OpenAI.RateLimitError>;
      expect(e.message).toContain('20 requests per second');
      expect(e.type).toBe('rate_limit_error');
      expect(e.code).toBe('rate_limit_exceeded');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('the route list the hints name is every method the REST API serves, and nothing else', () => {
    const stack = new Stack(new App(), 'Routes', { env: { account: '111122223333', region: 'cn-northwest-1' } });
    const handler = new lambda.Function(stack, 'Handler', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => ({})') });
    new OpenAiRestApi(stack, 'OpenAi', {
      name: 'routes', handler, endpointType: 'REGIONAL', authorization: 'IAM', streaming: false, integrationTimeout: Duration.seconds(29),
      rateLimit: 20, burstLimit: 40, wafRequestsPer5MinPerIp: 3000, key: new kms.Key(stack, 'Key'), logRetentionDays: 30, maxBodyBytes: 6 * 1024 * 1024,
    });
    const resources = Template.fromStack(stack).toJSON().Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>;
    // A resource's path: its PathPart under its parent's path (the API's root has no resource of its own).
    const pathOf = (ref: unknown): string => {
      const id = (ref as { Ref?: string }).Ref;
      const resource = id ? resources[id] : undefined;
      if (resource?.Type !== 'AWS::ApiGateway::Resource') return '';
      return `${pathOf(resource.Properties.ParentId)}/${resource.Properties.PathPart as string}`;
    };
    const served = Object.values(resources)
      .filter((r) => r.Type === 'AWS::ApiGateway::Method' && r.Properties.HttpMethod !== 'OPTIONS')
      .map((r) => `${r.Properties.HttpMethod as string} ${pathOf(r.Properties.ResourceId)}`);
    expect(served.sort()).toEqual([...GATEWAY_ROUTES].sort());
    for (const route of GATEWAY_ROUTES) {
      expect(errors.MISSING_AUTHENTICATION_TOKEN.message).toContain(route);
      expect(errors.RESOURCE_NOT_FOUND.message).toContain(route);
    }
  });
});
