import { DatasetRef, layout, parseManifest, parsePrompts, toJsonl } from './dataset';
import { GatewayClient } from './gateway-client';
import { ExtraPattern, MaskCounts, PiiMasker } from './pii-mask';
import { DistillStorage } from './storage';

/**
 * The export gate: the only way prompts reach a teacher. A teacher whose route processes data
 * outside mainland China sees a dataset only when its manifest says exportAllowed: true, and then
 * only with personal data masked. Whether a route is cross-border is the gateway's answer
 * (GET /v1/models `cross_border`), not a copy in the pipeline's own config: the gateway is what
 * actually sends the request, routes registered at run time included. An alias the gateway does
 * not list, or lists without the field, counts as cross-border (fail closed).
 */
export class ExportRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExportRefused';
  }
}

/** What the export log keeps: counts and names, never a masked value. */
export interface ExportLogRecord {
  readonly dataset: string;
  readonly version: string;
  readonly teacher: string;
  readonly crossBorder: boolean;
  /** true: the prompts leave mainland China (masked); false: China-only teacher, prompts used as written. */
  readonly exported: boolean;
  readonly prompts: number;
  readonly masked: MaskCounts;
  readonly maskedTotal: number;
  readonly time: string;
}

export async function teacherIsCrossBorder(client: GatewayClient, teacher: string): Promise<boolean> {
  const models = await client.listModels();
  const entry = models.find((m) => m.id === teacher);
  if (!entry) throw new ExportRefused(`teacher "${teacher}" is not served by the gateway at ${client.options.baseUrl} (GET /v1/models lists: ${models.map((m) => m.id).join(', ') || 'none'})`);
  return entry.cross_border !== false;
}

export interface ExportOptions {
  readonly storage: DistillStorage;
  readonly runId: string;
  readonly dataset: DatasetRef;
  readonly teacher: string;
  readonly crossBorder: boolean;
  /** Patterns added to the built-in ones and the manifest's maskPatterns. */
  readonly extraPatterns?: readonly ExtraPattern[];
  readonly now?: () => Date;
}

/** Reads the dataset, applies the gate, writes `export/prompts.jsonl` (what the teacher sees) and the export log. */
export async function exportPrompts(opts: ExportOptions): Promise<ExportLogRecord> {
  const { storage, dataset } = opts;
  const manifestKey = layout.manifest(dataset);
  const manifest = parseManifest(await storage.read(manifestKey), dataset, storage.describe(manifestKey));
  if (opts.crossBorder && manifest.exportAllowed !== true) {
    throw new ExportRefused(
      `dataset ${dataset.name}/${dataset.version} may not leave mainland China: teacher "${opts.teacher}" is served outside China and ${storage.describe(manifestKey)} has exportAllowed: ${manifest.exportAllowed}. ` +
        'Choose a teacher served in China, or set "exportAllowed": true once the data owner has cleared this data for cross-border processing.',
    );
  }
  const promptsKey = layout.prompts(dataset);
  const text = await storage.read(promptsKey);
  if (text === undefined) throw new ExportRefused(`dataset ${dataset.name}/${dataset.version} has no prompts at ${storage.describe(promptsKey)}`);
  const prompts = parsePrompts(text, storage.describe(promptsKey));
  const masked: MaskCounts = {};
  const masker = new PiiMasker([...(manifest.maskPatterns ?? []), ...(opts.extraPatterns ?? [])]);
  const outgoing = opts.crossBorder ? prompts.map((p) => masker.maskPrompt(p, masked)) : prompts;
  const record: ExportLogRecord = {
    dataset: dataset.name,
    version: dataset.version,
    teacher: opts.teacher,
    crossBorder: opts.crossBorder,
    exported: opts.crossBorder,
    prompts: prompts.length,
    masked,
    maskedTotal: Object.values(masked).reduce((a, b) => a + b, 0),
    time: (opts.now?.() ?? new Date()).toISOString(),
  };
  await storage.write(layout.exportedPrompts(opts.runId), toJsonl(outgoing));
  await storage.write(layout.exportLog(opts.runId), `${JSON.stringify(record, null, 2)}\n`);
  return record;
}
