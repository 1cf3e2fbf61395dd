import * as http from 'http';
import { LoopbackServer } from './loopback-server';

interface FakeExecution {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  input: string;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';
  startDate: number;
  stopDate?: number;
  output?: string;
  error?: string;
  cause?: string;
  events: Record<string, unknown>[];
}

/**
 * Loopback Step Functions (AWS JSON 1.0: `X-Amz-Target: AWSStepFunctions.<Operation>`): StartExecution,
 * DescribeExecution and GetExecutionHistory with the service's naming and idempotency rules, pages of
 * history, and its error shapes. Requests must be SigV4-signed for `states` in the expected region.
 */
export class SfnFake extends LoopbackServer {
  readonly executions = new Map<string, FakeExecution>();
  readonly calls: { operation: string; body: Record<string, any>; authorization: string }[] = [];
  /** State machines that exist (ARNs). */
  readonly stateMachines = new Set<string>();
  /** History page size the fake serves (the real service serves up to maxResults). */
  pageSize = 1000;

  constructor(private readonly region = 'cn-northwest-1') {
    super();
  }

  /** Appends history events to a run, numbering them as the service does. */
  record(executionArn: string, ...events: Record<string, unknown>[]): void {
    const execution = this.executions.get(executionArn)!;
    for (const e of events) execution.events.push({ id: execution.events.length + 1, timestamp: Date.now() / 1000, ...e });
  }

  /** Ends a run the way the service reports it. */
  finish(executionArn: string, outcome: Pick<FakeExecution, 'status'> & Partial<Pick<FakeExecution, 'output' | 'error' | 'cause'>>): void {
    Object.assign(this.executions.get(executionArn)!, outcome, { stopDate: Date.now() / 1000 });
  }

  protected async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const target = String(req.headers['x-amz-target'] ?? '');
    const authorization = String(req.headers.authorization ?? '');
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    const operation = target.replace(/^AWSStepFunctions\./, '');
    this.calls.push({ operation, body, authorization });
    if (!target.startsWith('AWSStepFunctions.') || req.headers['content-type'] !== 'application/x-amz-json-1.0') return this.error(res, 400, 'UnknownOperationException', 'unknown operation');
    if (!new RegExp(`^AWS4-HMAC-SHA256 Credential=[A-Z0-9]+/\\d{8}/${this.region}/states/aws4_request, SignedHeaders=[^,]+, Signature=[0-9a-f]{64}$`).test(authorization)) {
      return this.error(res, 403, 'InvalidSignatureException', 'The request signature we calculated does not match the signature you provided.');
    }
    if (operation === 'StartExecution') return this.startExecution(res, body);
    const execution = this.executions.get(body.executionArn);
    if (operation === 'DescribeExecution' || operation === 'GetExecutionHistory') {
      if (!execution) return this.error(res, 400, 'ExecutionDoesNotExist', `Execution Does Not Exist: '${body.executionArn}'`);
      if (operation === 'DescribeExecution') {
        const { events: _events, ...described } = execution;
        return this.json(res, described);
      }
      const from = body.nextToken ? Number(body.nextToken) : 0;
      const size = Math.min(body.maxResults ?? 100, this.pageSize);
      const page = execution.events.slice(from, from + size);
      return this.json(res, { events: page, ...(from + size < execution.events.length && { nextToken: String(from + size) }) });
    }
    return this.error(res, 400, 'UnknownOperationException', `${operation} is not served by this stand-in`);
  }

  private startExecution(res: http.ServerResponse, body: Record<string, any>): void {
    if (!this.stateMachines.has(body.stateMachineArn)) return this.error(res, 400, 'StateMachineDoesNotExist', `State Machine Does Not Exist: '${body.stateMachineArn}'`);
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(body.name ?? '')) return this.error(res, 400, 'InvalidName', `Invalid Name: '${body.name}'`);
    const parts = String(body.stateMachineArn).split(':');
    const executionArn = [...parts.slice(0, 5), 'execution', parts[6], body.name].join(':');
    const existing = this.executions.get(executionArn);
    // Same name and same input within 90 days: the service answers with the existing execution.
    if (existing) {
      if (existing.input !== body.input) return this.error(res, 400, 'ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
      return this.json(res, { executionArn, startDate: existing.startDate });
    }
    const startDate = Date.now() / 1000;
    this.executions.set(executionArn, { executionArn, stateMachineArn: body.stateMachineArn, name: body.name, input: body.input ?? '{}', status: 'RUNNING', startDate, events: [] });
    this.record(executionArn, { type: 'ExecutionStarted', executionStartedEventDetails: { input: body.input ?? '{}' } });
    this.json(res, { executionArn, startDate });
  }

  private json(res: http.ServerResponse, value: unknown): void {
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
    res.end(JSON.stringify(value));
  }

  private error(res: http.ServerResponse, status: number, type: string, message: string): void {
    res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-errortype': type });
    res.end(JSON.stringify({ __type: `com.amazonaws.swf.service.v2.model#${type}`, message }));
  }
}
