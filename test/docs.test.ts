import * as fs from 'fs';
import * as path from 'path';
import { CHINA_RULES } from '../lib/checks/china-region-checks';
import { TEMPLATE_RULES } from '../lib/checks/template-format-checks';
import { loadConfig } from '../lib/config/load';

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

describe('the README sizing table', () => {
  test('is what the sizing check says today', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { sizingTable } = require('../lib/gpu/sizing-table') as typeof import('../lib/gpu/sizing-table');
    expect(read('README.md')).toContain(sizingTable());
  });
});
