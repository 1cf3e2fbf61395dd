import { startLocalGateway } from '../runtime/local/local-gateway';
import { configFromArgs, flagValue, runCli } from './cli-config';
import { localRouting, ROUTING_USAGE } from './local/local-routes';

const USAGE = `Usage: npm run gateway:local -- [--port 8787] [--host 127.0.0.1] [--stream] [--iam ACCESS_KEY_ID:SECRET[:ARN]]
                                [--bedrock-endpoint URL | --profile NAME] [--vllm NAME=URL ...] [--upstream-keys FILE]
                                [--config FILE] [-c key=value ...]

Serves the gateway's Lambda handler on localhost, behind the same API Gateway proxy-event adapter,
with every route of the config: Bedrock models, routing.providers, and vLLM services by URL.
  --stream                deliver SSE chunks as they come (ResponseTransferMode.STREAM); default is
                          buffered, as API Gateway + Lambda behave in China today
  --iam                   require SigV4 (execute-api, china.region) from this caller, like the deployed API
${ROUTING_USAGE}`;

async function main(args: string[]): Promise<void> {
  if (args.includes('--help') || args.includes('-h')) return console.log(USAGE);
  const config = configFromArgs(args);
  const routing = localRouting(config, args);
  const iamFlag = flagValue(args, '--iam');
  const iam = iamFlag
    ? (() => {
        // The ARN itself contains colons: everything after the secret key is the ARN.
        const [accessKeyId, secretAccessKey, ...arn] = iamFlag.split(':');
        return { region: config.china.region, callers: [{ accessKeyId, secretAccessKey, arn: arn.length > 0 ? arn.join(':') : `arn:aws-cn:iam::${config.china.account}:user/local` }] };
      })()
    : undefined;
  const stream = args.includes('--stream');
  const server = await startLocalGateway({
    gateway: routing.gateway,
    port: Number(flagValue(args, '--port') ?? 8787),
    host: flagValue(args, '--host') ?? '127.0.0.1',
    mode: stream ? 'stream' : 'buffered',
    iam,
  });
  const first = routing.settings.models[0].alias;
  console.error(`cn-llm-kit gateway on ${server.url} (${stream ? 'streaming' : 'buffered'}; Bedrock: ${routing.bedrockDescription}; residency: ${routing.settings.residency})`);
  console.error(`routes:\n${routing.routeLines.join('\n')}`);
  console.error(routing.ledger ? `usage ledger: ${routing.ledger.dir} (npm run usage -- --dir ${routing.ledger.dir} --from YYYY-MM-DD --to YYYY-MM-DD)` : 'usage ledger: off (--no-ledger)');
  console.error(`quotas: ${routing.quotaDescription}`);
  console.error(`try: curl -s ${server.url}/v1/chat/completions -H 'content-type: application/json' -d '{"model":"${first}","messages":[{"role":"user","content":"hello"}]}'`);
  await new Promise<void>((resolve) => {
    const stop = () => void server.close().then(resolve);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

runCli('gateway:local', main);
