import * as fs from 'fs';
import * as path from 'path';
import { z } from 'zod';
import { KitConfig, KitConfigSchema } from './schema';

/** cdk.json context key holding a config object (lowest precedence after the defaults). */
export const CONFIG_CONTEXT_KEY = 'cnLlmKit';
/** `-c config=path/to/file.json` names a JSON config file. */
export const CONFIG_FILE_CONTEXT_KEY = 'config';

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(
      `cn-llm-kit configuration is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p}`).join('\n') +
        '\nSet values in a JSON file passed with -c config=<file>, with -c <field>=<value>, or under "cnLlmKit" in cdk.json context.',
    );
    this.name = 'ConfigError';
  }
}

type Json = Record<string, unknown>;

/**
 * Builds the validated config from CDK context, in increasing precedence:
 * defaults < cdk.json `cnLlmKit` object < the file named by `-c config=...` < `-c a.b=value` keys.
 * Throws ConfigError listing every problem at once.
 */
export function loadConfig(context: Record<string, unknown>, cwd: string = process.cwd()): KitConfig {
  const problems: string[] = [];
  let merged: Json = {};

  const fromCdkJson = context[CONFIG_CONTEXT_KEY];
  if (fromCdkJson !== undefined) {
    if (isObject(fromCdkJson)) merged = deepMerge(merged, fromCdkJson);
    else problems.push(`${CONFIG_CONTEXT_KEY} = ${show(fromCdkJson)}: make the cdk.json context entry "${CONFIG_CONTEXT_KEY}" a JSON object.`);
  }

  const file = context[CONFIG_FILE_CONTEXT_KEY];
  if (file !== undefined) {
    const fromFile = readConfigFile(String(file), cwd, problems);
    if (fromFile) merged = deepMerge(merged, fromFile);
  }

  const topLevelKeys = Object.keys(objectShape(KitConfigSchema) ?? {});
  for (const [key, raw] of Object.entries(context)) {
    if (!looksLikeConfigKey(key) || key === CONFIG_CONTEXT_KEY || key === CONFIG_FILE_CONTEXT_KEY) continue;
    const segments = key.split('.');
    if (!topLevelKeys.includes(segments[0])) {
      problems.push(`${key}: unknown configuration key; check the spelling; top-level keys are ${topLevelKeys.join(', ')}.`);
      continue;
    }
    setPath(merged, segments, parseContextValue(raw));
  }

  return parseConfig(merged, problems);
}

/** Validates a merged config object. Throws ConfigError listing every problem, including any found earlier. */
export function parseConfig(input: unknown, earlierProblems: string[] = []): KitConfig {
  const result = KitConfigSchema.safeParse(input);
  const problems = [...earlierProblems, ...(result.success ? [] : result.error.issues.map((issue) => describeIssue(issue, input)))];
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  return result.data;
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const field = issue.path.length > 0 ? formatPath(issue.path) : '(config root)';
  if (issue.code === 'unrecognized_keys') {
    const known = Object.keys(objectShape(schemaAt(KitConfigSchema, issue.path)) ?? {});
    return `${field}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}; remove ${
      issue.keys.length > 1 ? 'them' : 'it'
    } or check the spelling${known.length ? `; known keys here are ${known.join(', ')}` : ''}.`;
  }
  // Checks across fields can name a field the user left to its default: show the value in effect.
  const value = valueAt(input, issue.path) ?? defaultAt(issue.path);
  return `${field} = ${value === undefined ? '(missing)' : show(value)}: ${issue.message.replace(/^Invalid input: /, '')}.`;
}

function readConfigFile(file: string, cwd: string, problems: string[]): Json | undefined {
  const full = path.resolve(cwd, file);
  let text: string;
  try {
    text = fs.readFileSync(full, 'utf8');
  } catch (e) {
    problems.push(`config: cannot read "${file}" (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); pass an existing JSON file, e.g. -c config=config/prod.json.`);
    return undefined;
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (isObject(parsed)) return parsed;
    problems.push(`config: "${file}" holds ${show(parsed)}; the file must hold one JSON object.`);
  } catch (e) {
    problems.push(`config: "${file}" is not valid JSON (${(e as Error).message}); correct the JSON syntax.`);
  }
  return undefined;
}

/** CDK's own context keys contain ':' '/' or '-' (`@aws-cdk/...`, `aws:cdk:...`); ours are dotted camelCase paths. */
function looksLikeConfigKey(key: string): boolean {
  return /^[a-z][A-Za-z0-9]*(\.[A-Za-z0-9]+)*$/.test(key);
}

/** `-c` values arrive as strings: JSON objects/arrays and booleans are decoded; numbers stay strings for the schema to coerce (account ids keep leading zeros). */
function parseContextValue(raw: unknown): unknown {
  if (typeof raw !== 'string') return raw;
  const trimmed = raw.trim();
  if (trimmed === 'true') return true;
  if (trimmed === 'false') return false;
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return JSON.parse(trimmed);
    } catch {
      return raw;
    }
  }
  return raw;
}

function setPath(target: Json, segments: string[], value: unknown): void {
  let node = target;
  segments.slice(0, -1).forEach((segment) => {
    if (!isObject(node[segment])) node[segment] = {};
    node = node[segment] as Json;
  });
  node[segments[segments.length - 1]] = value;
}

function deepMerge(base: Json, override: Json): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(override)) {
    out[key] = isObject(value) && isObject(out[key]) ? deepMerge(out[key] as Json, value) : value;
  }
  return out;
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function valueAt(input: unknown, p: PropertyKey[]): unknown {
  let node: unknown = input;
  for (const key of p) {
    // A list given as `-c key=a,b` is still a string here.
    if (typeof node === 'string' && typeof key === 'number') node = node.split(',').map((s) => s.trim());
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function formatPath(p: PropertyKey[]): string {
  return p.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join('');
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  // A key pasted where a certificate belongs must not reach a terminal or CI log.
  if (/PRIVATE KEY/.test(text)) return '(a private key: not shown)';
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Unwraps defaults, optionals, preprocess pipes and refinements to reach the schema at a path. */
function schemaAt(schema: z.ZodType, p: PropertyKey[]): z.ZodType | undefined {
  let node: z.ZodType | undefined = schema;
  for (const key of p) {
    node = unwrap(node);
    if (node instanceof z.ZodObject) node = node.shape[String(key)] as z.ZodType | undefined;
    else if (node instanceof z.ZodArray) node = node.element as z.ZodType;
    else if (node instanceof z.ZodRecord) node = node.valueType as z.ZodType;
    else return undefined;
  }
  return node;
}

function defaultAt(p: PropertyKey[]): unknown {
  const def = (schemaAt(KitConfigSchema, p) as unknown as { def?: { type: string; defaultValue?: unknown } } | undefined)?.def;
  return def?.type === 'default' ? def.defaultValue : undefined;
}

function objectShape(schema: z.ZodType | undefined): Record<string, unknown> | undefined {
  const node = unwrap(schema);
  return node instanceof z.ZodObject ? node.shape : undefined;
}

function unwrap(schema: z.ZodType | undefined): z.ZodType | undefined {
  let node = schema;
  for (let i = 0; i < 10 && node; i++) {
    const def = (node as unknown as { def: { type: string; innerType?: z.ZodType; in?: z.ZodType; out?: z.ZodType } }).def;
    if (def.type === 'default' || def.type === 'prefault' || def.type === 'optional' || def.type === 'nullable') node = def.innerType;
    // z.preprocess is pipe(transform, schema); .transform() is pipe(schema, transform).
    else if (def.type === 'pipe') node = def.in instanceof z.ZodTransform ? def.out : def.in;
    else return node;
  }
  return node;
}
