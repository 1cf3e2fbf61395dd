import * as fs from 'fs';
import * as path from 'path';
import { KitConfigSchema } from '../lib/config/schema';
import { schemaFields } from './helpers/schema-fields';

/**
 * The README's configuration reference against lib/config/schema.ts: every field is documented
 * (itself, or as part of a documented object such as `gateway.alarms`), no documented field is
 * gone from the schema, and every default written as a literal is the default the schema applies.
 */

/** Splits on ", " outside backticks. */
function splitOutsideCode(cell: string): string[] {
  const parts: string[] = [];
  let current = '';
  let inCode = false;
  for (let i = 0; i < cell.length; i++) {
    if (cell[i] === '`') inCode = !inCode;
    if (!inCode && cell.startsWith(', ', i)) {
      parts.push(current);
      current = '';
      i++;
      continue;
    }
    current += cell[i];
  }
  return [...parts, current].map((p) => p.trim());
}

interface ReferenceRow {
  readonly fields: string[];
  readonly defaults: string[];
  readonly line: string;
}

function referenceRows(readme: string): ReferenceRow[] {
  const section = readme.slice(readme.indexOf('## Configuration'));
  const table = section.slice(section.indexOf('| Field | Default | Meaning |'));
  return table
    .split('\n')
    .slice(2)
    .filter((line) => line.startsWith('| `'))
    .map((line) => {
      const [, fieldCell, defaultCell] = line.split(/(?<!\\)\|/).map((c) => c.trim());
      const names = splitOutsideCode(fieldCell).map((n) => n.replace(/`/g, ''));
      // `gateway.streamingDoor.cpu`, `memoryMiB`: later names share the first one's parent.
      const parent = names[0].includes('.') ? names[0].slice(0, names[0].lastIndexOf('.') + 1) : '';
      return { fields: names.map((n, i) => (i > 0 && !n.includes('.') ? parent + n : n)), defaults: splitOutsideCode(defaultCell.replace(/\\\|/g, '|')), line };
    });
}

function valueAt(config: unknown, field: string): unknown {
  // models[].x: the embedded default model, with the schema's defaults for its fields.
  return field
    .replace(/\[\]/g, '.0')
    .split('.')
    .reduce<unknown>((value, key) => (value === undefined || value === null ? undefined : (value as Record<string, unknown>)[key]), config);
}

/** The ways the README may write a default: `20`, `true`, `[]`, `["a","b"]` or `a, b`, `k 1, j 2`. */
function spellings(value: unknown): string[] {
  if (value === undefined) return ['unset'];
  if (Array.isArray(value)) {
    const items = value.map((v) => (typeof v === 'object' && v !== null ? String((v as { alias?: string }).alias ?? JSON.stringify(v)) : String(v)));
    return [JSON.stringify(value), items.join(', ')];
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value);
    return entries.length === 0 ? ['{}'] : [entries.map(([k, v]) => `${k} ${v}`).join(', ')];
  }
  return [String(value)];
}

const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
const rows = referenceRows(readme);
const fields = schemaFields(KitConfigSchema);
const defaults = KitConfigSchema.parse({});

describe('the README configuration reference (lib/config/schema.ts)', () => {
  test('documents every field of the schema, itself or as part of a documented object below the top level', () => {
    const documented = new Set(rows.flatMap((r) => r.fields));
    const covered = (field: string) => documented.has(field) || [...documented].some((d) => d.split('.').length >= 2 && (field.startsWith(`${d}.`) || field.startsWith(`${d}[].`)));
    const missing = [...fields].filter(([field, isLeaf]) => isLeaf && !covered(field)).map(([field]) => field);
    expect(missing).toEqual([]);
  });

  test('documents no field the schema does not have', () => {
    expect(rows.flatMap((r) => r.fields).filter((f) => !fields.has(f))).toEqual([]);
  });

  test('every default written as a literal (or "unset") is the one the schema applies', () => {
    const wrong: string[] = [];
    let compared = 0;
    for (const row of rows) {
      if (row.defaults.length !== 1 && row.defaults.length !== row.fields.length) {
        wrong.push(`${row.fields.join(', ')}: ${row.fields.length} fields but ${row.defaults.length} defaults`);
        continue;
      }
      row.fields.forEach((field, i) => {
        const written = row.defaults.length === 1 ? row.defaults[0] : row.defaults[i];
        const literal = written === 'unset' ? 'unset' : /^`([^`]*)`/.exec(written)?.[1];
        // Words such as "one per AZ" or "all GPUs of the instance" describe a default computed from other fields.
        if (literal === undefined) return;
        const actual = valueAt(defaults, field);
        compared++;
        if (!spellings(actual).includes(literal)) wrong.push(`${field}: README says ${literal}, the schema applies ${spellings(actual)[0]}`);
      });
    }
    expect(wrong).toEqual([]);
    expect(compared).toBeGreaterThan(60);
  });

  test('the check itself reads the table: it sees rows, shared-parent names and defaults', () => {
    expect(rows.length).toBeGreaterThan(50);
    expect(rows.find((r) => r.fields[0] === 'gateway.streamingDoor.cpu')!.fields).toEqual(['gateway.streamingDoor.cpu', 'gateway.streamingDoor.memoryMiB']);
    expect(spellings(defaults.gateway.alarms)).toEqual(['errorRatePercent 5, p99LatencyMs 20000, throttlesPer5Min 10']);
    expect(fields.get('models[].vllm.maxModelLen')).toBe(true);
  });
});
