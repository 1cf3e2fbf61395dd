#!/usr/bin/env node
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { ComplianceLedger } from '../lib/checks/compliance-ledger';
import { buildStackReports, writeStackReports } from '../lib/checks/compliance-report';
import { ConfigError, loadConfig } from '../lib/config/load';
import { buildKit } from './kit';

const app = new App();
let config;
try {
  config = loadConfig(app.node.getAllContext());
} catch (e) {
  if (!(e instanceof ConfigError)) throw e;
  console.error(e.message);
  process.exit(1);
}

const ledger = new ComplianceLedger();
const kit = buildKit(app, config, ledger);

// The report is written even when checks fail synth: that is when a reviewer needs it most.
// `npm run synth -- -o DIR` puts it in DIR/compliance-report (CNLLM_COMPLIANCE_REPORT_DIR); the default is ./compliance-report.
const reportDir = process.env.CNLLM_COMPLIANCE_REPORT_DIR ?? path.join(path.dirname(path.resolve(app.outdir)), 'compliance-report');
try {
  app.synth();
} finally {
  const reports = buildStackReports(
    ledger,
    kit.stacks.map((s) => s.stackName),
  );
  writeStackReports(reports, reportDir);
  console.error(`Compliance reports: ${reportDir} (${reports.map((r) => `${r.stackName}: ${r.unacknowledged === 0 ? 'PASS' : 'FAIL'}`).join(', ')})`);
}
