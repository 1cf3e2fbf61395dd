import { createHash } from 'crypto';
import { DeleteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { JSONValue, Snapshot, SnapshotLocation, SnapshotManifest, SnapshotStorage } from '@strands-agents/sdk';
import { SNAPSHOT_SCHEMA_VERSION } from '@strands-agents/sdk';

/** The table's key and TTL attributes (the stack creates the table with these). */
export const MEMORY_TABLE_KEY = 'sessionId';
export const MEMORY_TABLE_TTL_ATTRIBUTE = 'expiresAt';

/** DynamoDB refuses items over 400 KB; the snapshot attribute stays well under it with the other attributes. */
const MAX_SNAPSHOT_BYTES = 350 * 1024;

export interface SessionMemoryOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  readonly ttlSeconds: number;
  /** Turns kept: a user prompt with everything up to the next prompt (delegations, tool results, the answer). */
  readonly maxTurns: number;
  readonly now?: () => number;
}

/**
 * Strands' session storage backed by DynamoDB, because AgentCore Memory is not offered in China:
 * one item per session (key `sessionId`) holding the supervisor's latest conversation snapshot,
 * cut to the last `maxTurns` turns, expiring `ttlSeconds` after its last turn (DynamoDB TTL on
 * `expiresAt`). Strands' SessionManager restores it when the agent starts and saves it after each
 * invocation.
 *
 * Only the latest snapshot is kept (the agent's instructions are not: a redeployment with new
 * instructions applies to old sessions too). Two turns of one session at the same moment: the later
 * save wins.
 */
export class DynamoSessionStorage implements SnapshotStorage {
  private readonly now: () => number;

  constructor(private readonly options: SessionMemoryOptions) {
    this.now = options.now ?? Date.now;
  }

  async saveSnapshot(params: { location: SnapshotLocation; snapshotId: string; isLatest: boolean; snapshot: Snapshot }): Promise<void> {
    // The SessionManager writes history snapshots only with a snapshotTrigger, which the agents do not set.
    if (!params.isLatest) throw new Error('DynamoSessionStorage keeps only the latest snapshot of a session (no snapshotTrigger)');
    const { systemPrompt: _instructionsComeFromTheConfig, ...data } = params.snapshot.data;
    const snapshot: Snapshot = { ...params.snapshot, data: { ...data, messages: lastTurns(data.messages, this.options.maxTurns) } };
    let body = JSON.stringify(snapshot);
    while (Buffer.byteLength(body) > MAX_SNAPSHOT_BYTES && (snapshot.data.messages as JSONValue[]).length > 0) {
      snapshot.data.messages = dropFirstTurn(snapshot.data.messages as JSONValue[]);
      body = JSON.stringify(snapshot);
    }
    const now = this.now();
    const item = {
      [MEMORY_TABLE_KEY]: { S: params.location.sessionId },
      scope: { S: `${params.location.scope}/${params.location.scopeId}` },
      snapshot: { S: body },
      updatedAt: { S: new Date(now).toISOString() },
      [MEMORY_TABLE_TTL_ATTRIBUTE]: { N: String(Math.floor(now / 1000) + this.options.ttlSeconds) },
    };
    await this.remember('save the session to', () => this.options.client.send(new PutItemCommand({ TableName: this.options.tableName, Item: item })));
  }

  async loadSnapshot(params: { location: SnapshotLocation; snapshotId?: string }): Promise<Snapshot | null> {
    if (params.snapshotId !== undefined && params.snapshotId !== 'latest') return null;
    const { Item: item } = await this.remember('read the session from', () =>
      this.options.client.send(new GetItemCommand({ TableName: this.options.tableName, Key: { [MEMORY_TABLE_KEY]: { S: params.location.sessionId } }, ConsistentRead: true })),
    );
    if (!item?.snapshot?.S || item.scope?.S !== `${params.location.scope}/${params.location.scopeId}`) return null;
    // DynamoDB deletes expired items some time after expiry, not at once: an expired one is already forgotten.
    if (Number(item[MEMORY_TABLE_TTL_ATTRIBUTE]?.N ?? Infinity) * 1000 <= this.now()) return null;
    return JSON.parse(item.snapshot.S) as Snapshot;
  }

  /** A memory failure says it was the memory (the invocation fails: answering without the session would mislead). */
  private async remember<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (e) {
      throw Object.assign(new Error(`cannot ${what} session memory (DynamoDB table ${this.options.tableName}): ${(e as Error).message}`, { cause: e }), { code: 'memory_unavailable' });
    }
  }

  async listSnapshotIds(): Promise<string[]> {
    return [];
  }

  async deleteSession(params: { sessionId: string }): Promise<void> {
    await this.options.client.send(new DeleteItemCommand({ TableName: this.options.tableName, Key: { [MEMORY_TABLE_KEY]: { S: params.sessionId } } }));
  }

  async loadManifest(): Promise<SnapshotManifest> {
    return { schemaVersion: SNAPSHOT_SCHEMA_VERSION, updatedAt: new Date(this.now()).toISOString() };
  }

  async saveManifest(): Promise<void> {
    // The item's updatedAt is the manifest: nothing else to keep.
  }
}

/**
 * The storage key of a caller's session id. Callers (and AgentCore Runtime) may use any characters;
 * Strands' session ids are lower-case letters, digits, "-" and "_" only.
 */
export function sessionKey(sessionId: string): string {
  return `s-${createHash('sha256').update(sessionId).digest('hex').slice(0, 40)}`;
}

/** A turn starts at a user message that is a prompt, not a batch of tool results. */
function isPrompt(message: JSONValue): boolean {
  const m = message as { role?: string; content?: { toolResult?: unknown }[] };
  return m.role === 'user' && Array.isArray(m.content) && !m.content.some((block) => block && typeof block === 'object' && 'toolResult' in block);
}

function lastTurns(messages: JSONValue | undefined, maxTurns: number): JSONValue[] {
  const all = Array.isArray(messages) ? messages : [];
  const starts = all.flatMap((m, i) => (isPrompt(m) ? [i] : []));
  return starts.length <= maxTurns ? all.slice(starts[0] ?? all.length) : all.slice(starts[starts.length - maxTurns]);
}

function dropFirstTurn(messages: JSONValue[]): JSONValue[] {
  const next = messages.findIndex((m, i) => i > 0 && isPrompt(m));
  return next < 0 ? [] : messages.slice(next);
}
