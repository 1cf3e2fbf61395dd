import * as fs from 'fs';
import * as path from 'path';
import { CHINA_RULES } from '../lib/checks/china-region-checks';
import { TEMPLATE_RULES } from '../lib/checks/template-format-checks';
import { CHINA_REGIONS } from '../lib/china/china';
import { loadConfig } from '../lib/config/load';
import { KitConfigSchema } from '../lib/config/schema';
import { schemaFields } from './helpers/schema-fields';
import { runCli } from './helpers/cli';
import { GATEWAY_ROUTES } from '../runtime/gateway/platform-errors';

const read = (file: string) => fs.readFileSync(path.join(__dirname, '..', file), 'utf8');

describe('documentation stays true to the code', () => {
  test('docs/RULES.md documents every ChinaRegion rule with its level, and no others', () => {
    const rows = read('docs/RULES.md')
      .split('\n')
      .filter((l) => l.startsWith('| ChinaRegion-'))
      .map((l) => l.split('|').map((c) => c.trim()));
    expect(rows.map((r) => r[1]).sort()).toEqual(CHINA_RULES.map((r) => `ChinaRegion-${r.id}`).sort());
    for (const rule of CHINA_RULES) expect(rows.find((r) => r[1] === `ChinaRegion-${rule.id}`)![2]).toBe(rule.level);
  });

  test('docs/RULES.md documents every TemplateFormat check, and no others', () => {
    const rows = read('docs/RULES.md').split('\n').filter((l) => l.startsWith('| TemplateFormat-'));
    expect(rows.map((l) => l.split('|')[1].trim()).sort()).toEqual(Object.values(TEMPLATE_RULES).map((r) => `TemplateFormat-${r.id}`).sort());
  });

  test.each(['config/example.json', 'config/existing-vpc.json'])('%s is a valid config', (file) => {
    expect(() => loadConfig({ config: file }, path.join(__dirname, '..'))).not.toThrow();
  });

  test('the README documents every top-level config key', () => {
    const readme = read('README.md');
    for (const key of ['prefix', 'tags', 'china', 'global', 'stacks', 'network', 'modelStore', 'models', 'bedrock', 'gateway', 'images', 'staging', 'vllmEc2', 'vllmEks', 'routing', 'lambda', 'gpu']) {
      expect(readme).toContain(`\`${key}`);
    }
  });
});

describe('README facts that are easy to let drift', () => {
  const readme = read('README.md');

  test('every list of GPU families it gives for a region is lib/china/china.ts\'s', () => {
    const lists = [...readme.matchAll(/(cn-northwest-1|cn-north-1|Ningxia|Beijing)(?: \([A-Za-z]+\))?\)?: ((?:[a-z0-9]+, )*[a-z0-9]+)/g)].map((m) => [m[1], m[2]]);
    expect(lists.length).toBeGreaterThanOrEqual(4);
    const byName = Object.fromEntries(Object.entries(CHINA_REGIONS).flatMap(([code, r]) => [code, r.displayName].map((name) => [name, r.gpuInstanceFamilies.join(', ')])));
    for (const [region, families] of lists) expect([region, families]).toEqual([region, byName[region]]);
  });

  test('commands run with config/prod.json (a copy of config/example.json) name that config\'s stacks', () => {
    const prefix = JSON.parse(read('config/example.json')).prefix as string;
    const lines = readme.split('\n').filter((l) => l.includes('config/prod.json') || l.includes('--stack-name'));
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) {
      for (const [, stackPrefix] of line.matchAll(/\b([a-z][a-z0-9-]*)-(?:Network|ModelStore|BedrockAccess|Gateway|VllmEc2|VllmEks|Agents|Distill)\b/g)) expect([line, stackPrefix]).toEqual([line, prefix]);
    }
  });

  test('config/example.json, the README\'s config/prod.json, stays valid when any optional part is switched on as the README says', () => {
    const switches = ['stacks.vllmEks', 'stacks.agents', 'stacks.distill', 'gateway.streamingDoor.enabled'];
    const problems = switches.flatMap((field) => {
      try {
        loadConfig({ config: 'config/example.json', [field]: 'true' }, path.join(__dirname, '..'));
        return [];
      } catch (e) {
        return [`${field}: ${(e as Error).message}`];
      }
    });
    expect(problems).toEqual([]);
  });

  test('config/example.json sets every stack switch, so it does not read as if it enabled only some', () => {
    const example = JSON.parse(read('config/example.json'));
    expect(Object.keys(example.stacks).sort()).toEqual(Object.keys(KitConfigSchema.parse({}).stacks).sort());
  });

  test('package.json: Node 22 or newer, no bin file that does not exist, every script file exists', () => {
    const pkg = JSON.parse(read('package.json'));
    expect(pkg.engines.node).toBe('>=22');
    for (const file of Object.values<string>(pkg.bin ?? {})) expect(fs.existsSync(path.join(__dirname, '..', file))).toBe(true);
    for (const command of Object.values<string>(pkg.scripts)) {
      for (const [file] of command.matchAll(/\b(?:scripts|bin)\/[\w./-]+\.(?:ts|cjs|sh)\b/g)) expect([command, fs.existsSync(path.join(__dirname, '..', file))]).toEqual([command, true]);
    }
    expect(readme).toContain('Node.js 22 or 24');
  });
});

describe('the README sizing table', () => {
  test('is what the sizing check says today', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { sizingTable } = require('../lib/gpu/sizing-table') as typeof import('../lib/gpu/sizing-table');
    expect(read('README.md')).toContain(sizingTable());
  });
});

const ROOT = path.join(__dirname, '..');

/** The README without its fenced code blocks (headings and inline code outside them). */
function withoutFences(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, '');
}

/** The lines of the README's fenced code blocks. */
function fencedLines(markdown: string): string[] {
  return [...markdown.matchAll(/^```[^\n]*\n([\s\S]*?)^```/gm)].flatMap((m) => m[1].split('\n'));
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens; repeats get -1, -2... */
function headingAnchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const [, text] of withoutFences(markdown).matchAll(/^#{1,6} (.+)$/gm)) {
    const base = text.trim().toLowerCase().replace(/[^\p{L}\p{N}\- _]/gu, '').replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** A file and the kit's own modules it imports (relative imports), to read a CLI's flags from. */
function withRelativeImports(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  for (const [, spec] of fs.readFileSync(file, 'utf8').matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
    const target = path.resolve(path.dirname(file), spec);
    const found = [`${target}.ts`, path.join(target, 'index.ts')].find((f) => fs.existsSync(f));
    if (found) withRelativeImports(found, seen);
  }
  return seen;
}

/** `a.b[].c` and `a.<name>.c`, `a.*`: a config path as the README writes one (placeholders match any field). */
const CONFIG_SEGMENT = '(?:<[^>]+>|\\*|[A-Za-z][A-Za-z0-9]*(?:\\[\\])?)';
const CONFIG_PATH = new RegExp(`^${CONFIG_SEGMENT}(?:\\.${CONFIG_SEGMENT})+$`);

function isSchemaPath(written: string, fields: string[]): boolean {
  const segments = [...written.matchAll(new RegExp(CONFIG_SEGMENT, 'g'))].map((m) => m[0]);
  return fields.some((field) => {
    const parts = field.split('.');
    return parts.length === segments.length && parts.every((p, i) => segments[i] === p || segments[i] === '*' || segments[i].startsWith('<'));
  });
}

describe('README commands, config keys and links stay true to the code', () => {
  const readme = read('README.md');
  const pkg = JSON.parse(read('package.json'));
  const fields = [...schemaFields(KitConfigSchema).keys()];
  const topLevelKeys = new Set(fields.map((f) => f.split(/[.[]/)[0]));

  test('every `npm run X` in the README and in the CLIs\' own texts is a package.json script', () => {
    const cliSources = ['scripts', 'runtime']
      .flatMap((dir) => fs.readdirSync(path.join(ROOT, dir), { recursive: true, encoding: 'utf8' }).map((f) => path.join(dir, f)))
      .filter((f) => /\.(ts|sh|cjs)$/.test(f));
    const unknown = [['README.md', readme] as const, ...cliSources.map((f) => [f, read(f)] as const)].flatMap(([file, text]) =>
      [...text.matchAll(/npm run ([a-z][\w:-]*[\w-])/g)].map((m) => m[1]).filter((name) => !(name in pkg.scripts)).map((name) => `${file}: npm run ${name}`),
    );
    expect(unknown).toEqual([]);
  });

  test('every flag given to a kit CLI in the README is one that CLI reads', () => {
    const unknown: string[] = [];
    let checked = 0;
    for (const [command, name, args] of readme.matchAll(/npm run ([a-z][\w:-]*) -- ([^\n`]*)/g)) {
      const entry = /\bscripts\/[\w/.-]+\.ts\b/.exec(pkg.scripts[name] ?? '')?.[0];
      if (!entry) continue; // synth passes its arguments to cdk synth
      const source = [...withRelativeImports(path.join(ROOT, entry))].map((f) => fs.readFileSync(f, 'utf8')).join('\n');
      for (const [flag] of args.matchAll(/(?<![\w-])--[a-z][\w-]*/g)) {
        checked++;
        if (!source.includes(`'${flag}'`) && !source.includes(`"${flag}"`)) unknown.push(`${flag} in: ${command.trim()}`);
      }
    }
    expect(unknown).toEqual([]);
    expect(checked).toBeGreaterThan(40);
  });

  test('every `-c key=value` in the README names a config field', () => {
    const keys = [...readme.matchAll(/(?:^|\s)-c '?([A-Za-z][\w.[\]]*)=/gm)].map((m) => m[1]);
    expect(keys.length).toBeGreaterThan(20);
    expect(keys.filter((key) => key !== 'config' && !fields.includes(key))).toEqual([]);
  });

  test('every config path the README writes in inline code is a field of the schema', () => {
    const written = [...withoutFences(readme).matchAll(/`([^`\n]+)`/g)]
      .map((m) => m[1].split(/[\s:=,]/)[0])
      .filter((token) => CONFIG_PATH.test(token) && topLevelKeys.has(token.split(/[.[]/)[0]));
    expect(written.length).toBeGreaterThan(150);
    expect([...new Set(written.filter((token) => !isSchemaPath(token, fields)))]).toEqual([]);
  });

  test('the check above tells a field from a stale or misplaced one', () => {
    expect(isSchemaPath('models[].vllm.loadFormat', fields)).toBe(true);
    expect(isSchemaPath('images.<name>.digest', fields)).toBe(true);
    expect(isSchemaPath('models.vllm.loadFormat', fields)).toBe(false);
    expect(isSchemaPath('gateway.streamingDoor.nonsense', fields)).toBe(false);
  });

  test('every link inside the README resolves: anchors to a heading, paths to a file', () => {
    const anchors = headingAnchors(readme);
    const links = [...withoutFences(readme).matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((target) => !/^[a-z]+:/.test(target));
    expect(links.length).toBeGreaterThan(10);
    const broken = links.filter((target) => (target.startsWith('#') ? !anchors.has(target.slice(1)) : !fs.existsSync(path.join(ROOT, target.split('#')[0]))));
    expect(broken).toEqual([]);
    expect(anchors.has('agents-on-one-machine-agentslocal')).toBe(true);
    expect(anchors.has('run-it-locally-1')).toBe(true);
  });

  test('the stack table names every stack switch with its default', () => {
    const defaults = KitConfigSchema.parse({}).stacks as Record<string, boolean>;
    const rows = [...readme.matchAll(/^\| `<prefix>-(\w+)` \| `stacks\.(\w+)` \((on|off)\) \|/gm)].map((m) => [m[2], m[3] === 'on'] as const);
    expect(Object.fromEntries(rows)).toEqual(defaults);
    expect(rows).toHaveLength(Object.keys(defaults).length);
  });

  test('every deploy and every operator command that reaches AWS in a README code block names the config it acts on', () => {
    // The embedded default config holds demo accounts and the default prefix: without a config the command acts on other names.
    const lines = fencedLines(readme).filter((line) => /\bcdk deploy\b/.test(line) || /^npm run (api-keys|link-credentials|stage-model|mirror-images|distill|agents) -- /.test(line));
    expect(lines.length).toBeGreaterThan(25);
    expect(lines.filter((line) => !/(?:-c config=|--config )\S+/.test(line))).toEqual([]);
  });

  test('every `npm run synth` the README shows synthesizes a valid config, and the invalid example prints what the README shows', () => {
    const contextOf = (args: string) => Object.fromEntries([...args.matchAll(/(?:^|\s)-c '?([^=\s]+)=(\S+?)'?(?=\s|$)/g)].map((m) => [m[1], m[2]]));
    const invalid = /for example `npm run synth -- ([^`]+)` prints:\n\n```\n([\s\S]*?)\n```/.exec(readme);
    expect(invalid).not.toBeNull();
    expect(() => loadConfig(contextOf(invalid![1]), ROOT)).toThrow(invalid![2]);
    const commands = [...readme.matchAll(/npm run synth -- ([^`#\n]+)/g)].map((m) => m[1].trim()).filter((args) => args !== invalid![1] && !args.includes('config/prod.json'));
    expect(commands.length).toBeGreaterThan(4);
    const failing = commands.flatMap((args) => {
      try {
        loadConfig(contextOf(args), ROOT);
        return [];
      } catch (e) {
        return [`npm run synth -- ${args}: ${(e as Error).message}`];
      }
    });
    expect(failing).toEqual([]);
  });

  test('mirror-images --help offers every image the config can pin (and the agents\' base)', async () => {
    const { stdout } = await runCli('scripts/mirror-images.ts', ['--help']);
    const only = /\[--only ([\w|]+)\]/.exec(stdout)?.[1].split('|');
    expect(only).toEqual([...Object.keys(KitConfigSchema.parse({}).images), 'agents']);
  });

  test('the routes table names every route the REST API serves', () => {
    const table = readme.slice(readme.indexOf('| Route | What |'), readme.indexOf('\n\n', readme.indexOf('| Route | What |')));
    expect(GATEWAY_ROUTES.filter((route) => !table.includes(`\`${route}\``))).toEqual([]);
  });
});
