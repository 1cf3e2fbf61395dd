import * as fs from 'fs';
import * as path from 'path';
import { DatasetRef, layout } from '../../runtime/distill/dataset';
import { DistillStorage, LocalDirStorage } from '../../runtime/distill/storage';

/**
 * A local run's files in the contract's keys, laid out for a person: the dataset is read from the
 * prompts file and the manifest beside it (never written), the run's work goes straight into the
 * output directory (`distill/runs/<runId>/dataset/train.jsonl` -> `<out>/dataset/train.jsonl`).
 */
export class LocalRunStorage implements DistillStorage {
  private readonly out: LocalDirStorage;

  constructor(
    readonly outDir: string,
    private readonly runId: string,
    private readonly dataset: DatasetRef,
    private readonly promptsFile: string,
    private readonly manifestFile: string,
  ) {
    this.out = new LocalDirStorage(outDir);
  }

  private runKey(key: string): string {
    const prefix = `distill/runs/${this.runId}/`;
    if (!key.startsWith(prefix)) throw new Error(`a local run writes only its own files, not ${key}`);
    return key.slice(prefix.length);
  }

  private inputFile(key: string): string | undefined {
    if (key === layout.prompts(this.dataset)) return this.promptsFile;
    if (key === layout.manifest(this.dataset)) return this.manifestFile;
    return undefined;
  }

  async read(key: string): Promise<string | undefined> {
    const input = this.inputFile(key);
    if (input) return fs.existsSync(input) ? fs.promises.readFile(input, 'utf8') : undefined;
    return this.out.read(this.runKey(key));
  }

  write(key: string, body: string): Promise<void> {
    return this.out.write(this.runKey(key), body);
  }

  append(key: string, text: string): Promise<void> {
    return this.out.append(this.runKey(key), text);
  }

  describe(key: string): string {
    return this.inputFile(key) ?? path.join(this.outDir, this.runKey(key));
  }
}
