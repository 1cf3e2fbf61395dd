/**
 * The field paths of a zod 4 object schema, for tests that hold documentation against the config
 * schema (lib/config/schema.ts).
 */

// zod 4 keeps a schema's parts in `_zod.def`; wrappers (default, optional, pipe...) hold the real shape inside.
type ZodDef = { type: string; innerType?: unknown; in?: { _zod: { def: ZodDef } }; out?: unknown; shape?: Record<string, unknown>; element?: unknown };
const defOf = (schema: unknown): ZodDef => (schema as { _zod: { def: ZodDef } })._zod.def;

function unwrap(schema: unknown): unknown {
  for (;;) {
    const def = defOf(schema);
    if (['default', 'optional', 'prefault', 'nullable', 'readonly', 'catch'].includes(def.type)) schema = def.innerType;
    else if (def.type === 'pipe') schema = def.in!._zod.def.type === 'transform' ? def.out : def.in;
    else return schema;
  }
}

/** Every field path of the schema (fields of list items as `models[].instanceType`) -> whether it is a leaf (not an object or a list of objects). */
export function schemaFields(schema: unknown, prefix = '', out = new Map<string, boolean>()): Map<string, boolean> {
  const def = defOf(unwrap(schema));
  if (def.type === 'object') {
    for (const [key, child] of Object.entries(def.shape!)) {
      const field = prefix ? `${prefix}.${key}` : key;
      const childDef = defOf(unwrap(child));
      const isParent = childDef.type === 'object' || (childDef.type === 'array' && defOf(unwrap(childDef.element)).type === 'object');
      out.set(field, !isParent);
      schemaFields(child, field, out);
    }
  } else if (def.type === 'array' && defOf(unwrap(def.element)).type === 'object') {
    schemaFields(def.element, `${prefix}[]`, out);
  }
  return out;
}
