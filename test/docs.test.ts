import * as fs from 'fs';
import * as path from 'path';
import { CHINA_RULES } from '../lib/checks/china-region-checks';
import { TEMPLATE_RULES } from '../lib/checks/template-format-checks';
import { CHINA_REGIONS } from '../lib/china/china';
import { loadConfig } from '../lib/config/load';
import { KitConfigSchema } from '../lib/config/schema';

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
      for (const [, stackPrefix] of line.matchAll(/\b([a-z][a-z0-9-]*)-(?:Network|ModelStore|BedrockAccess|Gateway|VllmEc2|VllmEks)\b/g)) expect([line, stackPrefix]).toEqual([line, prefix]);
    }
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
