/**
 * The project's own tooling (issue 16): shell scripts under pipefail that do not kill their own
 * pipes, CI naming the step that failed, `npm test`'s short output, and `npm ci` without an
 * unexplained install-script warning.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { REPO_ROOT } from './helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plane-ci-tooling-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function executable(file: string, text: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text, { mode: 0o755 });
  return file;
}

/** The repository's bash scripts (by extension, shebang or shellcheck directive), relative paths. */
function bashScripts(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true })) {
      const rel = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules' && !entry.name.startsWith('.git')) walk(rel);
        continue;
      }
      const head = fs.readFileSync(path.join(REPO_ROOT, rel), 'utf8').slice(0, 300);
      if (
        /^#!.*\bbash\b/.test(head) ||
        /^# shellcheck shell=bash/m.test(head) ||
        (rel.endsWith('.sh') && /pipefail/.test(fs.readFileSync(path.join(REPO_ROOT, rel), 'utf8')))
      )
        found.push(rel);
    }
  };
  for (const dir of ['.ci', 'scripts', 'tools', 'lib', 'bin']) if (fs.existsSync(path.join(REPO_ROOT, dir))) walk(dir);
  return found.sort();
}

/**
 * A pipe into a reader that may stop reading before the writer is done: head, grep -q/-m/-l, sed's q,
 * awk's exit. Under pipefail the writer's SIGPIPE (exit 141) fails the pipeline, with no message.
 */
const EARLY_EXIT_READER =
  /\|\s*(head\b|grep\s+(?:-[a-zA-Z]*[qml]|[^|]*--(?:quiet|silent|max-count|files-with-matches))|sed\s[^|]*(?:;\s*q\b|\dq\b|\{\s*q\b)|awk\s[^|]*\bexit\b)/;

/** The script's lines, comments dropped and continued pipes joined onto one line. */
function pipelines(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .replace(/\|\s*\n\s*/g, '| ')
    .replace(/\n\s*\|/g, ' |')
    .split('\n');
}

describe('shell scripts under pipefail: no pipe that kills its own writer', () => {
  it('the check finds the pipes of issue 16 (CoreDNS -version | head -n1 died of SIGPIPE, exit 141)', () => {
    for (const line of [
      '  reported="$("$tmp/$name" "$version_flag" 2>&1 | head -n1)"',
      '  sed -nE \'s#x#\\1#p\' "$1" | head -n1',
      'echo "($(kubectl version --client -o json | grep -m1 gitVersion | tr -d \' ",\'))"',
      'kubectl get pods |\n  grep -q Running',
      'x | grep -Fq y',
      "x | sed -n '/y/{p;q}'",
      "x | awk '{print; exit}'",
    ])
      assert.ok(
        pipelines(line).some((l) => EARLY_EXIT_READER.test(l)),
        line,
      );
    for (const line of ['x | grep -c y', 'x | tail -n 1', 'grep -m1 y <<<"$x" | tr -d " "', "x | sed -n 's/a/b/p'"]) {
      assert.ok(!pipelines(line).some((l) => EARLY_EXIT_READER.test(l)), line);
    }
  });

  it('no bash script of the repository has one', () => {
    const scripts = bashScripts();
    for (const expected of ['.ci/run', 'tools/lib/go-tool.sh', 'tools/caddy/install.sh', 'tools/cluster/verify.sh', 'scripts/lint.sh']) {
      assert.ok(scripts.includes(expected), `${expected} is checked`);
    }
    const found = scripts.flatMap((file) =>
      pipelines(fs.readFileSync(path.join(REPO_ROOT, file), 'utf8'))
        .filter((line) => EARLY_EXIT_READER.test(line))
        .map((line) => `${file}: ${line.trim()}`),
    );
    assert.deepEqual(found, [], 'read the whole output into a variable, then take its first line in bash');
  });

  it("go-tool.sh reads a new binary's version line whatever else it prints (first_line_of)", () => {
    const chatty = executable(path.join(tmp, 'chatty'), '#!/bin/sh\necho CoreDNS-1.10.1\necho linux/amd64, go1.24\nseq 1 200000\n');
    const goTool = path.join(REPO_ROOT, 'tools', 'lib', 'go-tool.sh');
    // The pipe it replaces does fail here: the test reproduces the cold CI run.
    const piped = spawnSync('bash', ['-euo', 'pipefail', '-c', 'v="$("$0" -version 2>&1 | head -n1)"; echo "$v"', chatty], {
      encoding: 'utf8',
    });
    assert.equal(piped.status, 141);
    const read = spawnSync(
      'bash',
      ['-euo', 'pipefail', '-c', 'source "$1"; v="$(first_line_of "$0" -version)"; echo "got $v"', chatty, goTool],
      { encoding: 'utf8' },
    );
    assert.equal(read.status, 0, read.stderr);
    assert.equal(read.stdout, 'got CoreDNS-1.10.1\n');
    const broken = executable(path.join(tmp, 'broken'), '#!/bin/sh\necho "flag provided but not defined: -version" >&2\nexit 2\n');
    const failed = spawnSync(
      'bash',
      ['-euo', 'pipefail', '-c', 'source "$1"; TOOL_NAME=coredns; first_line_of "$0" -version', broken, goTool],
      { encoding: 'utf8' },
    );
    assert.equal(failed.status, 2);
    assert.equal(failed.stdout, '');
    assert.match(failed.stderr, /^\[coredns\] .*broken -version exited with 2: flag provided but not defined: -version\n$/);
  });
});

describe('.ci/run', () => {
  /** .ci/run with npm replaced (and the system packages it looks for present): nothing is installed. */
  function ci(npm: string): { code: number | null; stdout: string; stderr: string } {
    const bin = path.join(tmp, 'ci-bin');
    for (const tool of ['shellcheck', 'ip', 'openssl', 'curl', 'setpriv', 'setcap', 'python3'])
      executable(path.join(bin, tool), '#!/bin/sh\nexit 0\n');
    executable(path.join(bin, 'npm'), `#!/bin/sh\n${npm}\n`);
    const result = spawnSync(path.join(REPO_ROOT, '.ci', 'run'), [], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
      timeout: 30_000,
    });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  it('names the step that failed and its exit code, last', () => {
    const result = ci('case "$*" in test) exit 7;; esac');
    assert.equal(result.code, 7);
    assert.match(result.stdout, /=== unit tests \(the README's test command\)/);
    assert.match(result.stderr, /\n=== FAILED: unit tests \(the README's test command\) \(exit 7, after \d+ s\)\n$/);
  });

  it('a step killed by SIGPIPE, silent itself, is named too', () => {
    const result = ci('case "$*" in "ci --no-audit --no-fund") exit 141;; esac');
    assert.equal(result.code, 141);
    assert.match(result.stderr, /=== FAILED: install npm packages \(exit 141, after \d+ s\)\n$/);
  });

  it("says nothing more when every step passes, and still runs the README's npm test", () => {
    const log = path.join(tmp, 'npm.log');
    const result = ci(`echo "$*" >> ${log}`);
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stderr, /FAILED/);
    assert.ok(fs.readFileSync(log, 'utf8').split('\n').includes('test'));
  });
});

const packageJson = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));

describe('npm ci', () => {
  it('every dependency with an install script is decided in allowScripts (else npm 11.16+ warns on every npm ci)', () => {
    const lock = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package-lock.json'), 'utf8'));
    const withScripts = Object.entries(lock.packages as Record<string, { hasInstallScript?: boolean }>)
      .filter(([where, p]) => where !== '' && p.hasInstallScript)
      .map(([where]) => where.replace(/^.*node_modules\//, ''));
    assert.deepEqual(withScripts, ['esbuild']);
    const decided = Object.keys(packageJson.allowScripts ?? {}).map((key) => key.replace(/(.)@.*$/, '$1'));
    for (const name of withScripts) assert.ok(decided.includes(name), `${name} is not in package.json allowScripts`);
    // Denied, not allowed: the build uses esbuild's JS API, which needs no postinstall (scripts/build.mjs).
    assert.equal(packageJson.allowScripts.esbuild, false);
  });
});

describe('npm test: short when everything passes, every detail of a failure', () => {
  const fixture = path.join(tmp, 'reporter');
  executable(
    path.join(fixture, 'pass.test.js'),
    `const { it } = require('node:test');\nfor (let i = 0; i < 300; i++) it('passes ' + i, () => {});\nit('waits', { skip: 'no server here' }, () => {});\n`,
  );
  const run = (files: string[]) => {
    // Not as a child of this test run: with NODE_TEST_CONTEXT, node --test reports to its parent instead.
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    return spawnSync(process.execPath, ['--test', `--test-reporter=${path.join(REPO_ROOT, 'scripts', 'test-reporter.mjs')}`, ...files], {
      cwd: fixture,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
  };

  it('package.json runs the suites with scripts/test-reporter.mjs', () => {
    assert.match(packageJson.scripts.test, /node --test --test-reporter=\.\/scripts\/test-reporter\.mjs build\/test\/\*\.test\.js$/);
  });

  it('a passing run: a few lines of dots, the skipped tests with their reasons, the counts', () => {
    const result = run(['pass.test.js']);
    assert.equal(result.status, 0, result.stdout + result.stderr);
    const lines = result.stdout.trim().split('\n');
    assert.ok(lines.length < 30, `${lines.length} lines`);
    assert.match(result.stdout, /- waits: no server here \(.*pass\.test\.js\)\n/);
    assert.match(result.stdout, /tests 301, pass 300, fail 0, cancelled 0, skipped 1, todo 0, duration_ms [\d.]+\n$/);
  });

  it('a failing run: the assertion, its values and where; what the failing file printed; a file that cannot load', () => {
    executable(
      path.join(fixture, 'fail.test.js'),
      `const { it } = require('node:test');\nconst assert = require('node:assert/strict');\nit('compares', () => { console.log('context printed by the test'); assert.equal(1 + 1, 3, 'arithmetic'); });\n`,
    );
    executable(path.join(fixture, 'broken.test.js'), `require('./no-such-module');\n`);
    const result = run(['pass.test.js', 'fail.test.js', 'broken.test.js']);
    assert.equal(result.status, 1);
    assert.match(result.stdout, /✖ compares[^\n]*\n\s+AssertionError[^\n]*: arithmetic\n[\s\S]*2 !== 3[\s\S]*fail\.test\.js:3/);
    assert.match(result.stdout, /what .*fail\.test\.js printed:\ncontext printed by the test\n/);
    assert.match(result.stdout, /what .*broken\.test\.js printed:\n[\s\S]*Cannot find module '\.\/no-such-module'/);
    assert.match(result.stdout, /tests 303, pass 300, fail 2, /);
  });
});
