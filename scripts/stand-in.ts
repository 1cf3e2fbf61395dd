/**
 * The loopback stand-ins of the tests (test/fakes) as servers a developer can start, so every
 * route of gateway:local and door:local can be tried without AWS, GPUs or a provider account.
 */
import { OperatorError } from '../runtime/operator/operator-error';
import { BedrockFake } from '../test/fakes/bedrock-fake';
import { OpenAiUpstreamFake } from '../test/fakes/openai-upstream-fake';
import { flagValue, runCli } from './cli-config';

const USAGE = `Usage: npm run stand-in -- bedrock [--port 4010]
       npm run stand-in -- openai [--port 4020] [--name NAME]

  bedrock   Bedrock Runtime on 127.0.0.1 (Converse, ConverseStream with event-stream encoding): echoes
            "You said: <last user message>"; point gateway:local at it with --bedrock-endpoint URL
  openai    an OpenAI-compatible /v1/chat/completions (a vLLM server or a domestic provider) that
            answers "<NAME>: <last user message>"; with $CNLLM_STAND_IN_KEY set it demands
            "Authorization: Bearer <that key>" and answers 401 otherwise, as vLLM and providers do`;

async function main(args: string[]): Promise<void> {
  const kind = args[0];
  if (!kind || args.includes('--help') || args.includes('-h')) return console.log(USAGE);
  if (kind !== 'bedrock' && kind !== 'openai') throw new OperatorError(`unknown stand-in "${kind}" (bedrock or openai)`);
  const port = Number(flagValue(args, '--port') ?? (kind === 'bedrock' ? 4010 : 4020));
  const key = process.env.CNLLM_STAND_IN_KEY ?? '';
  const server = kind === 'bedrock' ? new BedrockFake() : new OpenAiUpstreamFake(flagValue(args, '--name') ?? 'stand-in', key);
  try {
    await server.start(port);
  } catch (e) {
    throw new OperatorError(`cannot listen on 127.0.0.1:${port} (${(e as Error).message}): pick another --port`);
  }
  console.error(
    kind === 'bedrock'
      ? `Bedrock stand-in on ${server.url}: npm run gateway:local -- --bedrock-endpoint ${server.url}`
      : `OpenAI-compatible stand-in on ${server.url}/v1 (${key ? 'requires the bearer key in $CNLLM_STAND_IN_KEY' : 'no key required'})`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => void server.stop().then(resolve);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

runCli('stand-in', main);
