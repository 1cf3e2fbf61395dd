import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { Message, Model, ModelStreamEvent, StreamOptions } from '@strands-agents/sdk';
import OpenAI from 'openai';
import { sigv4Fetch } from '../client/sigv4-fetch';
import { AgentsConfig } from './agents-config';

// The kit compiles with classic node module resolution, which ignores package.json "exports": the
// provider's sub-path entry is loaded by its public name and typed from the file that entry points at.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { OpenAIModel } = require('@strands-agents/sdk/models/openai') as typeof import('@strands-agents/sdk/dist/src/models/openai/index');

export interface GatewayModelOptions {
  /** The kit gateway's base URL up to /v1, its auth and region. */
  readonly gateway: AgentsConfig['gateway'];
  /** Longest wait for one model call (the agent's time budget). */
  readonly timeoutMs: number;
  /** @default the SDK's default chain (in AgentCore Runtime: the runtime's execution role) */
  readonly credentials?: AwsCredentialIdentityProvider;
  /**
   * The credentials an agent signs its model calls with (its own role: agentCredentials). Without
   * it every agent signs with `credentials`.
   */
  readonly agentCredentials?: (agent: string) => AwsCredentialIdentityProvider;
}

/**
 * Strands' OpenAI Chat Completions provider, with parallel tool calls kept. Its stream adapter (SDK
 * 1.19) opens a content block for each tool call but closes them all only at the finish reason, and
 * the SDK's aggregator keeps one open block: of N tool calls streamed in one answer (OpenAI streams
 * them one after the other, each with its own index) only the last survived, so a supervisor that
 * delegated to two collaborators at once reached one. Closing the open block when the next one
 * starts, and dropping the surplus closes, gives the aggregator the sequence it expects.
 */
class GatewayChatModel extends OpenAIModel {
  async *stream(messages: Message[], options?: StreamOptions): AsyncIterable<ModelStreamEvent> {
    let open = false;
    for await (const event of super.stream(messages, options)) {
      if (event.type === 'modelContentBlockStartEvent') {
        if (open) yield { type: 'modelContentBlockStopEvent' };
        open = true;
      } else if (event.type === 'modelContentBlockStopEvent') {
        if (!open) continue;
        open = false;
      }
      yield event;
    }
  }
}

/**
 * Model clients for the agents: Strands' OpenAI provider (Chat Completions) pointed at the kit's
 * gateway, so every agent's model is a gateway alias and the gateway's allow-list, residency,
 * fallbacks, quotas and metering apply to agent traffic as to any other caller.
 */
export class GatewayModels {
  /** One client per signing identity: the fetch carries the credentials. */
  private readonly clients = new Map<string, OpenAI>();

  constructor(private readonly options: GatewayModelOptions) {}

  /** The model of an agent: a gateway alias, called as the agent (its role) when agents have roles. */
  model(alias: string, agent?: string): Model {
    return new GatewayChatModel({ api: 'chat', modelId: alias, client: this.client(agent) });
  }

  private client(agent: string | undefined): OpenAI {
    const { gateway, agentCredentials } = this.options;
    const signed = gateway.auth === 'sigv4';
    const identity = signed && agentCredentials && agent !== undefined ? agent : '';
    let client = this.clients.get(identity);
    if (!client) {
      const credentials = identity ? agentCredentials!(identity) : (this.options.credentials ?? fromNodeProviderChain());
      client = new OpenAI({
        baseURL: gateway.baseUrl,
        // IAM callers have no key: the SigV4 Authorization replaces the SDK's bearer header.
        apiKey: signed ? 'iam' : 'local',
        ...(signed && { fetch: sigv4Fetch({ region: gateway.region, credentials }) }),
        timeout: this.options.timeoutMs,
        // The gateway already retries upstream faults (with fallbacks) before the first byte; a second
        // layer here would multiply the attempts and outlast the agent's time budget.
        maxRetries: 0,
      });
      this.clients.set(identity, client);
    }
    return client;
  }
}
