import * as fs from 'fs';
import * as path from 'path';
import { ApiKeyRecord, ApiKeyTable } from '../../runtime/server/api-keys';
import { OperatorError } from '../../runtime/operator/operator-error';

/**
 * The streaming door's caller keys in a local JSON file instead of DynamoDB, with the table's
 * rules: only hashes are stored, a key id is never reused, revoking needs an existing key. Read on
 * every lookup, so a key issued or revoked while the door runs counts (after the door's cache time).
 */
export class ApiKeyFile implements Pick<ApiKeyTable, 'get' | 'put' | 'revoke' | 'list'> {
  constructor(readonly file: string) {}

  async get(keyId: string): Promise<ApiKeyRecord | undefined> {
    return this.read().find((r) => r.keyId === keyId);
  }

  async put(record: ApiKeyRecord): Promise<void> {
    const records = this.read();
    if (records.some((r) => r.keyId === record.keyId)) throw new OperatorError(`key id ${record.keyId} already exists in ${this.file}`);
    this.write([...records, record]);
  }

  async revoke(keyId: string, now = new Date()): Promise<void> {
    const records = this.read();
    const record = records.find((r) => r.keyId === keyId);
    if (!record) throw new OperatorError(`no key ${keyId} in ${this.file} (see: list-keys)`);
    this.write(records.map((r) => (r === record ? { ...r, revokedAt: now.toISOString() } : r)));
  }

  async list(): Promise<ApiKeyRecord[]> {
    return this.read();
  }

  private read(): ApiKeyRecord[] {
    if (!fs.existsSync(this.file)) return [];
    const parsed = JSON.parse(fs.readFileSync(this.file, 'utf8')) as { keys?: ApiKeyRecord[] };
    if (!Array.isArray(parsed.keys)) throw new OperatorError(`${this.file} is not a key file of the door (expected {"keys": [...]})`);
    return parsed.keys;
  }

  private write(records: ApiKeyRecord[]): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    // Hashes only, but still nobody else's business; written whole then renamed, so a reader never sees half a file.
    const partial = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(partial, `${JSON.stringify({ keys: records }, null, 2)}\n`, { mode: 0o600 });
    fs.renameSync(partial, this.file);
  }
}
