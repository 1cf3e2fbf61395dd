/** The fixed windows counters are kept in: the minute (rates), the day and the calendar month (budgets). */
export type WindowKind = 'minute' | 'day' | 'month';

export interface Window {
  readonly kind: WindowKind;
  /** Part of the counter's key: the same for every process in the same window. */
  readonly id: string;
  /** Epoch ms the window ends (the counter starts again from zero). */
  readonly end: number;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/**
 * The window containing `now`. Days and months begin at midnight at `utcOffsetHours` (China: +8),
 * so a daily budget renews when the team's day starts, not at 08:00 Beijing time.
 */
export function windowOf(kind: WindowKind, now: number, utcOffsetHours: number): Window {
  if (kind === 'minute') {
    const index = Math.floor(now / MINUTE);
    return { kind, id: `m${index}`, end: (index + 1) * MINUTE };
  }
  const offset = utcOffsetHours * HOUR;
  const local = new Date(now + offset);
  if (kind === 'day') {
    const index = Math.floor((now + offset) / DAY);
    return { kind, id: `d${local.toISOString().slice(0, 10)}`, end: (index + 1) * DAY - offset };
  }
  const end = Date.UTC(local.getUTCFullYear(), local.getUTCMonth() + 1, 1) - offset;
  return { kind, id: `M${local.toISOString().slice(0, 7)}`, end };
}

/** Counters outlive their window a while: a long stream settles into the window it was admitted in. */
export function expiryOf(window: Window): number {
  return window.end + (window.kind === 'minute' ? HOUR : window.kind === 'day' ? 2 * DAY : 35 * DAY);
}

/** A duration as OpenAI writes it in x-ratelimit-reset-*: `1s`, `6m0s`, `250ms`, `2h3m4s`. */
export function resetText(ms: number): string {
  const total = Math.max(0, Math.ceil(ms));
  if (total < 1000) return `${total}ms`;
  let seconds = Math.ceil(total / 1000);
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  return `${hours > 0 ? `${hours}h` : ''}${hours > 0 || minutes > 0 ? `${minutes}m` : ''}${seconds}s`;
}
