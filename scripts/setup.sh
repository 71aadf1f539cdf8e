#!/usr/bin/env bash
# Installs what Lore needs on a Debian machine: system packages (when missing) and models.
#   scripts/setup.sh          # for running Lore: default models
#   scripts/setup.sh --test   # for the tests: test models and the tools that make test fixtures
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-run}"
packages=()
need() { command -v "$1" >/dev/null 2>&1 || packages+=("$2"); }
need pdftotext poppler-utils
if [ "$mode" = "--test" ]; then
  need qpdf qpdf
  # The browser test: Debian's Chromium, driven by playwright-core (npm) without downloading a browser.
  [ -x /usr/bin/chromium ] || packages+=(chromium)
  need node nodejs
  need npm npm
  # The PostgreSQL catalog and job queue tests start a throwaway cluster with Debian's server programs.
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || packages+=(postgresql)
fi

if [ ${#packages[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
    echo "setup: please install: ${packages[*]}" >&2
    exit 1
  fi
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "setup: installing ${packages[*]}" >&2
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null
fi

if [ "$mode" = "--test" ]; then
  scripts/fetch-models.sh --test
  if [ ! -d web/e2e/node_modules/playwright-core ]; then
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix web/e2e --no-audit --no-fund --loglevel=error
  fi
  # A real OpenID provider (the certified oidc-provider package) the sign-in tests start on loopback.
  if [ ! -d testkit/oidc-provider/node_modules/oidc-provider ]; then
    npm ci --prefix testkit/oidc-provider --no-audit --no-fund --loglevel=error
  fi
  # The official OpenAI Python client, to test that it authenticates with a Lore API token.
  openai_venv="${LORE_CACHE_DIR:-$HOME/.cache/lore}/openai-client"
  if ! "$openai_venv/bin/python" -c 'import openai; assert openai.__version__ == "3.57.0"' 2>/dev/null; then
    python3 -m venv "$openai_venv"
    "$openai_venv/bin/python" -m pip install --quiet --disable-pip-version-check openai==3.57.0
  fi
  # Real-world edge-case PDFs (encrypted, broken, scanned, forms): pypdf's test resources.
  fixtures="${LORE_CACHE_DIR:-$HOME/.cache/lore}/fixtures"
  if [ ! -d "$fixtures/pypdf-7.1.0/resources" ]; then
    mkdir -p "$fixtures"
    python3 -m pip download --quiet --no-deps --no-binary=:all: --disable-pip-version-check -d "$fixtures" pypdf==7.1.0
    tar -xzf "$fixtures/pypdf-7.1.0.tar.gz" -C "$fixtures" pypdf-7.1.0/resources
  fi
else
  scripts/fetch-models.sh
fi
