import * as http from 'http';
import { verifySigV4, type LocalIamCaller } from '../../runtime/local/sigv4-verifier';
import { LoopbackServer } from './loopback-server';

export interface RecordedInvocation {
  readonly runtimeArn: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly caller: string;
}

/**
 * A loopback stand-in of the AgentCore data plane (InvokeAgentRuntime: POST
 * /runtimes/{url-encoded ARN}/invocations) and of the control plane's ListAgentRuntimes
 * (POST /runtimes/?nextToken=..., paginated), as the AWS SDK's serializers put them on the wire. Every request
 * must carry a valid SigV4 signature for service bedrock-agentcore in the region.
 */
export class AgentCoreFake extends LoopbackServer {
  readonly invocations: RecordedInvocation[] = [];
  /** Runtimes ListAgentRuntimes returns, one per page (so callers must follow nextToken). */
  runtimes: { agentRuntimeName: string; agentRuntimeArn: string }[] = [];
  /** What the runtime answers: given the request body, the body and status to send back. */
  answer: (request: { prompt: string; sessionId?: string }, sessionId: string) => { status: number; body: unknown } = (req, sessionId) => ({
    status: 200,
    body: { answer: `answer to: ${req.prompt}`, sessionId, trace: [{ agent: 'supervisor', event: 'answer', ms: 5 }] },
  });

  constructor(
    private readonly callers: readonly LocalIamCaller[],
    private readonly region: string,
  ) {
    super();
  }

  protected async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : (v ?? '')]));
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, payload: unknown, extra: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...extra });
      res.end(JSON.stringify(payload));
    };
    const verdict = await verifySigV4({ method: req.method ?? 'GET', path: url.pathname, query: Object.fromEntries(url.searchParams), headers, body }, this.callers, this.region, 'bedrock-agentcore');
    if (!verdict.ok) return send(403, { message: verdict.message }, { 'x-amzn-errortype': verdict.errorType });

    if (req.method === 'POST' && url.pathname === '/runtimes/') {
      // maxResults and nextToken travel in the query string (the SDK's httpQuery bindings), not the body.
      const nextToken = url.searchParams.get('nextToken');
      const index = nextToken ? Number(nextToken) : 0;
      const page = this.runtimes.slice(index, index + 1).map((r) => ({ ...r, agentRuntimeId: r.agentRuntimeArn.split('/')[1], agentRuntimeVersion: '1', description: '', lastUpdatedAt: '2026-12-01T00:00:00Z', status: 'READY' }));
      return send(200, { agentRuntimes: page, ...(index + 1 < this.runtimes.length && { nextToken: String(index + 1) }) });
    }
    const invocation = /^\/runtimes\/([^/]+)\/invocations$/.exec(url.pathname);
    if (req.method === 'POST' && invocation) {
      const runtimeArn = decodeURIComponent(invocation[1]);
      const sessionId = headers['x-amzn-bedrock-agentcore-runtime-session-id'] ?? '';
      this.invocations.push({ runtimeArn, headers, body, caller: verdict.arn });
      if (!this.runtimes.some((r) => r.agentRuntimeArn === runtimeArn)) return send(404, { message: `Runtime ${runtimeArn} not found` }, { 'x-amzn-errortype': 'ResourceNotFoundException' });
      if (sessionId.length < 33) return send(400, { message: 'runtimeSessionId must be at least 33 characters' }, { 'x-amzn-errortype': 'ValidationException' });
      const { status, body: answer } = this.answer(JSON.parse(body), sessionId);
      return send(status, answer, { 'x-amzn-bedrock-agentcore-runtime-session-id': sessionId });
    }
    send(404, { message: `no route ${req.method} ${url.pathname}` }, { 'x-amzn-errortype': 'UnknownOperationException' });
  }
}
