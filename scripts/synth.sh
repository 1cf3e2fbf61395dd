#!/usr/bin/env bash
# Offline synth of every enabled stack, plus the compliance reports in ./compliance-report.
# Extra arguments go to `cdk synth` (e.g. -c config=my-config.json).
set -euo pipefail
cd "$(dirname "$0")/.."
export CDK_DISABLE_CLI_TELEMETRY=true
exec npx cdk synth --quiet "$@"
