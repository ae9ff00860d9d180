/**
 * The Plane releases the project supports, one list (lib/config/plane-releases.ts): the provisioning
 * module's SUPPORTED_PLANE_VERSIONS, the default site and docs/configuration.md say the same, and each
 * release synthesizes to v1.2.2's manifests but for its tag and what the list says differs (Intercom).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { DEFAULT_PLANE_RELEASE, PLANE_RELEASES, planeRelease, SUPPORTED_PLANE_TAGS } from '../lib/config/plane-releases';
import { provisioningSpec } from '../lib/plane/provisioning';
import { find, Manifest, REPO_ROOT, siteProblems, siteWith, synth } from './helpers';

const BACKEND_CONFIGMAPS = ['plane-api-env', 'plane-worker-env', 'plane-beat-worker-env', 'plane-migrator-env', 'plane-provisioning-env'];
const at = (tag: string, change: (s: Manifest) => void = () => undefined) =>
  siteWith((s) => {
    s.images.plane.tag = tag;
    change(s);
  });

/** Every string of `value`, JSON documents in strings included, through `f`. */
function mapStrings(value: unknown, f: (s: string) => string): unknown {
  if (typeof value === 'string') {
    if (/^\s*[[{]/.test(value)) {
      try {
        return mapStrings(JSON.parse(value), f);
      } catch {
        return f(value);
      }
    }
    return f(value);
  }
  if (Array.isArray(value)) return value.map((v) => mapStrings(v, f));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStrings(v, f)]));
  return value;
}

/** The manifests of a release with its tag (label values, image tags, versioned names and their digests) replaced by TAG. */
function withoutTag(tag: string, manifests: Manifest[]): Manifest[] {
  const dashed = tag.replace(/\./g, '-');
  return mapStrings(manifests, (s) =>
    s === tag
      ? 'TAG'
      : s
          .split(`:${tag}`)
          .join(':TAG')
          .replace(new RegExp(`-${dashed}-[0-9a-f]{8}`, 'g'), '-TAG-HASH')
          .split(`-${dashed}`)
          .join('-TAG'),
  ) as Manifest[];
}

/** Paths where `a` and `b` differ, leaving out the checksum annotations (hashes of what differs). */
function differences(a: unknown, b: unknown, at = ''): string[] {
  if (JSON.stringify(a) === JSON.stringify(b) || /checksum\//.test(at)) return [];
  if (a && b && typeof a === 'object' && typeof b === 'object')
    return [...new Set([...Object.keys(a), ...Object.keys(b)])].flatMap((k) =>
      differences((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${at}.${k}`),
    );
  return [at];
}

describe('supported Plane releases', () => {
  it("the provisioning module's SUPPORTED_PLANE_VERSIONS is the list (imported by python3)", () => {
    const run = spawnSync('python3', ['-c', 'import json, plane_k3s_provision as m; print(json.dumps(m.SUPPORTED_PLANE_VERSIONS))'], {
      env: { ...process.env, PYTHONPATH: path.join(REPO_ROOT, 'lib', 'plane', 'provision') },
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), SUPPORTED_PLANE_TAGS);
  });

  it('the default site runs the default release, the first of the list', () => {
    const site = parse(fs.readFileSync(path.join(REPO_ROOT, 'site', 'javisi.yaml'), 'utf8'));
    assert.equal(site.images.plane.tag, DEFAULT_PLANE_RELEASE);
    assert.equal(SUPPORTED_PLANE_TAGS[0], DEFAULT_PLANE_RELEASE);
    assert.equal(new Set(SUPPORTED_PLANE_TAGS).size, SUPPORTED_PLANE_TAGS.length);
    for (const tag of SUPPORTED_PLANE_TAGS) assert.match(tag, /^v\d+\.\d+\.\d+$/);
  });

  it('docs/configuration.md names the same releases, the default first', () => {
    const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'configuration.md'), 'utf8');
    const paragraph = doc.split('\n### Supported Plane releases\n')[1]?.split('\n#')[0] ?? '';
    assert.ok(paragraph, 'no "Supported Plane releases" section');
    assert.deepEqual(
      [...paragraph.matchAll(/\*\*(v\d+\.\d+\.\d+)\*\*/g)].map((m) => m[1]),
      SUPPORTED_PLANE_TAGS,
    );
    assert.match(paragraph, new RegExp(`\\*\\*${DEFAULT_PLANE_RELEASE.replace(/\./g, '\\.')}\\*\\* \\(the default`));
    for (const named of ['lib/config/plane-releases.ts', 'SUPPORTED_PLANE_VERSIONS', 'npm run test:plane'])
      assert.ok(paragraph.includes(named), named);
    assert.ok(fs.existsSync(path.join(REPO_ROOT, 'lib', 'config', 'plane-releases.ts')));
  });

  it('the site schema refuses a release outside the list in one line naming the supported ones', () => {
    for (const tag of ['v1.3.0', 'v1.5.1', 'v1.2.2-custom', 'latest']) {
      const problems = siteProblems((s) => {
        s.images.plane.tag = tag;
      });
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.equal(problems[0].split('\n').length, 1, problems[0]);
      assert.match(
        problems[0],
        /^images\.plane\.tag: ".*" is not a Plane release this project supports: use v1\.2\.2, v1\.2\.3, v1\.3\.1 /,
      );
      assert.match(problems[0], /checked against its code and npm run test:plane/);
    }
    assert.throws(() => planeRelease('v1.3.0'), /not a supported release/);
  });

  for (const release of PLANE_RELEASES) {
    it(`${release.tag}: the manifests are v1.2.2's but for the tag${release.intercom ? '' : ' and Intercom'}; Job names fit`, () => {
      const manifests = synth(at(release.tag));
      const base = withoutTag(DEFAULT_PLANE_RELEASE, synth(at(DEFAULT_PLANE_RELEASE)));
      const changed = differences(base, withoutTag(release.tag, manifests));
      const intercomPaths = changed.filter((p) => p.endsWith('.IS_INTERCOM_ENABLED'));
      assert.deepEqual(
        changed.filter((p) => !intercomPaths.includes(p)),
        [],
      );
      assert.equal(intercomPaths.length, release.intercom ? 0 : BACKEND_CONFIGMAPS.length + 1);

      // The tag everywhere it belongs: every Plane image, APP_VERSION of the Django processes and of live.
      const planeImages = manifests
        .flatMap((m) => (m.spec?.jobTemplate?.spec ?? m.spec)?.template?.spec?.containers ?? [])
        .map((c: Manifest) => c.image as string)
        .filter((image) => image.startsWith('docker.io/makeplane/'));
      assert.equal(new Set(planeImages.map((image) => image.replace(/:.*/, ''))).size, 5);
      for (const image of planeImages) assert.ok(image.endsWith(`:${release.tag}`), image);
      for (const name of [...BACKEND_CONFIGMAPS, 'plane-live-env'])
        assert.equal(find(manifests, 'ConfigMap', name).data.APP_VERSION, release.tag, name);

      // IS_INTERCOM_ENABLED only where the release has it: the first start's environment and the provisioning's rows.
      for (const name of BACKEND_CONFIGMAPS)
        assert.equal(find(manifests, 'ConfigMap', name).data.IS_INTERCOM_ENABLED, release.intercom ? '0' : undefined, name);
      assert.equal(provisioningSpec(at(release.tag)).instanceSettings.IS_INTERCOM_ENABLED, release.intercom ? '0' : undefined);

      const jobs = manifests.filter((m) => m.kind === 'Job');
      assert.ok(jobs.length > 0);
      for (const job of jobs)
        assert.ok(job.metadata.name.length <= 63 && job.metadata.name.includes(release.tag.replace(/\./g, '-')), job.metadata.name);
    });
  }

  it('images.plane.digests pins each image of any supported release, beside its tag', () => {
    const backend = `sha256:${'b'.repeat(64)}`;
    const live = `sha256:${'e'.repeat(64)}`;
    for (const tag of SUPPORTED_PLANE_TAGS) {
      const images = synth(
        at(tag, (s) => {
          s.images.plane.digests = { backend, live };
        }),
      ).flatMap((m) => (m.spec?.jobTemplate?.spec ?? m.spec)?.template?.spec?.containers?.map((c: Manifest) => c.image as string) ?? []);
      assert.ok(images.includes(`docker.io/makeplane/plane-backend:${tag}@${backend}`), tag);
      assert.ok(images.includes(`docker.io/makeplane/plane-live:${tag}@${live}`), tag);
      assert.ok(images.includes(`docker.io/makeplane/plane-admin:${tag}`), tag);
      assert.ok(!images.some((i) => i.startsWith('docker.io/makeplane/') && !i.includes(`:${tag}`)), tag);
    }
    assert.throws(
      () =>
        at('v1.3.1', (s) => {
          s.images.plane.digests = { backend: 'sha256:abc' };
        }),
      /images\.plane\.digests\.backend: expected an image digest/,
    );
  });
});
