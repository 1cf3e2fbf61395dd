import { expectTool, listKeys, readText, S3Location, s3LocationFromEnv, ToolData, ToolHandler, ToolInputError, ToolLambdaContext, toolArguments, ToolSchema } from './tool-lambda';

/** The document store: Markdown, text and JSON documents under a prefix of a bucket. */
export const DOCS_BUCKET_ENV = 'CNLLM_DOCS_BUCKET';
/** @default "docs/" */
export const DOCS_PREFIX_ENV = 'CNLLM_DOCS_PREFIX';
/** The stack gives this tool the documents prefix (read-only) in the two variables above. */
export const TOOL_DATA: ToolData = { source: 'documents', bucketEnv: DOCS_BUCKET_ENV, prefixEnv: DOCS_PREFIX_ENV };

/** A small store: past these the search covers the first documents only and says so. */
const MAX_DOCUMENTS = 1000;
const MAX_DOCUMENT_BYTES = 1024 * 1024;
const MAX_LIMIT = 20;
const SNIPPET_CHARS = 240;
/** A title match counts this much more than one in the body. */
const TITLE_WEIGHT = 3;

export const TOOL_SCHEMAS: readonly ToolSchema[] = [
  {
    name: 'doc_search',
    description: 'Keyword search over the team\'s document store (Markdown, text and JSON documents): returns the best matching documents with a title, a score and a snippet around the first match. Works for English and Chinese.',
    inputSchema: {
      type: 'object',
      properties: {
        query: { type: 'string', description: 'Keywords to look for, e.g. "residency china-only" or "跨境 数据"' },
        limit: { type: 'integer', description: 'How many documents to return, 1-20 (default 5)' },
      },
      required: ['query'],
    },
  },
];

export interface DocHit {
  key: string;
  title: string;
  score: number;
  snippet: string;
}

export interface DocSearchResult {
  query: string;
  hits: DocHit[];
  documentsSearched: number;
  /** Documents were left out (more than the store's cap, or too large): the search was partial. */
  truncated: boolean;
}

const SEARCHABLE = /\.(md|markdown|txt|json)$/i;

/** The doc_search tool over a document store (tests pass a loopback S3). */
export function docSearchHandler(store: S3Location): ToolHandler<DocSearchResult> {
  return async (event: unknown, context?: ToolLambdaContext) => {
    expectTool(context, TOOL_SCHEMAS);
    const args = toolArguments(event);
    if (typeof args.query !== 'string' || !args.query.trim()) throw new ToolInputError('query must be a non-empty string of keywords');
    if (args.query.length > 500) throw new ToolInputError('query must be at most 500 characters: use the key words only');
    const limit = args.limit ?? 5;
    if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new ToolInputError(`limit must be a whole number from 1 to ${MAX_LIMIT}`);
    const terms = searchTerms(args.query);
    if (terms.length === 0) throw new ToolInputError('query has no searchable words (letters, digits or Chinese characters)');

    const { keys, more } = await listKeys(store, store.prefix, MAX_DOCUMENTS);
    let truncated = more;
    const hits: DocHit[] = [];
    let searched = 0;
    for (const { key, size } of keys) {
      if (!SEARCHABLE.test(key)) continue;
      if (size > MAX_DOCUMENT_BYTES) {
        truncated = true;
        continue;
      }
      searched++;
      for (const doc of documentsIn(key, await readText(store, key))) {
        const hit = score(doc, terms);
        if (hit) hits.push({ key, ...hit });
      }
    }
    hits.sort((a, b) => b.score - a.score || a.key.localeCompare(b.key));
    return { query: args.query, hits: hits.slice(0, limit), documentsSearched: searched, truncated };
  };
}

let fromEnv: ToolHandler<DocSearchResult> | undefined;
/** The Lambda entry (an AgentCore Gateway Lambda target). */
export const handler: ToolHandler<DocSearchResult> = (event, context) => {
  fromEnv ??= docSearchHandler(s3LocationFromEnv(DOCS_BUCKET_ENV, DOCS_PREFIX_ENV, 'docs/'));
  return fromEnv(event, context);
};

interface Doc {
  title: string;
  text: string;
}

/** A Markdown or text file is one document (titled by its first heading); a JSON file holds one or a list of {title, text|content|body}. */
function documentsIn(key: string, content: string): Doc[] {
  const fileName = key.slice(key.lastIndexOf('/') + 1);
  if (!/\.json$/i.test(key)) {
    const heading = /^#{1,6}\s+(.+)$/m.exec(content);
    return [{ title: heading ? heading[1].trim() : fileName, text: content }];
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(content);
  } catch {
    return [];
  }
  return (Array.isArray(parsed) ? parsed : [parsed]).flatMap((entry, i) => {
    if (entry === null || typeof entry !== 'object') return [];
    const e = entry as Record<string, unknown>;
    const text = [e.text, e.content, e.body].find((t): t is string => typeof t === 'string');
    if (text === undefined) return [];
    return [{ title: typeof e.title === 'string' ? e.title : Array.isArray(parsed) ? `${fileName}#${i}` : fileName, text }];
  });
}

const HAN = /\p{Script=Han}/u;

/**
 * Words of letters or digits (lower-cased, two characters or more) and, for Chinese, which has no
 * spaces between words, every pair of adjacent Han characters (a lone character is kept as is).
 */
export function searchTerms(text: string): string[] {
  const terms = new Set<string>();
  for (const run of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    const chars = [...run];
    let latin = '';
    let han: string[] = [];
    const flush = () => {
      if (latin.length >= 2) terms.add(latin);
      latin = '';
      if (han.length === 1) terms.add(han[0]);
      for (let i = 0; i + 1 < han.length; i++) terms.add(han[i] + han[i + 1]);
      han = [];
    };
    for (const c of chars) {
      if (HAN.test(c)) {
        if (latin) flush();
        han.push(c);
      } else {
        if (han.length) flush();
        latin += c;
      }
    }
    flush();
  }
  return [...terms];
}

function score(doc: Doc, terms: string[]): Omit<DocHit, 'key'> | undefined {
  const body = doc.text.toLowerCase();
  const title = doc.title.toLowerCase();
  let total = 0;
  let first = -1;
  for (const term of terms) {
    const inBody = occurrences(body, term);
    total += inBody + TITLE_WEIGHT * occurrences(title, term);
    const at = body.indexOf(term);
    if (at >= 0 && (first < 0 || at < first)) first = at;
  }
  if (total === 0) return undefined;
  // Long documents match more often by chance: damp by length, keep the ranking stable.
  const damped = total / Math.log2(2 + body.length / 1000);
  const start = Math.max(0, (first < 0 ? 0 : first) - SNIPPET_CHARS / 3);
  const snippet = doc.text.slice(start, start + SNIPPET_CHARS).replace(/\s+/g, ' ').trim();
  return { title: doc.title, score: Math.round(damped * 1000) / 1000, snippet: `${start > 0 ? '…' : ''}${snippet}${start + SNIPPET_CHARS < doc.text.length ? '…' : ''}` };
}

function occurrences(text: string, term: string): number {
  let n = 0;
  for (let at = text.indexOf(term); at >= 0; at = text.indexOf(term, at + term.length)) n++;
  return n;
}
