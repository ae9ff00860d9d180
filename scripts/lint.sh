#!/usr/bin/env bash
# `npm run lint`: Prettier's formatting and oxlint on the TypeScript and JavaScript sources, shellcheck
# on every shell script.
# Zero findings, warnings included. shellcheck comes from Debian (apt-get install shellcheck; .ci/run
# installs it when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

# The formatting is checked, never changed here: `npm run format` writes it.
npx --no-install prettier --check --log-level warn '**/*.{ts,mjs,js}' || { echo "lint: run npm run format" >&2; exit 1; }

npx --no-install oxlint --deny-warnings --report-unused-disable-directives --ignore-pattern 'dist/**' --ignore-pattern 'build/**'

command -v shellcheck >/dev/null || { echo "lint: shellcheck is missing (apt-get install shellcheck)" >&2; exit 1; }
# Every tracked shell script: *.sh and files whose first line names a shell.
mapfile -t scripts < <(git ls-files -z | xargs -0 grep -lIE '^#!/(usr/)?bin/(env )?(ba)?sh' -- 2>/dev/null; git ls-files '*.sh')
mapfile -t scripts < <(printf '%s\n' "${scripts[@]}" | sort -u)
shellcheck --external-sources --source-path=SCRIPTDIR "${scripts[@]}"
echo "lint: prettier, oxlint and shellcheck (${#scripts[@]} scripts) found nothing"
