#!/usr/bin/env bash
# Everything `npm test` and `npm run synth` need on a fresh machine: shellcheck (the tests check the
# rendered vLLM boot script with it; Debian/Ubuntu package) and the pinned npm packages.
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
echo "setup: done ($(shellcheck --version | sed -n 's/^version: /shellcheck /p'), node $(node --version)). Next: npm test, npm run synth"
