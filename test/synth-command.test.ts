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
import { defaultSiteYaml, Manifest, REPO_ROOT } from './helpers';

const run = promisify(execFile);
/** What `npm run synth` and the cdk8s CLI run. */
const SYNTH = path.join(REPO_ROOT, 'scripts', 'synth.mjs');

interface RunResult { code: number; stderr: string }

async function synthProcess(env: Record<string, string>): Promise<RunResult> {
  try {
    const { stderr } = await run(process.execPath, [SYNTH], { env: { ...process.env, ...env }, cwd: REPO_ROOT });
    return { code: 0, stderr };
  } catch (error) {
    const failure = error as { code: number; stderr: string };
    return { code: failure.code, stderr: failure.stderr };
  }
}

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'plane-synth-'));
}

/** Every file under a folder with its content, to compare folders byte for byte. */
function snapshot(dir: string): Record<string, string> {
  if (!fs.existsSync(dir)) return {};
  return Object.fromEntries(fs.readdirSync(dir).sort().map((f) => [f, fs.readFileSync(path.join(dir, f), 'utf8')]));
}

interface BadSite {
  readonly title: string;
  readonly change?: (tree: Manifest) => void;
  /** Raw text instead of a changed default tree. */
  readonly text?: string;
  readonly expected: RegExp;
}

const BAD_SITES: BadSite[] = [
  { title: 'misspelt top-level key', change: (s) => { s.domian = s.domain; }, expected: /domian: unknown key/ },
  { title: 'misspelt nested key', change: (s) => { s.components.api.replica = 2; }, expected: /components\.api\.replica: unknown key.*replicas/ },
  { title: 'replicas as text', change: (s) => { s.components.web.replicas = 'two'; }, expected: /components\.web\.replicas: .*expected number/ },
  { title: 'zero replicas', change: (s) => { s.components.space.replicas = 0; }, expected: /components\.space\.replicas: expected at least 1/ },
  { title: 'CIDR prefix out of range', change: (s) => { s.network.vpnCidrs[0] = '100.64.0.0/33'; }, expected: /network\.vpnCidrs\[0\]: expected a CIDR/ },
  { title: 'CIDR with host bits', change: (s) => { s.kubernetes.podCidr = '10.42.0.1/16'; }, expected: /kubernetes\.podCidr: host bits are set: did you mean 10\.42\.0\.0\/16/ },
  { title: 'not a domain', change: (s) => { s.domain = 'Ewutelo_cloud'; }, expected: /domain: expected a DNS name/ },
  { title: 'host label with a dot', change: (s) => { s.hosts.app = 'work.plane'; }, expected: /hosts\.app: expected a DNS label/ },
  { title: 'memory in prose', change: (s) => { s.components.api.resources.limits.memory = '1 GB'; }, expected: /components\.api\.resources\.limits\.memory: expected a quantity/ },
  { title: 'request above limit', change: (s) => { s.components.api.resources.requests.memory = '2Gi'; }, expected: /components\.api\.resources\.requests\.memory: request 2Gi is above the limit 1Gi/ },
  { title: 'latest tag', change: (s) => { s.images.postgres = 'docker.io/library/postgres:latest'; }, expected: /images\.postgres: tag "latest" is not pinned/ },
  { title: 'stable Plane tag', change: (s) => { s.images.plane.tag = 'stable'; }, expected: /images\.plane\.tag: expected an exact version/ },
  { title: 'image without tag', change: (s) => { s.images.redis = 'valkey/valkey'; }, expected: /images\.redis: the image has no tag/ },
  { title: 'missing section', change: (s) => { delete s.vps.budget; }, expected: /vps\.budget: missing/ },
  { title: 'duplicate agent id', change: (s) => { s.users.agents[1].id = s.users.agents[0].id; }, expected: /users\.agents\[1\]\.id: duplicate agent id "concierge"/ },
  { title: 'bad email', change: (s) => { s.users.admin.email = 'mobuone-at-ewutelo'; }, expected: /users\.admin\.email: expected an email/ },
  { title: 'unknown role', change: (s) => { s.users.agents[2].role = 'Owner'; }, expected: /users\.agents\[2\]\.role: expected Admin, Member or Guest/ },
  { title: 'Redis DB index out of range', change: (s) => { s.plane.redisDb = 16; }, expected: /plane\.redisDb: expected a Redis database index 0-15/ },
  { title: 'invalid bucket name', change: (s) => { s.plane.bucket = 'Uploads_'; }, expected: /plane\.bucket: expected an S3 bucket name/ },
  { title: 'key written twice', text: 'project:\n  name: javisi\n  name: other\n', expected: /YAML syntax: .*unique/i },
  { title: 'edge: unknown TLS mode', change: (s) => { s.edge.tls.mode = 'letsencrypt'; }, expected: /edge\.tls\.mode: expected secret/ },
  {
    title: 'edge: ACME DNS-01 with an image that has no DNS provider module',
    change: (s) => { s.edge.tls = { mode: 'acme-dns', storage: '64Mi', acme: { provider: 'cloudflare', email: 'ops@ewutelo.cloud', apiTokenSecret: 'cf' } }; },
    expected: /edge\.tls\.mode: acme-dns needs the DNS provider module "cloudflare"/,
  },
  { title: 'edge: VPN address outside the VPN', change: (s) => { s.edge.vpnAddress = '137.74.114.167'; }, expected: /edge\.vpnAddress: .* is not inside network\.vpnCidrs/ },
  { title: 'requests over the VPS budget', change: (s) => { s.vps.budget.memory = '1Gi'; }, expected: /memory requests .* exceed vps\.budget\.memory \(1Gi\)/ },
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
        assert.doesNotMatch(stderr, /\n\s+at /, 'a config error is reported without a stack trace');
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
    assert.deepEqual(snapshot(path.join(work, 'dns')), snapshot(path.join(REPO_ROOT, 'dns')), 'dns/ is stale: run `npm run synth` and commit it');
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
    const cli = path.join(REPO_ROOT, 'node_modules', '.bin', 'cdk8s');
    await run(cli, ['synth', '--output', outdir], { cwd: REPO_ROOT, env: { ...process.env, CDK8S_CHECK_UPGRADE: 'false' } });
    assert.deepEqual(snapshot(outdir), snapshot(path.join(REPO_ROOT, 'dist')));
    assert.deepEqual(snapshot(path.join(work, 'dns')), snapshot(path.join(REPO_ROOT, 'dns')));
    fs.rmSync(work, { recursive: true, force: true });
  });
});
