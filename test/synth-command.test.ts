/**
 * The synth command as a user runs it: a real process, a real output folder. Bad site files must fail
 * with a message naming the field, and leave the previous output exactly as it was.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { reservedFootprint, workloadFootprints } from '../lib/budget';
import { formatBytes, formatMillicores } from '../lib/config/quantity';
import { replaceTogether } from '../lib/synth';
import { defaultSiteYaml, Manifest, REPO_ROOT, siteWith, synth } from './helpers';

const run = promisify(execFile);
/** What `npm run synth` and the cdk8s CLI run. */
const SYNTH = path.join(REPO_ROOT, 'scripts', 'synth.mjs');

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function runProcess(file: string, args: string[], env: Record<string, string>): Promise<RunResult> {
  try {
    const { stdout, stderr } = await run(file, args, { env: { ...process.env, CDK8S_CHECK_UPGRADE: 'false', ...env }, cwd: REPO_ROOT });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code: number; stdout: string; stderr: string };
    return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
  }
}

const synthProcess = (env: Record<string, string>) => runProcess(process.execPath, [SYNTH], env);
const CDK8S_CLI = path.join(REPO_ROOT, 'node_modules', '.bin', 'cdk8s');
const cliSynth = (outdir: string, env: Record<string, string> = {}) => runProcess(CDK8S_CLI, ['synth', '--output', outdir], env);

function changedSite(change: (tree: Manifest) => void): string {
  const tree = defaultSiteYaml() as Manifest;
  change(tree);
  return stringify(tree);
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'plane-synth-'));
}

/** Every file under a folder with its content, to compare folders byte for byte. */
function snapshot(dir: string): Record<string, string> {
  if (!fs.existsSync(dir)) return {};
  return Object.fromEntries(
    fs
      .readdirSync(dir)
      .sort()
      .map((f) => [f, fs.readFileSync(path.join(dir, f), 'utf8')]),
  );
}

interface BadSite {
  readonly title: string;
  readonly change?: (tree: Manifest) => void;
  /** Raw text instead of a changed default tree. */
  readonly text?: string;
  readonly expected: RegExp;
}

/**
 * A few refusals through the real process, one per way of failing (the schema's cases are in
 * test/site-config.test.ts, in-process): exit code, message, no stack trace, output untouched.
 */
const BAD_SITES: BadSite[] = [
  {
    title: 'misspelt nested key',
    change: (s) => {
      s.components.api.replica = 2;
    },
    expected: /components\.api\.replica: unknown key.*replicas/,
  },
  {
    title: 'CIDR with host bits',
    change: (s) => {
      s.kubernetes.podCidr = '10.42.0.1/16';
    },
    expected: /kubernetes\.podCidr: host bits are set: did you mean 10\.42\.0\.0\/16/,
  },
  {
    title: 'a Plane release the project does not support',
    change: (s) => {
      s.images.plane.tag = 'v1.5.1';
    },
    expected: /images\.plane\.tag: "v1\.5\.1" is not a Plane release this project supports: use v1\.2\.2, v1\.2\.3, v1\.3\.1/,
  },
  {
    title: 'a YAML alias bomb',
    text: 'a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n',
    expected: /Excessive alias count/,
  },
  { title: 'an empty file', text: '', expected: /the file is empty/ },
  {
    title: 'requests over the VPS budget',
    change: (s) => {
      s.vps.budget.memory = '1Gi';
    },
    expected: /memory requests .* exceed vps\.budget\.memory \(1Gi\)/,
  },
];

describe('synth command', () => {
  describe('rejects a bad site file, names the field, keeps the previous output', { concurrency: 4 }, () => {
    for (const bad of BAD_SITES) {
      it(bad.title, async () => {
        const work = tempDir();
        const siteFile = path.join(work, 'site.yaml');
        const outdir = path.join(work, 'dist');
        const tree = defaultSiteYaml() as Manifest;
        bad.change?.(tree);
        fs.writeFileSync(siteFile, bad.text ?? stringify(tree));
        fs.mkdirSync(outdir);
        fs.writeFileSync(path.join(outdir, '0000-previous.k8s.yaml'), 'kind: Previous\n');
        const before = snapshot(outdir);

        const { code, stderr } = await synthProcess({ SITE_CONFIG: siteFile, CDK8S_OUTDIR: outdir });

        assert.notEqual(code, 0, 'synth must exit non-zero');
        assert.match(stderr, bad.expected);
        assert.match(stderr, /^synth failed: /, 'one summary line first');
        assert.doesNotMatch(stderr, /\n\s+at |Error:/, 'a config error is reported without a stack trace');
        assert.deepEqual(snapshot(outdir), before, 'the previous output must be untouched');
        assert.deepEqual(fs.readdirSync(work).sort(), ['dist', 'site.yaml'], 'no partial output left beside it');
        fs.rmSync(work, { recursive: true, force: true });
      });
    }
  });

  it('names the file when it cannot be read', async () => {
    const work = tempDir();
    const { code, stderr } = await synthProcess({ SITE_CONFIG: path.join(work, 'nope.yaml'), CDK8S_OUTDIR: path.join(work, 'dist') });
    assert.notEqual(code, 0);
    assert.match(stderr, /nope\.yaml.*cannot read the file/s);
    assert.equal(fs.existsSync(path.join(work, 'dist')), false);
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('replaces the whole previous output on success, and reproduces the committed dist/ byte for byte', async () => {
    const work = tempDir();
    const outdir = path.join(work, 'dist');
    fs.mkdirSync(outdir);
    fs.writeFileSync(path.join(outdir, '0009-stale.k8s.yaml'), 'kind: Stale\n');
    const { code, stderr } = await synthProcess({ CDK8S_OUTDIR: outdir, SITE_CONFIG: '' });
    assert.equal(code, 0, stderr);
    assert.deepEqual(snapshot(outdir), snapshot(path.join(REPO_ROOT, 'dist')), 'dist/ is stale: run `npm run synth` and commit it');
    assert.deepEqual(fs.readdirSync(work).sort(), ['dist', 'dns'], 'manifests in dist/, the DNS record beside it');
    assert.deepEqual(
      snapshot(path.join(work, 'dns')),
      snapshot(path.join(REPO_ROOT, 'dns')),
      'dns/ is stale: run `npm run synth` and commit it',
    );
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('selects another site file through SITE_CONFIG', async () => {
    const work = tempDir();
    const siteFile = path.join(work, 'other.yaml');
    const tree = defaultSiteYaml() as Manifest;
    tree.kubernetes.namespace = 'plane-staging';
    fs.writeFileSync(siteFile, stringify(tree));
    const { code, stderr } = await synthProcess({ SITE_CONFIG: siteFile, CDK8S_OUTDIR: path.join(work, 'dist') });
    assert.equal(code, 0, stderr);
    assert.match(fs.readFileSync(path.join(work, 'dist', '0000-namespace.k8s.yaml'), 'utf8'), /name: plane-staging/);
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('works through the cdk8s CLI (`npx cdk8s synth`) offline, with the same output', async () => {
    const work = tempDir();
    const outdir = path.join(work, 'out');
    const result = await cliSynth(outdir);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(snapshot(outdir), snapshot(path.join(REPO_ROOT, 'dist')));
    assert.deepEqual(snapshot(path.join(work, 'dns')), snapshot(path.join(REPO_ROOT, 'dns')));
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('`npx cdk8s synth` with a bad site file: the CLI empties the folder, the app puts the last good output back', async () => {
    const work = tempDir();
    const outdir = path.join(work, 'out');
    const good = await cliSynth(outdir);
    assert.equal(good.code, 0, good.stderr);
    const before = snapshot(outdir);
    const siteFile = path.join(work, 'bad.yaml');
    fs.writeFileSync(
      siteFile,
      changedSite((s) => {
        s.kubernetes.namespace = 'kube-system';
      }),
    );

    const bad = await cliSynth(outdir, { SITE_CONFIG: siteFile });

    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /kubernetes\.namespace: "kube-system" is a namespace of the cluster itself/);
    assert.match(bad.stderr, /restored the output of the last successful synth/);
    assert.deepEqual(snapshot(outdir), before, 'the output folder holds the last good output again');
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('`npx cdk8s synth` with a bad site file and no earlier synth there: restores what git has for the folder', async () => {
    const work = tempDir();
    const outdir = path.join(work, 'dist');
    fs.cpSync(path.join(REPO_ROOT, 'dist'), outdir, { recursive: true });
    const git = (...args: string[]) => run('git', ['-c', 'user.email=t@example.org', '-c', 'user.name=t', ...args], { cwd: work });
    await git('init', '-q');
    await git('add', 'dist');
    await git('commit', '-q', '-m', 'dist');
    const before = snapshot(outdir);
    const siteFile = path.join(work, 'bad.yaml');
    fs.writeFileSync(siteFile, '- not a map\n');

    const bad = await cliSynth(outdir, { SITE_CONFIG: siteFile });

    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /restored it from git/);
    assert.deepEqual(snapshot(outdir), before);
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('prints what it wrote and the requests against the budget', async () => {
    const work = tempDir();
    const outdir = path.join(work, 'dist');
    const { code, stdout } = await synthProcess({ CDK8S_OUTDIR: outdir, SITE_CONFIG: '' });
    assert.equal(code, 0);
    const manifests = synth();
    const total = reservedFootprint(workloadFootprints(manifests));
    const lines = stdout.trim().split('\n');
    assert.equal(lines.length, 2, stdout);
    assert.match(
      lines[0],
      new RegExp(
        `^synth: .*dist/ — ${fs.readdirSync(outdir).length} files, ${manifests.length} objects; .*dns/headscale-extra-records\\.json$`,
      ),
    );
    assert.equal(
      lines[1],
      `requests: ${formatMillicores(total.requestsMillicores)} of vps.budget.cpu 2, ${formatBytes(total.requestsBytes)} of vps.budget.memory ${siteWith().vps.budget.memory}`,
    );
    fs.rmSync(work, { recursive: true, force: true });
  });
});

describe('replacing the output: all or none', () => {
  it('puts every earlier target back when a later replacement fails', () => {
    const work = tempDir();
    const [dir, file] = [path.join(work, 'dist'), path.join(work, 'dns.json')];
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'a.yaml'), 'old\n');
    fs.writeFileSync(file, 'old\n');
    fs.mkdirSync(`${dir}.new`);
    fs.writeFileSync(path.join(`${dir}.new`, 'a.yaml'), 'new\n');
    // The second source does not exist: its move fails after the first has been made.
    assert.throws(
      () =>
        replaceTogether([
          [`${dir}.new`, dir],
          [`${file}.missing`, file],
        ]),
      /ENOENT/,
    );
    assert.equal(fs.readFileSync(path.join(dir, 'a.yaml'), 'utf8'), 'old\n');
    assert.equal(fs.readFileSync(file, 'utf8'), 'old\n');
    assert.deepEqual(fs.readdirSync(work).sort(), ['dist', 'dns.json'], 'the new folder is discarded, no retired copy left behind');
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('replaces every target when all moves succeed', () => {
    const work = tempDir();
    const [dir, file] = [path.join(work, 'dist'), path.join(work, 'dns.json')];
    fs.mkdirSync(dir);
    fs.writeFileSync(file, 'old\n');
    fs.mkdirSync(`${dir}.new`);
    fs.writeFileSync(path.join(`${dir}.new`, 'a.yaml'), 'new\n');
    fs.writeFileSync(`${file}.new`, 'new\n');
    replaceTogether([
      [`${dir}.new`, dir],
      [`${file}.new`, file],
    ]);
    assert.equal(fs.readFileSync(path.join(dir, 'a.yaml'), 'utf8'), 'new\n');
    assert.equal(fs.readFileSync(file, 'utf8'), 'new\n');
    assert.deepEqual(fs.readdirSync(work).sort(), ['dist', 'dns.json']);
    fs.rmSync(work, { recursive: true, force: true });
  });
});
