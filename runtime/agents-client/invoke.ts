/**
 * Invokes the kit's agents (the contract of runtime/agents/server.ts: POST /invocations
 * `{prompt, sessionId?}` -> `{answer, sessionId, trace}`) on AgentCore Runtime with
 * InvokeAgentRuntime (SigV4, China credentials), or on Fargate with an HTTPS call to the
 * internal load balancer carrying an STS bearer token of the caller's China credentials.
 */
import { randomUUID } from 'crypto';
import { BedrockAgentCoreClient, InvokeAgentRuntimeCommand } from '@aws-sdk/client-bedrock-agentcore';
import { BedrockAgentCoreControlClient, ListAgentRuntimesCommand } from '@aws-sdk/client-bedrock-agentcore-control';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { z } from 'zod';
import { stsBearerToken } from '../client/sts-token';
import { privateCaFetch } from '../gateway/private-ca-fetch';

/** The header AgentCore Runtime passes the session id in (and the Fargate server reads likewise). */
export const SESSION_HEADER = 'X-Amzn-Bedrock-AgentCore-Runtime-Session-Id';

const traceEntry = z.object({
  agent: z.string(),
  event: z.enum(['delegate', 'tool', 'answer', 'error']),
  to: z.string().optional(),
  tool: z.string().optional(),
  inputTokens: z.number().optional(),
  outputTokens: z.number().optional(),
  ms: z.number(),
  detail: z.string().optional(),
});
export const AgentsAnswerSchema = z.object({ answer: z.string(), sessionId: z.string(), trace: z.array(traceEntry) });
export type AgentsAnswer = z.infer<typeof AgentsAnswerSchema>;
export type TraceEntry = z.infer<typeof traceEntry>;

export class InvokeError extends Error {}

/** AgentCore wants session ids of 33+ characters; a UUID is 36. */
export const newSessionId = () => randomUUID();

function parseAnswer(text: string, from: string): AgentsAnswer {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new InvokeError(`${from} answered with something other than JSON: ${text.slice(0, 300)}`);
  }
  const parsed = AgentsAnswerSchema.safeParse(body);
  if (!parsed.success) {
    const message = (body as { error?: { message?: string } })?.error?.message;
    throw new InvokeError(message ? `${from}: ${message}` : `${from} answered outside the agents contract (${parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')})`);
  }
  return parsed.data;
}

export interface AgentCoreInvokeOptions {
  readonly region: string;
  readonly credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  readonly runtimeArn: string;
  readonly prompt: string;
  readonly sessionId?: string;
  /** A profile's endpoint_url (tests: a loopback stand-in). @default the region's AgentCore endpoint */
  readonly endpoint?: string;
  readonly timeoutMs: number;
}

/** InvokeAgentRuntime: POST /runtimes/{url-encoded ARN}/invocations on bedrock-agentcore.<region>.amazonaws.com.cn, SigV4 for bedrock-agentcore. */
export async function invokeOnAgentCore(opts: AgentCoreInvokeOptions): Promise<AgentsAnswer> {
  const client = new BedrockAgentCoreClient({ region: opts.region, credentials: opts.credentials, ...(opts.endpoint && { endpoint: opts.endpoint }), requestHandler: { requestTimeout: opts.timeoutMs } });
  const sessionId = opts.sessionId ?? newSessionId();
  const out = await client.send(
    new InvokeAgentRuntimeCommand({
      agentRuntimeArn: opts.runtimeArn,
      runtimeSessionId: sessionId,
      contentType: 'application/json',
      accept: 'application/json',
      payload: Buffer.from(JSON.stringify({ prompt: opts.prompt, sessionId })),
    }),
  );
  const text = out.response ? await out.response.transformToString() : '';
  return parseAnswer(text, `agent runtime ${opts.runtimeArn}`);
}

/** The kit's runtime, found by the name the Agents stack gives it (`<prefix>_agents`) when no ARN is given. */
export async function findRuntimeArn(opts: { region: string; credentials: AgentCoreInvokeOptions['credentials']; endpoint?: string; runtimeName: string }): Promise<string> {
  const client = new BedrockAgentCoreControlClient({ region: opts.region, credentials: opts.credentials, ...(opts.endpoint && { endpoint: opts.endpoint }) });
  const seen = new Set<string>();
  let nextToken: string | undefined;
  do {
    const page = await client.send(new ListAgentRuntimesCommand({ nextToken }));
    const found = page.agentRuntimes?.find((r) => r.agentRuntimeName === opts.runtimeName);
    if (found?.agentRuntimeArn) return found.agentRuntimeArn;
    nextToken = page.nextToken;
    // A token seen before would page forever.
    if (nextToken && seen.has(nextToken)) break;
    if (nextToken) seen.add(nextToken);
  } while (nextToken);
  throw new InvokeError(`no agent runtime named ${opts.runtimeName} in ${opts.region}: deploy the Agents stack, or pass --runtime-arn (the stack's RuntimeArn output)`);
}

export interface FargateInvokeOptions {
  readonly region: string;
  readonly credentials: AgentCoreInvokeOptions['credentials'];
  /** `https://agents.<domain>/invocations` (the Agents stack's AgentsUrl output). */
  readonly url: string;
  readonly prompt: string;
  readonly sessionId?: string;
  /** Audience of the STS token (the agents server checks it). */
  readonly audience: string;
  /** PEM certificates of the kit's private CA (internalTls.mode private-ca). @default public roots only */
  readonly caCertificates?: readonly string[];
  /** STS endpoint (tests). @default the region's STS endpoint in China */
  readonly stsEndpoint?: string;
  readonly timeoutMs: number;
}

/** HTTPS to the agents' internal load balancer, authenticated with a presigned STS GetCallerIdentity token. */
export async function invokeOnFargate(opts: FargateInvokeOptions): Promise<AgentsAnswer> {
  const sessionId = opts.sessionId ?? newSessionId();
  const token = await stsBearerToken({ region: opts.region, credentials: opts.credentials, audience: opts.audience, endpoint: opts.stsEndpoint });
  const doFetch = opts.caCertificates?.length ? privateCaFetch(opts.caCertificates) : fetch;
  const response = await doFetch(opts.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}`, [SESSION_HEADER]: sessionId },
    body: JSON.stringify({ prompt: opts.prompt, sessionId }),
    signal: AbortSignal.timeout(opts.timeoutMs),
  });
  const text = await response.text();
  if (!response.ok) {
    const message = (() => {
      try {
        return (JSON.parse(text) as { error?: { message?: string } }).error?.message;
      } catch {
        return undefined;
      }
    })();
    throw new InvokeError(`agents at ${opts.url} answered HTTP ${response.status}${message ? `: ${message}` : ''}`);
  }
  return parseAnswer(text, `agents at ${opts.url}`);
}

/** The delegation trace as aligned lines: who did what, for how long, with how many tokens. */
export function formatTrace(trace: readonly TraceEntry[]): string[] {
  const width = Math.max(5, ...trace.map((t) => t.agent.length));
  return trace.map((t) => {
    const what = t.event === 'delegate' ? `delegate -> ${t.to ?? '?'}` : t.event === 'tool' ? `tool ${t.tool ?? '?'}` : t.event;
    const tokens = t.inputTokens !== undefined || t.outputTokens !== undefined ? `  tokens in ${t.inputTokens ?? 0} / out ${t.outputTokens ?? 0}` : '';
    return `  ${t.agent.padEnd(width)}  ${what.padEnd(36)} ${String(Math.round(t.ms)).padStart(7)} ms${tokens}${t.detail ? `  ${t.detail}` : ''}`;
  });
}
