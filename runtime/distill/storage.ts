import * as fs from 'fs';
import * as path from 'path';
import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

/**
 * Where a run's files live: a directory on one machine (npm run distill:local) or the weights
 * bucket (the Step Functions run). Keys are the contract's layout (dataset.ts), "/"-separated.
 */
export interface DistillStorage {
  /** The object's text, or undefined when there is none. */
  read(key: string): Promise<string | undefined>;
  write(key: string, body: string): Promise<void>;
  /** Adds text at the end; the object is created when missing. */
  append(key: string, text: string): Promise<void>;
  /** Where a key lives, for messages and reports. */
  describe(key: string): string;
}

export class LocalDirStorage implements DistillStorage {
  constructor(readonly root: string) {}

  private file(key: string): string {
    const file = path.resolve(this.root, key);
    if (!file.startsWith(path.resolve(this.root) + path.sep)) throw new Error(`key ${key} leaves ${this.root}`);
    return file;
  }

  async read(key: string): Promise<string | undefined> {
    try {
      return await fs.promises.readFile(this.file(key), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async write(key: string, body: string): Promise<void> {
    const file = this.file(key);
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    // Written then renamed: a run killed mid-write leaves the old file or the new one, never half of one.
    const partial = `${file}.${process.pid}.partial`;
    await fs.promises.writeFile(partial, body);
    await fs.promises.rename(partial, file);
  }

  async append(key: string, text: string): Promise<void> {
    const file = this.file(key);
    await fs.promises.mkdir(path.dirname(file), { recursive: true });
    await fs.promises.appendFile(file, text);
  }

  describe(key: string): string {
    return this.file(key);
  }
}

/**
 * The weights bucket. S3 has no append: `append` rewrites the object with the new text at the end,
 * so callers batch what they append (the teacher step flushes every few seconds, not per answer).
 * One writer per key at a time (one Lambda per run step), which the state machine guarantees; the
 * writer builds each append on what it wrote last, so one append costs one PUT, not a GET and a PUT.
 */
export class S3Storage implements DistillStorage {
  /** What this process last wrote per key: an append builds on it instead of reading the object back. */
  private readonly written = new Map<string, string>();

  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  async read(key: string): Promise<string | undefined> {
    try {
      const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return await object.Body!.transformToString('utf8');
    } catch (e) {
      if (e instanceof NoSuchKey || (e as { name?: string }).name === 'NoSuchKey') return undefined;
      throw e;
    }
  }

  async write(key: string, body: string): Promise<void> {
    this.written.delete(key);
    // The bucket's default encryption (the kit's KMS key) applies; no per-object override here.
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: key.endsWith('.json') ? 'application/json' : key.endsWith('.md') ? 'text/markdown' : 'application/x-ndjson' }));
  }

  async append(key: string, text: string): Promise<void> {
    const existing = this.written.get(key) ?? (await this.read(key)) ?? '';
    await this.write(key, existing + text);
    this.written.set(key, existing + text);
  }

  describe(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }
}
