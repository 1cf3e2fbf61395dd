import * as http from 'http';
import { LoopbackServer } from './loopback-server';

interface Resource {
  readonly kind: 'runtime' | 'gateway' | 'target';
  readonly id: string;
  body: Record<string, any>;
  status: string;
  /** GETs left before the pending status settles. */
  pending: number;
  settlesTo: string;
  deleting: boolean;
}

/**
 * A loopback stand-in of the AgentCore control plane for runtimes, gateways and gateway targets,
 * on the REST paths the AWS SDK's serializers use (PUT /runtimes/, POST /gateways/,
 * POST /gateways/{id}/targets/, GET/PUT/DELETE on each). Resources go through CREATING/UPDATING/
 * DELETING for `pendingPolls` reads before they settle, as the service's asynchronous operations do.
 */
export class AgentCoreControlFake extends LoopbackServer {
  readonly resources = new Map<string, Resource>();
  readonly calls: { method: string; path: string; body: any }[] = [];
  pendingPolls = 2;
  /** The status a create settles to (e.g. CREATE_FAILED for runtimes). */
  createOutcome: Partial<Record<Resource['kind'], string>> = {};
  private counter = 0;

  constructor(private readonly account = '111122223333', private readonly region = 'cn-northwest-1') {
    super();
  }

  private newId(name: string, kind: Resource['kind']): string {
    const suffix = String(++this.counter).padStart(10, '0');
    return kind === 'target' ? `T${suffix.slice(1)}` : `${kind === 'gateway' ? name.toLowerCase() : name}-${suffix}`;
  }

  private view(r: Resource): Record<string, unknown> {
    const now = '2026-12-02T00:00:00Z';
    if (r.kind === 'runtime') return { ...r.body, agentRuntimeId: r.id, agentRuntimeArn: `arn:aws-cn:bedrock-agentcore:${this.region}:${this.account}:runtime/${r.id}`, agentRuntimeVersion: '1', createdAt: now, lastUpdatedAt: now, status: r.status, ...(r.status.endsWith('FAILED') && { failureReason: 'image manifest not found for linux/arm64' }) };
    if (r.kind === 'gateway') return { ...r.body, gatewayId: r.id, gatewayArn: `arn:aws-cn:bedrock-agentcore:${this.region}:${this.account}:gateway/${r.id}`, gatewayUrl: `https://${r.id}.gateway.bedrock-agentcore.${this.region}.amazonaws.com.cn/mcp`, createdAt: now, updatedAt: now, status: r.status };
    return { ...r.body, targetId: r.id.split('/')[1], gatewayArn: `arn:aws-cn:bedrock-agentcore:${this.region}:${this.account}:gateway/${r.id.split('/')[0]}`, createdAt: now, updatedAt: now, status: r.status, ...(r.status === 'FAILED' && { statusReasons: ['lambda not invokable by the gateway role'] }) };
  }

  private settle(r: Resource): Resource | undefined {
    if (r.pending > 0) r.pending--;
    else if (r.deleting) {
      this.resources.delete(r.id);
      return undefined;
    } else r.status = r.settlesTo;
    return r;
  }

  protected async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body = text ? JSON.parse(text) : {};
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const method = req.method ?? 'GET';
    this.calls.push({ method, path, body });
    const send = (status: number, payload: unknown, errorType?: string) => {
      res.writeHead(status, { 'content-type': 'application/json', ...(errorType && { 'x-amzn-errortype': errorType }) });
      res.end(JSON.stringify(payload));
    };
    const create = (kind: Resource['kind'], id: string, request: Record<string, any>) => {
      const r: Resource = { kind, id, body: request, status: 'CREATING', pending: this.pendingPolls, settlesTo: this.createOutcome[kind] ?? 'READY', deleting: false };
      this.resources.set(id, r);
      return send(202, this.view(r));
    };
    const existing = (id: string, kind: Resource['kind']) => {
      const r = this.resources.get(id);
      return r && r.kind === kind ? r : undefined;
    };
    const notFound = () => send(404, { message: 'Resource not found' }, 'ResourceNotFoundException');
    const operate = (r: Resource | undefined, op: 'get' | 'update' | 'delete', request?: Record<string, any>) => {
      if (!r) return notFound();
      if (op === 'get') {
        const settled = this.settle(r);
        return settled ? send(200, this.view(settled)) : notFound();
      }
      if (op === 'update') Object.assign(r, { body: { ...r.body, ...request }, status: 'UPDATING', pending: this.pendingPolls, settlesTo: 'READY' });
      else Object.assign(r, { status: 'DELETING', pending: this.pendingPolls, deleting: true });
      return send(202, this.view(r));
    };
    const op = ({ GET: 'get', PUT: 'update', DELETE: 'delete' } as const)[method as 'GET'];
    let m: RegExpExecArray | null;
    if (method === 'PUT' && path === '/runtimes/') return create('runtime', this.newId(body.agentRuntimeName, 'runtime'), body);
    if ((m = /^\/runtimes\/([^/]+)\/$/.exec(path)) && op) return operate(existing(m[1], 'runtime'), op, body);
    if (method === 'POST' && path === '/gateways/') return create('gateway', this.newId(body.name, 'gateway'), body);
    if ((m = /^\/gateways\/([^/]+)\/targets\/$/.exec(path)) && method === 'POST') return existing(m[1], 'gateway') ? create('target', `${m[1]}/${this.newId(body.name, 'target')}`, body) : notFound();
    if ((m = /^\/gateways\/([^/]+)\/targets\/([^/]+)\/$/.exec(path)) && op) return operate(existing(`${m[1]}/${m[2]}`, 'target'), op, body);
    if ((m = /^\/gateways\/([^/]+)\/$/.exec(path)) && op) return operate(existing(m[1], 'gateway'), op, body);
    send(404, { message: `no route ${method} ${path}` }, 'UnknownOperationException');
  }
}
