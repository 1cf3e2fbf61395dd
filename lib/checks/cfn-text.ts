/**
 * Turns CloudFormation values (literals and intrinsic functions) into the text they will be at
 * deploy time in a known stack, so rules and tests can read ARNs, hosts and image names the way
 * CloudFormation will render them. Parts that only exist at deploy time (resource attributes,
 * parameters, imports) become `{...}` placeholders.
 */

export interface CfnTextEnv {
  /** Values for pseudo parameters, e.g. `AWS::Partition` -> `aws-cn`. */
  readonly pseudo: Readonly<Record<string, string>>;
  /** The template's Conditions section, for evaluating `Fn::If`. */
  readonly conditions?: Readonly<Record<string, unknown>>;
}

export const PSEUDO_PARAMETERS = ['AWS::Partition', 'AWS::Region', 'AWS::AccountId', 'AWS::URLSuffix', 'AWS::StackName', 'AWS::StackId', 'AWS::NoValue'];

export function pseudoValues(partition: string, region: string | undefined, account: string | undefined, urlSuffix: string): Record<string, string> {
  const values: Record<string, string> = { 'AWS::Partition': partition, 'AWS::URLSuffix': urlSuffix };
  if (region && !region.includes('${Token')) values['AWS::Region'] = region;
  if (account && !account.includes('${Token')) values['AWS::AccountId'] = account;
  return values;
}

const isPlaceholderFree = (text: string) => !/\{[^}]*\}/.test(text);

/** One value rendered as text. */
export function cfnText(value: unknown, env: CfnTextEnv): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.map((v) => cfnText(v, env)).join(',');
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length !== 1) return `{object}`;
  const [fn] = keys;
  const arg = obj[fn];
  switch (fn) {
    case 'Ref':
      return env.pseudo[String(arg)] ?? `{Ref:${String(arg)}}`;
    case 'Fn::GetAtt':
      return `{GetAtt:${Array.isArray(arg) ? arg.join('.') : String(arg)}}`;
    case 'Fn::ImportValue':
      return `{ImportValue:${cfnText(arg, env)}}`;
    case 'Fn::Base64':
      return cfnText(arg, env);
    case 'Fn::Join': {
      const [delimiter, parts] = arg as [string, unknown];
      return Array.isArray(parts) ? parts.map((p) => cfnText(p, env)).join(delimiter) : `{Join}`;
    }
    case 'Fn::Sub':
      return substitute(arg, env);
    case 'Fn::Select': {
      const [index, list] = arg as [unknown, unknown];
      const items = cfnList(list, env);
      const i = Number(cfnText(index, env));
      return items && Number.isInteger(i) && i < items.length ? items[i] : `{Select}`;
    }
    case 'Fn::If': {
      const [condition, whenTrue, whenFalse] = arg as [string, unknown, unknown];
      const holds = evaluateCondition(env.conditions?.[condition], env);
      if (holds === true) return cfnText(whenTrue, env);
      if (holds === false) return cfnText(whenFalse, env);
      return `${cfnText(whenTrue, env)} | ${cfnText(whenFalse, env)}`;
    }
    case 'Fn::FindInMap':
    case 'Fn::GetAZs':
    case 'Fn::Cidr':
    case 'Fn::Split':
      return `{${fn.slice(4)}}`;
    default:
      // A plain object with one key (e.g. {"Service": "..."}): render its value.
      return cfnText(arg, env);
  }
}

/** A list-valued intrinsic as text items, when it can be known at synth time. */
function cfnList(value: unknown, env: CfnTextEnv): string[] | undefined {
  if (Array.isArray(value)) return value.map((v) => cfnText(v, env));
  if (value && typeof value === 'object' && 'Fn::Split' in value) {
    const [delimiter, source] = (value as { 'Fn::Split': [string, unknown] })['Fn::Split'];
    const text = cfnText(source, env);
    return isPlaceholderFree(text) ? text.split(delimiter) : undefined;
  }
  return undefined;
}

function substitute(arg: unknown, env: CfnTextEnv): string {
  const [template, variables] = Array.isArray(arg) ? (arg as [string, Record<string, unknown>]) : [String(arg), {}];
  return template.replace(/\$\{([^}!][^}]*)\}/g, (_match, name: string) => {
    if (variables && name in variables) return cfnText(variables[name], env);
    if (env.pseudo[name] !== undefined) return env.pseudo[name];
    return name.includes('.') ? `{GetAtt:${name}}` : `{Ref:${name}}`;
  });
}

/** true/false when a condition can be decided at synth time, undefined otherwise. */
function evaluateCondition(expr: unknown, env: CfnTextEnv): boolean | undefined {
  if (!expr || typeof expr !== 'object') return undefined;
  const [fn] = Object.keys(expr);
  const arg = (expr as Record<string, unknown>)[fn] as unknown[];
  switch (fn) {
    case 'Fn::Equals': {
      const [a, b] = arg.map((v) => cfnText(v, env));
      return isPlaceholderFree(a) && isPlaceholderFree(b) ? a === b : undefined;
    }
    case 'Fn::Not': {
      const inner = evaluateCondition(arg[0], env);
      return inner === undefined ? undefined : !inner;
    }
    case 'Fn::And':
    case 'Fn::Or': {
      const values = arg.map((v) => evaluateCondition(v, env));
      if (fn === 'Fn::And' && values.includes(false)) return false;
      if (fn === 'Fn::Or' && values.includes(true)) return true;
      return values.includes(undefined) ? undefined : fn === 'Fn::And';
    }
    case 'Condition':
      return evaluateCondition(env.conditions?.[String(arg)], env);
    default:
      return undefined;
  }
}

const INTRINSIC_KEYS = new Set(['Ref', 'Fn::GetAtt', 'Fn::ImportValue', 'Fn::Base64', 'Fn::Join', 'Fn::Sub', 'Fn::Select', 'Fn::If', 'Fn::FindInMap', 'Fn::GetAZs', 'Fn::Cidr', 'Fn::Split']);

function isIntrinsic(value: unknown): boolean {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && INTRINSIC_KEYS.has(keys[0]);
}

/** Every string a structure will hold at deploy time: literals as they are, intrinsics rendered. */
export function cfnTexts(value: unknown, env: CfnTextEnv): string[] {
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (v === null || v === undefined) return;
    if (typeof v === 'string') out.push(v);
    else if (isIntrinsic(v)) out.push(cfnText(v, env));
    else if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(value);
  return out;
}

export interface ParsedArn {
  readonly arn: string;
  readonly partition: string;
  readonly service: string;
  readonly region: string;
  readonly account: string;
}

/** Every ARN that appears in the texts (an ARN may be embedded in a longer string, e.g. user data). */
export function findArns(texts: readonly string[]): ParsedArn[] {
  const arns: ParsedArn[] = [];
  const pattern = /arn:(\{[^}]*\}|[a-z-]+):([a-z0-9-]*):([a-z0-9-]*|\{[^}]*\}):([0-9]{12}|aws|\{[^}]*\}|):([^\s"',|]*)/g;
  for (const text of texts) {
    for (const m of text.matchAll(pattern)) {
      arns.push({ arn: m[0], partition: m[1], service: m[2], region: m[3], account: m[4] });
    }
  }
  return arns;
}
