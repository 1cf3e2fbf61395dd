import type { Server } from 'http';
import { AddressInfo } from 'net';
import { CreateTableCommand, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DynamoJsonClient } from '../../runtime/quota/dynamo-json-client';

type Dynalite = (options: { createTableMs?: number; deleteTableMs?: number; updateTableMs?: number; path?: string }) => Server;
// dynalite ships no types; its one export makes an http.Server that speaks DynamoDB's JSON protocol.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite = require('dynalite') as Dynalite;

/**
 * DynamoDB on loopback, in memory: dynalite implements the real API (condition expressions,
 * update expressions, validation, error types) on a LevelDB-compatible in-memory store, so tests
 * see what DynamoDB would answer, not what a hand-written stand-in assumes.
 */
export class DynamoDbLocal {
  url = '';
  private server?: Server;

  /** `path`: keep the tables in that directory across runs (LevelDB) instead of in memory. */
  async start(options: { path?: string } = {}): Promise<this> {
    this.server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(options.path && { path: options.path }) });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  client(): DynamoDBClient {
    return new DynamoDBClient({ region: 'cn-northwest-1', endpoint: this.url, credentials: { accessKeyId: 'AKIALOCAL', secretAccessKey: 'local' } });
  }

  /** The quota module's own small DynamoDB client (runtime/quota/dynamo-json-client.ts) against this server. */
  jsonClient(timeoutMs = 10_000): DynamoJsonClient {
    return new DynamoJsonClient({ region: 'cn-northwest-1', endpoint: this.url, credentials: { accessKeyId: 'AKIALOCAL', secretAccessKey: 'local' }, timeoutMs });
  }

  /** The streaming door's key table as the stack creates it: partition key `keyId` (string), on demand. */
  async createApiKeyTable(tableName: string): Promise<this> {
    await this.client().send(
      new CreateTableCommand({ TableName: tableName, AttributeDefinitions: [{ AttributeName: 'keyId', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'keyId', KeyType: 'HASH' }], BillingMode: 'PAY_PER_REQUEST' }),
    );
    return this;
  }

  /** The quota table as the stack creates it (lib/constructs/quota-store.ts): keys `pk` and `sk` (strings), on demand. */
  async createQuotaTable(tableName: string): Promise<this> {
    await this.client().send(
      new CreateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    return this;
  }

  /** Every item of a table, as stored. */
  async items(tableName: string) {
    return (await this.client().send(new ScanCommand({ TableName: tableName }))).Items ?? [];
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections?.();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}
