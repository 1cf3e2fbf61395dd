import { createHash, randomBytes, timingSafeEqual } from 'crypto';
import { DynamoDBClient, DynamoDBClientConfig, GetItemCommand, PutItemCommand, ScanCommand, ScanCommandOutput, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { ExpiringCache } from './expiring-cache';

/** What is stored per key: never the key itself, only its SHA-256. */
export interface ApiKeyRecord {
  readonly keyId: string;
  readonly hash: string;
  readonly caller: string;
  /** The team the key belongs to (quotas): its group's limits and budgets apply. @default none (quotas.principals, else "default") */
  readonly group?: string;
  readonly createdAt: string;
  readonly revokedAt?: string;
}

const MAX_CACHED_KEYS = 10_000;
const KEY_PATTERN = /^cnllm_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;
const sha256Hex = (value: string) => createHash('sha256').update(value).digest('hex');

/** A new key: `cnllm_<keyId>_<secret>`, 256 random bits. Shown once; the store keeps its hash. */
export function newApiKey(caller: string, now = new Date(), group?: string): { key: string; record: ApiKeyRecord } {
  const keyId = randomBytes(9).toString('base64url').toLowerCase().replace(/[^a-z0-9]/g, '0').slice(0, 12);
  const key = `cnllm_${keyId}_${randomBytes(32).toString('base64url')}`;
  return { key, record: { keyId, hash: sha256Hex(key), caller, ...(group && { group }), createdAt: now.toISOString() } };
}

/**
 * The door's DynamoDB client for key lookups. A lookup is one small GetItem: bounded per attempt
 * (two attempts), so a slow table answers callers 503 auth_unavailable instead of hanging every request.
 */
export function keyLookupClient(config: DynamoDBClientConfig, timeoutMs: number): DynamoDBClient {
  return new DynamoDBClient({
    maxAttempts: 2,
    ...config,
    requestHandler: new NodeHttpHandler({ connectionTimeout: Math.min(timeoutMs, 3000), requestTimeout: timeoutMs, throwOnRequestTimeout: true }),
  });
}

/** Keys in a DynamoDB table (partition key `keyId`), so issuing and revoking needs no redeploy. */
export class ApiKeyTable {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async get(keyId: string): Promise<ApiKeyRecord | undefined> {
    const item = (await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: { keyId: { S: keyId } } }))).Item;
    if (!item) return undefined;
    return { keyId, hash: item.hash.S!, caller: item.caller.S!, ...(item.group?.S && { group: item.group.S }), createdAt: item.createdAt.S!, ...(item.revokedAt?.S && { revokedAt: item.revokedAt.S }) };
  }

  async put(record: ApiKeyRecord): Promise<void> {
    await this.client.send(
      new PutItemCommand({
        TableName: this.tableName,
        Item: { keyId: { S: record.keyId }, hash: { S: record.hash }, caller: { S: record.caller }, ...(record.group && { group: { S: record.group } }), createdAt: { S: record.createdAt } },
        ConditionExpression: 'attribute_not_exists(keyId)',
      }),
    );
  }

  async revoke(keyId: string, now = new Date()): Promise<void> {
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { keyId: { S: keyId } },
        UpdateExpression: 'SET revokedAt = :now',
        ConditionExpression: 'attribute_exists(keyId)',
        ExpressionAttributeValues: { ':now': { S: now.toISOString() } },
      }),
    );
  }

  /** Moves a key to another group (quotas), effective within the door's key cache time. */
  async setGroup(keyId: string, group: string): Promise<void> {
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { keyId: { S: keyId } },
        UpdateExpression: 'SET #g = :g',
        ConditionExpression: 'attribute_exists(keyId)',
        ExpressionAttributeNames: { '#g': 'group' },
        ExpressionAttributeValues: { ':g': { S: group } },
      }),
    );
  }

  async list(): Promise<ApiKeyRecord[]> {
    // A Scan page stops at 1 MB: follow LastEvaluatedKey, or keys past the first page go unlisted.
    const items: NonNullable<ScanCommandOutput['Items']> = [];
    let start: ScanCommandOutput['LastEvaluatedKey'];
    do {
      const page = await this.client.send(new ScanCommand({ TableName: this.tableName, ExclusiveStartKey: start }));
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items.map((item) => ({ keyId: item.keyId.S!, hash: '', caller: item.caller.S!, ...(item.group?.S && { group: item.group.S }), createdAt: item.createdAt.S!, ...(item.revokedAt?.S && { revokedAt: item.revokedAt.S }) }));
  }
}

/**
 * Bearer API keys: looked up by key id, compared as hashes in constant time. Lookups are cached for
 * `cacheSeconds`, so a revocation takes effect within that time without a redeploy.
 */
export class ApiKeyAuthenticator {
  /** Lookups in flight or done, so concurrent requests with one key make one DynamoDB call. */
  private readonly cache: ExpiringCache<Promise<ApiKeyRecord | undefined>>;

  constructor(
    private readonly table: Pick<ApiKeyTable, 'get'>,
    private readonly cacheSeconds = 30,
    private readonly now: () => number = Date.now,
  ) {
    this.cache = new ExpiringCache(MAX_CACHED_KEYS, now);
  }

  async authenticate(bearer: string): Promise<{ caller: string; identity: string; group?: string } | undefined> {
    const match = KEY_PATTERN.exec(bearer);
    if (!match) return undefined;
    const keyId = match[1];
    let lookup = this.cache.get(keyId);
    if (!lookup) {
      lookup = this.table.get(keyId);
      this.cache.set(keyId, lookup, this.now() + this.cacheSeconds * 1000);
      lookup.catch(() => this.cache.delete(keyId));
    }
    const record = await lookup;
    if (!record || record.revokedAt) return undefined;
    const presented = Buffer.from(sha256Hex(bearer), 'hex');
    const stored = Buffer.from(record.hash, 'hex');
    return stored.length === presented.length && timingSafeEqual(presented, stored) ? { caller: record.caller, identity: keyId, ...(record.group && { group: record.group }) } : undefined;
  }
}
