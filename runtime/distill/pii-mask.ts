import { ChatMessage, PromptRecord } from './dataset';

/**
 * Personal data masked before a prompt leaves mainland China (PIPL: personal information goes
 * abroad only with its owner's separate consent; the kit does not assume that consent exists).
 *
 * Resident ID numbers: only 18-character numbers whose birth date is a real date and whose
 * ISO 7064 MOD 11-2 check character matches are masked. Order numbers, timestamps and other
 * 18-digit values almost never pass both checks, and masking them would teach the student
 * placeholders where the teacher saw ordinary numbers. Bank cards are masked only when
 * Luhn-valid, for the same reason.
 */
export type PiiKind = 'resident_id' | 'mobile' | 'bank_card' | 'email' | (string & {});

export interface PiiPattern {
  readonly kind: PiiKind;
  /** Global regular expression of candidates. */
  readonly regex: RegExp;
  /** A candidate is masked only when this accepts it (checksums). @default every match */
  readonly accept?: (match: string) => boolean;
  readonly replacement: string;
}

/** An operator's extra pattern (e.g. a staff number, a licence plate): a regex source, never the data itself. */
export interface ExtraPattern {
  readonly kind: string;
  readonly pattern: string;
  /** @default "[<KIND>]" upper-cased */
  readonly replacement?: string;
}

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = '10X98765432';

export function isResidentId(candidate: string): boolean {
  const id = candidate.toUpperCase();
  if (!/^\d{17}[\dX]$/.test(id)) return false;
  const year = Number(id.slice(6, 10));
  const month = Number(id.slice(10, 12));
  const day = Number(id.slice(12, 14));
  const birth = new Date(Date.UTC(year, month - 1, day));
  if (year < 1900 || birth.getUTCFullYear() !== year || birth.getUTCMonth() !== month - 1 || birth.getUTCDate() !== day) return false;
  const sum = ID_WEIGHTS.reduce((s, w, i) => s + w * Number(id[i]), 0);
  return ID_CHECK[sum % 11] === id[17];
}

export function isLuhnValid(candidate: string): boolean {
  const digits = candidate.replace(/[\s-]/g, '');
  if (!/^\d{16,19}$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** In the order applied: an ID number is masked before the card pattern could read its digits as a card. */
export const BUILTIN_PATTERNS: readonly PiiPattern[] = [
  { kind: 'resident_id', regex: /(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])/g, accept: isResidentId, replacement: '[ID_NUMBER]' },
  { kind: 'email', regex: /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g, replacement: '[EMAIL]' },
  { kind: 'bank_card', regex: /(?<![0-9A-Za-z])\d(?:[ -]?\d){15,18}(?![0-9A-Za-z])/g, accept: isLuhnValid, replacement: '[BANK_CARD]' },
  // 11 digits starting 13-19, with or without +86/0086 and the usual 3-4-4 grouping.
  { kind: 'mobile', regex: /(?<![0-9A-Za-z+])(?:(?:\+|00)86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?![0-9A-Za-z])/g, replacement: '[PHONE]' },
];

export function compileExtraPatterns(extra: readonly ExtraPattern[]): PiiPattern[] {
  return extra.map((p) => {
    let regex: RegExp;
    try {
      regex = new RegExp(p.pattern, 'gu');
    } catch (e) {
      throw new Error(`extra PII pattern "${p.kind}" is not a valid regular expression: ${(e as Error).message}`);
    }
    if (regex.test('')) throw new Error(`extra PII pattern "${p.kind}" matches the empty string: it would mask nothing and loop`);
    return { kind: p.kind, regex, replacement: p.replacement ?? `[${p.kind.toUpperCase()}]` };
  });
}

export type MaskCounts = Record<string, number>;

export class PiiMasker {
  readonly patterns: readonly PiiPattern[];

  constructor(extra: readonly ExtraPattern[] = []) {
    this.patterns = [...BUILTIN_PATTERNS, ...compileExtraPatterns(extra)];
  }

  /** The text with every accepted match replaced; `counts` gets one per replacement. */
  maskText(text: string, counts: MaskCounts): string {
    let out = text;
    for (const p of this.patterns) {
      out = out.replace(p.regex, (match) => {
        if (p.accept && !p.accept(match)) return match;
        counts[p.kind] = (counts[p.kind] ?? 0) + 1;
        return p.replacement;
      });
    }
    return out;
  }

  maskMessage(message: ChatMessage, counts: MaskCounts): ChatMessage {
    if (typeof message.content === 'string') return { ...message, content: this.maskText(message.content, counts) };
    return {
      ...message,
      content: message.content.map((part) => (part.type === 'text' && typeof part.text === 'string' ? { ...part, text: this.maskText(part.text, counts) } : part)),
    };
  }

  maskPrompt(record: PromptRecord, counts: MaskCounts): PromptRecord {
    return { ...record, messages: record.messages.map((m) => this.maskMessage(m, counts)) };
  }
}
