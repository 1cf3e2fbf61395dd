import * as fs from 'fs';
import { names } from '../lib/config/names';
import { agentsAudience } from '../lib/constructs/agents-fargate-service';
import { InvokeError, findRuntimeArn, formatTrace, invokeOnAgentCore, invokeOnFargate, type AgentsAnswer } from '../runtime/agents-client/invoke';
import { OperatorError } from '../runtime/operator/operator-error';
import { configFromArgs, flagValue, profileClientConfig, runCli } from './cli-config';

const USAGE = `Usage: npm run agents -- invoke "QUESTION" [--session ID] [--runtime-arn ARN | --url URL] [--ca-file PEM]
                           [--china-profile NAME] [--config FILE] [-c key=value ...]

Asks the kit's agents (stack <prefix>-Agents) a question and prints the answer and the delegation trace.
  agents.platform agentcore-*: InvokeAgentRuntime with SigV4 (China credentials of --china-profile, default "china");
                               the runtime is found by its name (<prefix>_agents) unless --runtime-arn is given
  agents.platform fargate:     HTTPS to https://agents.<internalTls.domain>/invocations (or --url) from inside the VPC,
                               with an STS token of the same credentials; --ca-file: the kit's private CA certificate
  --session ID                 continue a session (the id printed after an answer); default: a new one`;

/** Flags that take a value: everything else after `invoke` is the question. */
const VALUE_FLAGS = new Set(['--session', '--runtime-arn', '--url', '--ca-file', '--china-profile', '--config', '-c', '--context']);

function question(args: string[]): string | undefined {
  const words: string[] = [];
  for (let i = 1; i < args.length; i++) {
    if (VALUE_FLAGS.has(args[i])) i++;
    else if (!args[i].startsWith('--')) words.push(args[i]);
  }
  return words.length > 0 ? words.join(' ') : undefined;
}

async function main(args: string[]): Promise<void> {
  if (args[0] !== 'invoke') {
    console.log(USAGE);
    if (args[0] && !['--help', '-h'].includes(args[0])) throw new OperatorError(`unknown command "${args[0]}"`);
    return;
  }
  const prompt = question(args);
  if (!prompt) throw new OperatorError('invoke needs the question, e.g. npm run agents -- invoke "Which team used the most tokens last month?"');
  const config = configFromArgs(args);
  const region = config.china.region;
  const client = await profileClientConfig(flagValue(args, '--china-profile') ?? 'china', region);
  const sessionId = flagValue(args, '--session');
  const timeoutMs = config.agents.invocationTimeoutSeconds * 1000;
  let answer: AgentsAnswer;
  try {
    if (config.agents.platform === 'fargate') {
      const url = flagValue(args, '--url') ?? (config.internalTls.mode === 'plain-http' ? undefined : names(config).agentsInvocationUrl);
      if (!url) throw new OperatorError('with internalTls.mode plain-http the agents have no private name: pass --url (the Agents stack\'s AgentsUrl output)');
      const caFile = flagValue(args, '--ca-file');
      answer = await invokeOnFargate({ region, credentials: client.credentials, url, prompt, sessionId, audience: agentsAudience(config.prefix), caCertificates: caFile ? [fs.readFileSync(caFile, 'utf8')] : undefined, stsEndpoint: client.endpoint, timeoutMs });
    } else {
      const runtimeArn = flagValue(args, '--runtime-arn') ?? (await findRuntimeArn({ region, credentials: client.credentials, endpoint: client.endpoint, runtimeName: names(config).agentRuntime }));
      answer = await invokeOnAgentCore({ region, credentials: client.credentials, endpoint: client.endpoint, runtimeArn, prompt, sessionId, timeoutMs });
    }
  } catch (e) {
    if (e instanceof InvokeError) throw new OperatorError(e.message);
    const err = e as { name?: string; message?: string };
    throw new OperatorError(`invoke failed: ${err.name ?? 'Error'}: ${err.message ?? String(e)}`);
  }
  console.log(answer.answer);
  console.log(`\nsession: ${answer.sessionId}  (continue with --session ${answer.sessionId})`);
  console.log('trace:');
  for (const line of formatTrace(answer.trace)) console.log(line);
}

runCli('agents', main);
