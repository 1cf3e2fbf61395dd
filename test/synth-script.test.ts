import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { cliEnv, REPO_ROOT } from './helpers/cli';

describe('npm run synth (scripts/synth.sh)', () => {
  test('-o DIR: templates and compliance reports both land in DIR, and the last line says where', async () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-synth-'));
    const outdir = path.join(parent, 'assembly');
    // The network stack alone: what is checked here is where things land, not the stacks.
    const only = ['modelStore', 'bedrockAccess', 'gateway', 'vllmEc2'].flatMap((s) => ['-c', `stacks.${s}=false`]);
    const { stdout } = await promisify(execFile)('bash', ['scripts/synth.sh', '-o', outdir, ...only], { cwd: REPO_ROOT, env: cliEnv({ CDK_DISABLE_CLI_TELEMETRY: 'true' }), timeout: 300000 });
    expect(fs.existsSync(path.join(outdir, 'cnllm-Network.template.json'))).toBe(true);
    expect(fs.readFileSync(path.join(outdir, 'compliance-report', 'README.md'), 'utf8')).toContain('cnllm-Network');
    expect(fs.existsSync(path.join(parent, 'compliance-report'))).toBe(false);
    const lines = stdout.trim().split('\n');
    expect(lines.at(-1)).toBe(`Templates: ${outdir}/*.template.json   Compliance reports: ${outdir}/compliance-report/README.md (one <stack>.md and <stack>.csv per stack)`);
    expect(stdout).not.toContain('Supply a stack id');
  }, 300000);
});
