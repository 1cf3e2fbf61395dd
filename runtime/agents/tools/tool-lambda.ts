import { gunzipSync } from 'zlib';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

/**
 * A tool as AgentCore Gateway describes a Lambda target's tool (its inline tool schema). Input
 * schemas use only what the gateway's schema definition knows (type, description, properties,
 * required, items): value ranges and formats are checked by the handler.
 */
export interface ToolSchema {
  readonly name: string;
  readonly description: string;
  readonly inputSchema: { type: 'object'; properties: Record<string, { type: 'string' | 'integer' | 'number' | 'boolean'; description: string }>; required: string[] };
}

/** The part of the Lambda context AgentCore Gateway fills in: the tool called, as `<target>___<tool>`. */
export interface ToolLambdaContext {
  readonly clientContext?: { readonly custom?: Record<string, unknown> } | null;
}

export type ToolHandler<TResult> = (event: unknown, context?: ToolLambdaContext) => Promise<TResult>;

/** Bad tool input: the message tells the calling model what to send instead. */
export class ToolInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolInputError';
  }
}

/** The tool a gateway call is for, without the target prefix; undefined when invoked directly (no gateway). */
export function calledToolName(context: ToolLambdaContext | undefined): string | undefined {
  const full = context?.clientContext?.custom?.bedrockAgentCoreToolName;
  if (typeof full !== 'string') return undefined;
  const at = full.lastIndexOf('___');
  return at >= 0 ? full.slice(at + 3) : full;
}

/** Refuses a call meant for another tool (a gateway target pointed at the wrong function). */
export function expectTool(context: ToolLambdaContext | undefined, schemas: readonly ToolSchema[]): ToolSchema {
  const called = calledToolName(context);
  const schema = called === undefined ? schemas[0] : schemas.find((s) => s.name === called);
  if (!schema) throw new ToolInputError(`this function serves ${schemas.map((s) => s.name).join(', ')}, not "${called}"`);
  return schema;
}

/** The tool's arguments: AgentCore Gateway passes them as the event object (plus `_meta` trace context from MCP clients). */
export function toolArguments(event: unknown): Record<string, unknown> {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) throw new ToolInputError('the tool input must be a JSON object of named arguments');
  const { _meta: _traceContext, ...args } = event as Record<string, unknown>;
  return args;
}

/**
 * What a tool reads, declared by its module (`export const TOOL_DATA`): the stack gives the tool
 * read access to that source and names its bucket and prefix in these two environment variables.
 * usage-ledger: the Gateway stack's usage ledger bucket (its own key); documents: the documents
 * prefix of the weights bucket (agents.docsPrefix).
 */
export interface ToolData {
  readonly source: 'usage-ledger' | 'documents';
  readonly bucketEnv: string;
  readonly prefixEnv: string;
}

export interface S3Location {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly prefix: string;
}

/** Keys under a prefix, every page, at most `max` (the second value says whether more were left). */
export async function listKeys(location: S3Location, prefix: string, max: number): Promise<{ keys: { key: string; size: number }[]; more: boolean }> {
  const keys: { key: string; size: number }[] = [];
  let token: string | undefined;
  do {
    const page = await location.s3.send(new ListObjectsV2Command({ Bucket: location.bucket, Prefix: prefix, ContinuationToken: token, MaxKeys: Math.min(1000, max - keys.length + 1) }));
    for (const object of page.Contents ?? []) {
      if (!object.Key || object.Key.endsWith('/')) continue;
      if (keys.length === max) return { keys, more: true };
      keys.push({ key: object.Key, size: object.Size ?? 0 });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return { keys, more: false };
}

/** An object's text; gzip objects (Firehose writes them compressed when asked) are inflated. */
export async function readText(location: S3Location, key: string): Promise<string> {
  const body = await (await location.s3.send(new GetObjectCommand({ Bucket: location.bucket, Key: key }))).Body?.transformToByteArray();
  if (!body) return '';
  const bytes = Buffer.from(body);
  return (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString('utf8');
}

/** The bucket and prefix of a tool from its Lambda environment (set by the stack). */
export function s3LocationFromEnv(bucketVar: string, prefixVar: string, defaultPrefix: string, env: NodeJS.ProcessEnv = process.env): S3Location {
  const bucket = env[bucketVar];
  if (!bucket) throw new Error(`${bucketVar} is not set: the stack names the tool's bucket in it`);
  const prefix = env[prefixVar] ?? defaultPrefix;
  return { s3: new S3Client({}), bucket, prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/` };
}
