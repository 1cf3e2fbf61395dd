import * as http from 'http';
import { AddressInfo } from 'net';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { flatHeaders, readBody, sendJson } from '../gateway/node-http';
import { LocalIamCaller, verifySigV4 } from '../local/sigv4-verifier';
import { gatewayToolName } from './mcp-tools';
import { ToolHandler, ToolSchema } from './tools/tool-lambda';

/** A Lambda target as AgentCore Gateway sees it: the function's tools and the function. */
export interface ToolTarget {
  readonly name: string;
  readonly schemas: readonly ToolSchema[];
  readonly handler: ToolHandler<unknown>;
}

export interface LocalMcpServer {
  /** The MCP endpoint (streamable HTTP), like the AgentCore Gateway's …/mcp URL. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The tool Lambdas served the way AgentCore Gateway serves them, on loopback: an MCP server
 * (streamable HTTP, stateless) listing each target's tools as `<target>___<tool>` and calling the
 * handler with the tool's name in the Lambda context, as the gateway does.
 */
export async function startLocalMcpServer(
  targets: readonly ToolTarget[],
  options: {
    port?: number;
    /** Require SigV4 (service bedrock-agentcore) from these callers, like a gateway with IAM inbound auth. @default none */
    iam?: { region: string; callers: readonly LocalIamCaller[] };
  } = {},
): Promise<LocalMcpServer> {
  const tools = targets.flatMap((target) => target.schemas.map((schema) => ({ target, schema, name: gatewayToolName(target.name, schema.name) })));

  const mcpServer = () => {
    const server = new Server({ name: 'cn-llm-kit-tools', version: '1' }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, async () => ({
      tools: tools.map(({ name, schema }) => ({ name, description: schema.description, inputSchema: schema.inputSchema })),
    }));
    server.setRequestHandler(CallToolRequestSchema, async (request) => {
      const tool = tools.find((t) => t.name === request.params.name);
      if (!tool) return { content: [{ type: 'text' as const, text: `Unknown tool ${request.params.name}: the tools are ${tools.map((t) => t.name).join(', ')}` }], isError: true };
      try {
        const result = await tool.target.handler(request.params.arguments ?? {}, { clientContext: { custom: { bedrockAgentCoreToolName: tool.name } } });
        return { content: [{ type: 'text' as const, text: JSON.stringify(result) }] };
      } catch (e) {
        // A Lambda that throws is a tool error the calling model reads, not a protocol error.
        return { content: [{ type: 'text' as const, text: (e as Error).message }], isError: true };
      }
    });
    return server;
  };

  const httpServer = http.createServer((req, res) => {
    void (async () => {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      if (path !== '/mcp') return sendJson(res, 404, { jsonrpc: '2.0', error: { code: -32601, message: `no MCP endpoint at ${path}: use /mcp` }, id: null });
      if (req.method !== 'POST') return sendJson(res, 405, { jsonrpc: '2.0', error: { code: -32000, message: 'this server is stateless: POST JSON-RPC messages to /mcp' }, id: null }, { allow: 'POST' });
      const raw = await readBody(req, 1024 * 1024);
      if (raw === undefined) return sendJson(res, 413, { jsonrpc: '2.0', error: { code: -32600, message: 'request over 1 MB' }, id: null });
      if (options.iam) {
        const verdict = await verifySigV4({ method: 'POST', path, query: {}, headers: flatHeaders(req), body: raw }, options.iam.callers, options.iam.region, 'bedrock-agentcore');
        if (!verdict.ok) return sendJson(res, 403, { message: verdict.message }, { 'x-amzn-errortype': verdict.errorType });
      }
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return sendJson(res, 400, { jsonrpc: '2.0', error: { code: -32700, message: 'Parse error' }, id: null });
      }
      // Stateless: a server and transport per request, as the SDK's stateless examples do.
      const server = mcpServer();
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      res.on('close', () => {
        void transport.close();
        void server.close();
      });
      await server.connect(transport);
      await transport.handleRequest(req, res, body);
    })().catch((e: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { jsonrpc: '2.0', error: { code: -32603, message: (e as Error).message }, id: null });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  return {
    url: `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}/mcp`,
    close: () =>
      new Promise<void>((resolve) => {
        httpServer.closeAllConnections();
        httpServer.close(() => resolve());
      }),
  };
}
