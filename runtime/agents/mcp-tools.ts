import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { McpClient, Tool } from '@strands-agents/sdk';
import { sigv4Fetch } from '../client/sigv4-fetch';
import { AgentsConfig, CollaboratorConfig } from './agents-config';

/** AgentCore Gateway names a Lambda target's tools `<target>___<tool>`. */
const TARGET_SEPARATOR = '___';

/** How long a listing of the gateway's tools is reused: targets added to the gateway join within it. */
const LISTING_TTL_MS = 5 * 60 * 1000;

/**
 * The tools of the MCP gateway (AgentCore Gateway when deployed, the local tool server on loopback),
 * through Strands' MCP client over streamable HTTP. A listing is reused for five minutes; a failed
 * one is not kept, so the next invocation tries again.
 */
export class GatewayTools {
  private readonly client: McpClient;
  private listing?: { tools: Promise<Tool[]>; at: number };

  constructor(
    tools: NonNullable<AgentsConfig['tools']>,
    gatewayRegion: string,
    credentials?: AwsCredentialIdentityProvider,
    private readonly now: () => number = Date.now,
  ) {
    const signed = tools.auth === 'sigv4';
    const transport = new StreamableHTTPClientTransport(new URL(tools.mcpUrl), {
      // AgentCore Gateway with IAM inbound auth verifies SigV4 for its own service name.
      ...(signed && { fetch: sigv4Fetch({ region: tools.region ?? gatewayRegion, credentials: credentials ?? fromNodeProviderChain(), service: 'bedrock-agentcore' }) }),
    });
    this.client = new McpClient({ transport, applicationName: 'cn-llm-kit-agents', applicationVersion: '1' });
  }

  /** Every tool the gateway lists. */
  async all(): Promise<Tool[]> {
    if (!this.listing || this.now() - this.listing.at > LISTING_TTL_MS) {
      const listing: { tools: Promise<Tool[]>; at: number } = {
        at: this.now(),
        tools: this.client.listTools().catch((e: unknown) => {
          if (this.listing === listing) this.listing = undefined;
          throw e;
        }),
      };
      this.listing = listing;
    }
    return this.listing.tools;
  }

  async close(): Promise<void> {
    await this.client.disconnect().catch(() => undefined);
  }
}

/** The tools a collaborator may call: its `tools` list (bare or `<target>___<tool>` names), or all of them. */
export function toolsFor(collaborator: CollaboratorConfig, tools: readonly Tool[]): Tool[] {
  if (!collaborator.tools) return [...tools];
  const wanted = new Set(collaborator.tools);
  return tools.filter((tool) => wanted.has(tool.name) || wanted.has(bareToolName(tool.name)));
}

export function bareToolName(name: string): string {
  const at = name.lastIndexOf(TARGET_SEPARATOR);
  return at >= 0 ? name.slice(at + TARGET_SEPARATOR.length) : name;
}

export function gatewayToolName(target: string, tool: string): string {
  return `${target}${TARGET_SEPARATOR}${tool}`;
}
