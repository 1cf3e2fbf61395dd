import * as fs from 'fs';
import * as path from 'path';
import { randomUUID } from 'crypto';
import { formatTraceTree } from '../runtime/agents/trace-tree';
import { OperatorError } from '../runtime/operator/operator-error';
import { AgentModelFake } from '../test/fakes/agent-model-fake';
import { DynamoDbLocal } from '../test/fakes/dynamodb-local';
import { S3Local } from '../test/fakes/s3-local';
import { configFromArgs, flagValue, runCli } from './cli-config';
import { DEMO_DOCS, demoLedger } from './local/agents-demo-data';
import { localAgentsConfig, startLocalAgents } from './local/local-agents';
import { ROUTING_USAGE } from './local/local-routes';

const USAGE = `Usage: npm run agents:local -- "question" [--mode supervisor|routing] [--session ID] [--json] [--verbose]
                                         [--bedrock-endpoint URL | --profile NAME] [--vllm NAME=URL ...]
                                         [--config FILE] [-c key=value ...]

Runs the agents of runtime/agents on this machine, as AgentCore Runtime runs them, and prints the
answer and the trace (who delegated what to whom, the tool calls, tokens per agent):
  - the kit's gateway (gateway:local, in process) serves every model call; the agents' aliases
    (local-supervisor, local-analyst, local-librarian) go to a stand-in model on loopback that plays
    each agent's role; the kit config (routing.residency...) applies as deployed
  - the tool Lambdas (usage_summary, doc_search) behind a local MCP server, reading a week of demo
    ledger records and a few documents from a loopback S3
  --mode      supervisor (default): plans, delegates, synthesizes; routing: hands the question to one collaborator
  --session   remember the conversation under this id across runs (a local DynamoDB in .cnllm-local/agents-memory)
  --json      print the /invocations response body instead
  --verbose   also print the gateway's and the agents' JSON log lines (stderr)
${ROUTING_USAGE}`;

async function main(args: string[]): Promise<void> {
  const question = args[0];
  if (!question || question.startsWith('-') || args.includes('--help') || args.includes('-h')) return console.log(USAGE);
  const mode = flagValue(args, '--mode') ?? 'supervisor';
  if (mode !== 'supervisor' && mode !== 'routing') throw new OperatorError(`--mode ${mode}: use supervisor or routing`);
  const session = flagValue(args, '--session');
  const verbose = args.includes('--verbose');
  const kitConfig = configFromArgs(args.slice(1));
  const quiet = (line: Record<string, unknown>) => void (verbose && process.stderr.write(`${JSON.stringify(line)}\n`));

  const today = new Date().toISOString().slice(0, 10);
  const model = await new AgentModelFake(today).start();
  const bucket = 'cnllm-agents-local';
  const s3 = await new S3Local([bucket]).start();
  const dynamo = session ? await new DynamoDbLocal().start({ path: memoryDirectory() }) : undefined;
  try {
    for (const object of [...demoLedger(today), ...DEMO_DOCS]) await s3.put(bucket, object.key, object.body);
    const agents = await startLocalAgents({
      kitConfig,
      routingArgs: args.slice(1),
      standInUrl: model.url,
      agents: (urls) => localAgentsConfig(mode, urls, kitConfig.china.region, session ? { tableName: 'cnllm-agents-sessions' } : undefined),
      tools: { s3: s3.client(), bucket },
      memory: dynamo && { client: dynamo.client() },
      log: quiet,
      gatewayLog: quiet,
    });
    try {
      const outcome = await agents.team.invoke({ prompt: question, sessionId: session ?? randomUUID(), requestId: randomUUID() });
      if (args.includes('--json')) {
        console.log(JSON.stringify(outcome.ok ? { answer: outcome.answer, sessionId: outcome.sessionId, trace: outcome.trace } : { error: { message: outcome.message, code: outcome.code }, sessionId: outcome.sessionId, trace: outcome.trace }, null, 2));
      } else {
        console.log(outcome.ok ? outcome.answer : `The agents failed (${outcome.status} ${outcome.code}): ${outcome.message}`);
        console.log(`\n${mode} mode, session ${outcome.sessionId}${session ? ' (remembered)' : ''}\n${formatTraceTree(outcome.trace, agents.config.supervisor.name)}`);
      }
      if (!outcome.ok) process.exitCode = 1;
    } finally {
      await agents.close();
    }
  } finally {
    await model.stop();
    await s3.stop();
    await dynamo?.stop();
  }
  if (process.exitCode === 1) throw new OperatorError('the invocation failed (see above)');
}

function memoryDirectory(): string {
  const dir = path.resolve('.cnllm-local', 'agents-memory');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

runCli('agents:local', main);
