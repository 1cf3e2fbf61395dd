import * as fs from 'fs';
import type { Server } from 'http';
import * as os from 'os';
import * as path from 'path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
  httpServer?: Server;
}
type S3rverClass = new (options: { address: string; port: number; silent: boolean; directory: string; configureBuckets: { name: string }[]; vhostBuckets: boolean }) => S3rverInstance;
// s3rver ships no types; its export is a class that serves the S3 REST API from a directory.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as S3rverClass;

/**
 * S3 on loopback: s3rver implements the REST API (ListObjectsV2 pages, GetObject, PutObject) over
 * a temporary directory, so code that reads buckets runs against the real protocol.
 */
export class S3Local {
  url = '';
  private server?: S3rverInstance;
  private directory = '';

  constructor(private readonly buckets: string[]) {}

  async start(): Promise<this> {
    this.directory = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-s3-'));
    this.server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: this.directory, configureBuckets: this.buckets.map((name) => ({ name })), vhostBuckets: false });
    const { port } = await this.server.run();
    this.url = `http://127.0.0.1:${port}`;
    return this;
  }

  client(): S3Client {
    return new S3Client({ region: 'cn-northwest-1', endpoint: this.url, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  }

  async put(bucket: string, key: string, body: string | Buffer): Promise<void> {
    await this.client().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  }

  async stop(): Promise<void> {
    this.server?.httpServer?.closeAllConnections?.();
    await this.server?.close();
    fs.rmSync(this.directory, { recursive: true, force: true });
  }
}
