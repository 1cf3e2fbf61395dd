import * as fs from 'fs';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { buildKit, Kit } from '../../bin/kit';
import { ComplianceLedger } from '../../lib/checks/compliance-ledger';
import { loadConfig } from '../../lib/config/load';
import { KitConfig } from '../../lib/config/schema';

/** cdk.json's context (feature flags included): tests synthesize with exactly what `cdk synth` uses. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'cdk.json'), 'utf8'));
  return cdkJson.context;
}

/**
 * A new App with cdk.json's context plus `extra` (e.g. `-c` style config keys). Lambda bundling is
 * skipped (CDK's `aws:cdk:bundling-stacks`) unless a test asks for it: most tests read templates,
 * and esbuild per app would make the suite slow on 2 cores.
 */
export function newApp(extra: Record<string, unknown> = {}, bundle = false): App {
  return new App({ context: { ...cdkJsonContext(), ...(bundle ? {} : { 'aws:cdk:bundling-stacks': [] }), ...extra } });
}

export interface KitApp {
  readonly app: App;
  readonly config: KitConfig;
  readonly kit: Kit;
  readonly ledger: ComplianceLedger;
}

/**
 * The day the kit's template tests judge date-bound checks by (a Lambda runtime's deprecation): fixed,
 * so the suite does not change its verdict on a calendar day with no change to the code. The rules'
 * dates have their own tests (test/checks/china-region-checks.test.ts).
 */
export const TEST_CHECKS_DATE = '2026-12-02';

/** The kit as `bin/cn-llm-kit.ts` builds it, with config given the way `-c key=value` gives it. */
export function kitApp(configContext: Record<string, unknown> = {}, opts: { bundle?: boolean; agentToolsDirectory?: string; checksDate?: string } = {}): KitApp {
  const app = newApp(configContext, opts.bundle);
  const config = loadConfig(app.node.getAllContext());
  const ledger = new ComplianceLedger();
  const kit = buildKit(app, config, ledger, { agentToolsDirectory: opts.agentToolsDirectory, checksDate: opts.checksDate ?? TEST_CHECKS_DATE });
  return { app, config, kit, ledger };
}
