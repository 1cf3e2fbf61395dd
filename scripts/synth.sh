#!/usr/bin/env bash
# Offline synth of every enabled stack, plus the compliance reports: ./compliance-report next to
# ./cdk.out by default, DIR/compliance-report inside the cloud assembly with -o DIR.
# Extra arguments go to `cdk synth` (e.g. -c config=my-config.json, -o DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
export CDK_DISABLE_CLI_TELEMETRY=true

outdir="cdk.out"
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    -o | --output) outdir="${args[$((i + 1))]:-cdk.out}" ;;
    -o=* | --output=*) outdir="${args[$i]#*=}" ;;
  esac
done
if [ "$outdir" = "cdk.out" ]; then
  report_dir="compliance-report"
else
  report_dir="$outdir/compliance-report"
fi
export CNLLM_COMPLIANCE_REPORT_DIR
CNLLM_COMPLIANCE_REPORT_DIR="$(realpath -m "$report_dir")"

# cdk synth --quiet ends with CDK's "Supply a stack id ..." hint, which reads like a prompt: say
# instead where the results are.
status=0
npx cdk synth --quiet "$@" 2>&1 | { grep -v '^Supply a stack id' || true; } || status=$?
[ "$status" -eq 0 ] || exit "$status"
echo "Templates: $outdir/*.template.json   Compliance reports: $report_dir/README.md (one <stack>.md and <stack>.csv per stack)"
