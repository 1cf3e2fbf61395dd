/**
 * `table[key]` for a key a caller chose (a field name, a role, a format, a model): own keys only.
 * Every object answers to "constructor", "__proto__", "toString"...: a plain lookup hands a request
 * naming one of them a function where the table holds data.
 */
export function ownEntry<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** A JSON object, or undefined for anything else (invalid JSON, arrays, scalars, null). */
export function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
