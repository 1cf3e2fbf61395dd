import { fromIni } from '@aws-sdk/credential-providers';
import { gatewayRuntimeSettings } from '../lib/gateway/runtime-settings';
import { BedrockInvoker, CredentialSource } from '../runtime/gateway/bedrock';
import { createGateway } from '../runtime/gateway/gateway';
import { GatewayRuntimeConfigSchema } from '../runtime/gateway/runtime-config';
import { startLocalGateway } from '../runtime/local/local-gateway';
import { configFromArgs, flagValue } from './cli-config';

const USAGE = `Usage: npm run gateway:local -- [--port 8787] [--stream] [--bedrock-endpoint URL] [--profile NAME]
                                [--iam ACCESS_KEY_ID:SECRET[:ARN]] [--config FILE] [-c key=value ...]

Serves the gateway's Lambda handler on localhost, behind the same API Gateway proxy-event adapter:
  --stream            deliver SSE chunks as they come (ResponseTransferMode.STREAM); default is
                      buffered, as API Gateway + Lambda behave in China today
  --bedrock-endpoint  call a loopback Bedrock stand-in instead of real Bedrock in global.region
  --profile           global-partition profile for real Bedrock (default: the SDK's default chain)
  --iam               require SigV4 (execute-api, china.region) from this caller, like the deployed API`;

async function main(args: string[]) {
  if (args.includes('--help') || args.includes('-h')) return console.log(USAGE);
  const config = configFromArgs(args);
  const bedrockEndpoint = flagValue(args, '--bedrock-endpoint');
  const profile = flagValue(args, '--profile');
  const settings = GatewayRuntimeConfigSchema.parse({
    ...gatewayRuntimeSettings(config, { upstreamTimeoutSeconds: 300 }),
    ...(bedrockEndpoint && { bedrockEndpoint }),
  });
  // A loopback stand-in does not check signatures: any key will do. Real Bedrock gets the operator's own global credentials.
  const credentials: CredentialSource | undefined = profile
    ? { get: fromIni({ profile }), invalidate: () => undefined }
    : bedrockEndpoint
      ? { get: async () => ({ accessKeyId: 'AKIALOCALSTANDIN', secretAccessKey: 'local' }), invalidate: () => undefined }
      : undefined;
  const iamFlag = flagValue(args, '--iam');
  const iam = iamFlag
    ? (() => {
        // The ARN itself contains colons: everything after the secret key is the ARN.
        const [accessKeyId, secretAccessKey, ...arn] = iamFlag.split(':');
        return { region: config.china.region, callers: [{ accessKeyId, secretAccessKey, arn: arn.length > 0 ? arn.join(':') : `arn:aws-cn:iam::${config.china.account}:user/local` }] };
      })()
    : undefined;
  const server = await startLocalGateway({
    gateway: createGateway({ config: settings, bedrock: new BedrockInvoker(settings, credentials) }),
    port: Number(flagValue(args, '--port') ?? 8787),
    host: flagValue(args, '--host') ?? '127.0.0.1',
    mode: args.includes('--stream') ? 'stream' : 'buffered',
    iam,
  });
  console.error(`cn-llm-kit gateway on ${server.url} (${args.includes('--stream') ? 'streaming' : 'buffered'}; Bedrock: ${bedrockEndpoint ?? `${settings.bedrockRegion} via ${profile ?? 'default credentials'}`})`);
  console.error(`models: ${settings.models.map((m) => m.alias).join(', ')}`);
  console.error(`try: curl -s ${server.url}/v1/chat/completions -H 'content-type: application/json' -d '{"model":"${settings.models[0].alias}","messages":[{"role":"user","content":"hello"}]}'`);
  const stop = () => server.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main(process.argv.slice(2)).catch((e) => {
  console.error(`gateway:local: ${(e as Error).message}`);
  process.exit(1);
});
