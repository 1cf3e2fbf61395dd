#!/usr/bin/env bash
# Everything `npm test` and `npm run synth` need on a fresh machine: shellcheck (the tests check the
# rendered vLLM boot script with it; Debian/Ubuntu package), the pinned npm packages, the pinned
# Python training packages (the distillation test fine-tunes a tiny model for real) and the pinned
# openai Python client with what the README's SigV4 example needs (the gateway's Python client test).
set -euo pipefail
cd "$(dirname "$0")/.."

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 22 ]; then
  echo "setup: Node.js $(node --version) is too old: cn-llm-kit needs Node.js 22 or 24 (engines in package.json)" >&2
  exit 1
fi

if ! command -v shellcheck >/dev/null 2>&1; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: shellcheck is missing and there is no apt-get here: install shellcheck with your package manager (brew install shellcheck, dnf install ShellCheck)" >&2
    exit 1
  fi
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing shellcheck (apt-get)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq shellcheck >/dev/null
fi

npm ci --no-audit --no-fund

# The distillation pipeline's training packages (training/requirements.txt, pinned; CPU wheels are
# enough for the local run and its test). $CNLLM_PYTHON picks another interpreter (e.g. a venv's).
python_bin="${CNLLM_PYTHON:-python3}"
if ! command -v "$python_bin" >/dev/null 2>&1; then
  echo "setup: $python_bin is missing: install Python 3.10 or newer (the LoRA training of npm run distill:local and its test need it)" >&2
  exit 1
fi
echo "setup: installing the Python training packages (training/requirements.txt)"
PIP_ROOT_USER_ACTION=ignore "$python_bin" -m pip install --disable-pip-version-check -q -r training/requirements.txt
# The official openai Python client, boto3 and httpx (pinned): test/runtime/python-client.e2e.test.ts runs them against every gateway host.
echo "setup: installing the Python client test packages (test/python/requirements.txt)"
PIP_ROOT_USER_ACTION=ignore "$python_bin" -m pip install --disable-pip-version-check -q -r test/python/requirements.txt
echo "setup: done ($(shellcheck --version | sed -n 's/^version: /shellcheck /p'), node $(node --version), $("$python_bin" --version)). Next: npm test, npm run synth"
