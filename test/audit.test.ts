/**
 * The audit trail without a cluster: edge.auditLog in the site file (its one-line refusals, the bound
 * that Caddy's rolling derives from it), the volume and mount it gives Caddy, where the stack model
 * says the trail is, and ops/audit's pure parts (--since, endpoints, the files of a listing). Caddy's
 * real log is read in test/edge/audit-log.test.ts; the CLI's refusals in test/ops-cli.test.ts.
 */
import assert from 'node:assert/strict';
import { App } from 'cdk8s';
import { describe, it } from 'node:test';
import { auditLogRolling } from '../lib/edge/edge-site';
import { buildStack } from '../main';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AuditTrail, parseSince, pathPattern, percentile, renderAudit, trailFiles } from '../ops/audit';
import { componentTemplate, containersOf, find, Manifest, REPO_ROOT, siteProblems, siteWith, synth } from './helpers';
import { section } from './readme';

function problemsWith(auditLog: unknown): string[] {
  return siteProblems((tree) => {
    if (auditLog === undefined) delete tree.edge.auditLog;
    else tree.edge.auditLog = auditLog;
  });
}

describe('edge.auditLog in the site file', () => {
  const refusals: [string, unknown, RegExp][] = [
    ['no auditLog', undefined, /^edge\.auditLog: /],
    ['retentionDays 0', { retentionDays: 0, maxSizeMiB: 256 }, /^edge\.auditLog\.retentionDays: expected at least 1 days$/],
    ['retentionDays 400', { retentionDays: 400, maxSizeMiB: 4096 }, /^edge\.auditLog\.retentionDays: expected at most 365 days$/],
    [
      'retentionDays 1.5',
      { retentionDays: 1.5, maxSizeMiB: 256 },
      /^edge\.auditLog\.retentionDays: expected a whole number of days, found the (number|string) /,
    ],
    [
      'retentionDays "30"',
      { retentionDays: '30', maxSizeMiB: 256 },
      /^edge\.auditLog\.retentionDays: expected a whole number of days, found the (number|string) /,
    ],
    ['maxSizeMiB 2', { retentionDays: 1, maxSizeMiB: 2 }, /^edge\.auditLog\.maxSizeMiB: expected at least 3 MiB$/],
    ['maxSizeMiB 100000', { retentionDays: 30, maxSizeMiB: 100000 }, /^edge\.auditLog\.maxSizeMiB: expected at most 65536 MiB$/],
    [
      'maxSizeMiB below a MiB a day',
      { retentionDays: 30, maxSizeMiB: 31 },
      /^edge\.auditLog\.maxSizeMiB: expected at least retentionDays \+ 2 = 32 MiB \(.*\): raise maxSizeMiB or lower retentionDays$/,
    ],
    ['a misspelt key', { retentionDays: 30, maxSizeMiB: 256, retention: 3 }, /^edge\.auditLog\.retention: unknown key/],
  ];
  for (const [title, value, expected] of refusals) {
    it(`refuses ${title}, in one line naming the field`, () => {
      const problems = problemsWith(value);
      assert.equal(problems.length, 1, problems.join('\n') || '(accepted)');
      assert.match(problems[0], expected);
      assert.doesNotMatch(problems[0], /\n/);
    });
  }

  it('accepts the smallest and the largest trail', () => {
    assert.deepEqual(problemsWith({ retentionDays: 1, maxSizeMiB: 3 }), []);
    assert.deepEqual(problemsWith({ retentionDays: 365, maxSizeMiB: 65536 }), []);
  });

  it("Caddy's rolling stays within maxSizeMiB for every accepted pair, a rolled file a day kept", () => {
    for (let retentionDays = 1; retentionDays <= 365; retentionDays += 1) {
      for (const maxSizeMiB of [retentionDays + 2, retentionDays + 3, 2 * retentionDays + 5, 256, 1000, 65536]) {
        if (maxSizeMiB < retentionDays + 2) continue;
        const { rollSizeMiB, rollKeep, keepDays } = auditLogRolling({ retentionDays, maxSizeMiB });
        const at = `${retentionDays} days, ${maxSizeMiB} MiB`;
        assert.ok(Number.isInteger(rollSizeMiB) && rollSizeMiB >= 1, at);
        assert.ok((rollKeep + 2) * rollSizeMiB <= maxSizeMiB, at);
        assert.ok(rollKeep >= retentionDays, `${at}: a daily file must outlive its days`);
        assert.equal(keepDays, retentionDays, at);
      }
    }
  });
});

describe("the audit trail's volume", () => {
  const manifests = synth();
  const site = siteWith();
  const caddyfile = find(manifests, 'ConfigMap', 'plane-caddy-files').data.Caddyfile as string;
  const template = componentTemplate(manifests, 'caddy').template;
  const container = containersOf(template)[0];
  const logFile = /\n\t\toutput file (\S+) \{/.exec(caddyfile)?.[1] ?? '';

  it("is a claim of maxSizeMiB on the site's storage class (it outlives pods and rollouts; an emptyDir would not)", () => {
    const claim = find(manifests, 'PersistentVolumeClaim', 'plane-caddy-audit-log');
    assert.equal(claim.metadata.namespace, 'plane-edge');
    assert.equal(claim.spec.resources.requests.storage, `${site.edge.auditLog.maxSizeMiB}Mi`);
    assert.equal(claim.spec.storageClassName, site.kubernetes.storageClass);
    assert.deepEqual(claim.spec.accessModes, ['ReadWriteOnce']);
    const volume = template.spec.volumes.find((v: Manifest) => v.persistentVolumeClaim?.claimName === 'plane-caddy-audit-log');
    assert.ok(volume, 'the pod mounts it');
  });

  it("is mounted writable where the Caddyfile writes the log, and only there besides Caddy's XDG folders", () => {
    assert.equal(logFile, '/var/log/caddy/access.log');
    const writable = (container.volumeMounts as Manifest[]).filter((m) => !m.readOnly).map((m) => m.mountPath);
    assert.deepEqual(writable.sort(), ['/config', '/data', '/var/log/caddy']);
    const mount = (container.volumeMounts as Manifest[]).find((m) => m.mountPath === '/var/log/caddy');
    assert.equal(
      template.spec.volumes.find((v: Manifest) => v.name === mount?.name)?.persistentVolumeClaim?.claimName,
      'plane-caddy-audit-log',
    );
    // The rest of the hardening is untouched.
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.runAsNonRoot, true);
    assert.deepEqual(container.securityContext.capabilities.drop, ['ALL']);
  });

  it("follows the site: another bound resizes the claim and Caddy's roll size", () => {
    const other = synth(
      siteWith((s) => {
        s.edge.auditLog = { retentionDays: 7, maxSizeMiB: 1024 };
      }),
    );
    assert.equal(find(other, 'PersistentVolumeClaim', 'plane-caddy-audit-log').spec.resources.requests.storage, '1024Mi');
    const text = find(other, 'ConfigMap', 'plane-caddy-files').data.Caddyfile as string;
    assert.match(text, /\n\t\t\troll_size 113MiB\n\t\t\troll_keep 7\n\t\t\troll_keep_for 7d\n/);
  });

  it('is where the stack model tells plane-k3s audit to read', () => {
    const model = buildStack(new App({ outdir: 'unused' }), site);
    const trail = model.edgeAuditLog;
    assert.equal(`${trail.directory}/${trail.fileName}`, logFile);
    assert.equal(trail.workload.component, 'caddy');
    assert.equal(trail.workload.namespace, 'plane-edge');
    assert.equal(trail.claimName, 'plane-caddy-audit-log');
    assert.equal(trail.workload.container, container.name);
  });
});

describe('--since', () => {
  const now = new Date('2026-05-10T12:00:00Z');

  it('takes a duration back from now, a day (midnight UTC) or a time with its zone', () => {
    const cases: [string, string][] = [
      ['90m', '2026-05-10T10:30:00.000Z'],
      ['24h', '2026-05-09T12:00:00.000Z'],
      ['7d', '2026-05-03T12:00:00.000Z'],
      ['2w', '2026-04-26T12:00:00.000Z'],
      ['2026-05-01', '2026-05-01T00:00:00.000Z'],
      ['2026-05-01T08:00:00Z', '2026-05-01T08:00:00.000Z'],
      ['2026-05-01T10:00+02:00', '2026-05-01T08:00:00.000Z'],
      ['2026-05-10T11:59:59.5Z', '2026-05-10T11:59:59.500Z'],
    ];
    for (const [value, expected] of cases) assert.equal(parseSince(value, now).toISOString(), expected, value);
  });

  it('refuses anything else in one line that says what it takes', () => {
    const cases: [string, RegExp][] = [
      [
        'yesterday',
        /^--since: expected a duration such as 90m, 24h, 7d or 2w, or a date such as 2026-05-01 or 2026-05-01T08:00:00Z, got "yesterday"$/,
      ],
      ['7', /expected a duration/],
      ['1y', /expected a duration/],
      ['-2d', /expected a duration/],
      ['0h', /^--since: 0h is no time at all/],
      ['2026-05-01T08:00', /^--since: 2026-05-01T08:00 has no time zone: add Z \(UTC\) or an offset such as \+02:00$/],
      ['2026-02-30', /^--since: 2026-02-30 is not a date of the calendar$/],
      ['2026-05-01T25:00Z', /is not a date of the calendar/],
      ['2026-06-01', /^--since: 2026-06-01 is in the future \(now is 2026-05-10T12:00:00\.000Z\)$/],
      ['x'.repeat(500), /got "x{40}…"$/],
    ];
    for (const [value, expected] of cases) {
      assert.throws(
        () => parseSince(value, now),
        (error: Error) => expected.test(error.message) && !error.message.includes('\n'),
        value.slice(0, 20),
      );
    }
  });
});

describe('the endpoints a call is counted under', () => {
  it("replaces ids with placeholders and drops the query, keeping Plane's route words", () => {
    const cases: [string, string][] = [
      [
        '/api/v1/workspaces/javisi/projects/3f2b9c1e-8d4a-4b6e-9f1a-2c3d4e5f6a7b/work-items/?per_page=100&cursor=100:1:0',
        '/api/v1/workspaces/javisi/projects/{id}/work-items/',
      ],
      [
        '/api/v1/workspaces/javisi/projects/3F2B9C1E-8D4A-4B6E-9F1A-2C3D4E5F6A7B/work-items/0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e/comments/',
        '/api/v1/workspaces/javisi/projects/{id}/work-items/{id}/comments/',
      ],
      ['/api/v1/workspaces/javisi/work-items/VPAI-12/', '/api/v1/workspaces/javisi/work-items/{key}/'],
      ['/api/v1/users/me/', '/api/v1/users/me/'],
      ['/api/v1/things/42/', '/api/v1/things/{n}/'],
      ['/uploads/a1b2c3d4e5f6a7b8c9d0/photo.png', '/uploads/{id}/photo.png'],
      ['/api/v1/plane_api_REDACTED/', '/api/v1/plane_api_REDACTED/'],
      ['/work-items/', '/work-items/'],
      ['/?next=/x', '/'],
      ['', '/'],
    ];
    for (const [uri, expected] of cases) assert.equal(pathPattern(uri), expected, uri);
  });
});

describe('the files of the trail in a listing of its folder', () => {
  const listing = [
    'access.log',
    'access-2026-05-08T00-00-00.000-time.log.gz',
    'access-2026-05-09T13-14-15.123-size.log.gz',
    'access-2026-05-09T13-14-15.123-size_1.log.gz',
    // Being compressed: whole, and its .gz growing.
    'access-2026-05-10T00-00-00.000-time.log',
    'access-2026-05-10T00-00-00.000-time.log.gz',
    'lost+found',
    'access.log.bak',
    'other-2026-05-10T00-00-00.000-time.log.gz',
    '',
  ].join('\n');

  it('reads the rolled files oldest first, then the current one; a file being compressed whole; nothing else', () => {
    assert.deepEqual(
      trailFiles(listing, 'access.log').map((f) => [f.name, f.gzip, f.rolledAt?.toISOString()]),
      [
        ['access-2026-05-08T00-00-00.000-time.log.gz', true, '2026-05-08T00:00:00.000Z'],
        ['access-2026-05-09T13-14-15.123-size.log.gz', true, '2026-05-09T13:14:15.123Z'],
        ['access-2026-05-09T13-14-15.123-size_1.log.gz', true, '2026-05-09T13:14:15.123Z'],
        ['access-2026-05-10T00-00-00.000-time.log', false, '2026-05-10T00:00:00.000Z'],
        ['access.log', false, undefined],
      ],
    );
  });

  it('with --since, leaves out the files rolled before it (all they hold is older)', () => {
    assert.deepEqual(
      trailFiles(listing, 'access.log', new Date('2026-05-09T14:00:00Z')).map((f) => f.name),
      ['access-2026-05-10T00-00-00.000-time.log', 'access.log'],
    );
  });

  it('finds nothing in a folder without the log (no log yet)', () => {
    assert.deepEqual(trailFiles('lost+found\n', 'access.log'), []);
  });
});

describe('percentiles (nearest rank)', () => {
  it('p50 and p95 of known series', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(hundred, 50), 50);
    assert.equal(percentile(hundred, 95), 95);
    assert.equal(percentile([7], 95), 7);
    assert.equal(percentile([], 50), 0);
    assert.equal(percentile([1, 2, 3, 1000], 95), 1000);
  });
});

describe('the docs name the trail as the stack makes it', () => {
  const runbook = section(fs.readFileSync(path.join(REPO_ROOT, 'docs', 'runbook.md'), 'utf8'), '## Audit trail').text;
  const configuration = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'configuration.md'), 'utf8');
  const site = siteWith();
  const trail = buildStack(new App({ outdir: 'unused' }), site).edgeAuditLog;

  it('its file, claim and namespace; the name of a rolled file the CLI reads', () => {
    for (const text of [runbook, configuration]) {
      assert.ok(text.includes(`${trail.directory}/${trail.fileName}`), trail.fileName);
      assert.ok(text.includes(trail.claimName), trail.claimName);
    }
    assert.ok(runbook.includes(`-n ${trail.workload.namespace} `));
    const rolled = /\b(access-\d{4}-\d{2}-\d{2}T[\d.-]+-time\.log\.gz)\b/.exec(runbook)?.[1] ?? '';
    assert.deepEqual(
      trailFiles(`${rolled}\n${trail.fileName}`, trail.fileName).map((f) => f.name),
      [rolled, trail.fileName],
    );
  });

  it("the site keys with Javisi's values, and the roll size they give", () => {
    const { retentionDays, maxSizeMiB } = site.edge.auditLog;
    assert.match(configuration, new RegExp(`\\| \`edge\\.auditLog\\.retentionDays\` \\| ${retentionDays} \\|`));
    assert.match(configuration, new RegExp(`\\| \`edge\\.auditLog\\.maxSizeMiB\` \\| ${maxSizeMiB} \\|`));
    const rollSize = auditLogRolling(site.edge.auditLog).rollSizeMiB;
    assert.match(configuration, new RegExp(`\\(${rollSize} for Javisi\\)`));
    assert.match(runbook, new RegExp(`\\(${rollSize} MiB for Javisi's ${maxSizeMiB} MiB over\\s+${retentionDays} days\\)`));
  });

  it("its sample output has the shape of the command's", () => {
    const sample = /```\n…\n([\s\S]*?)…\n```/.exec(runbook)?.[1] ?? '';
    assert.ok(sample.length > 0, 'the sample block');
    const trailOfOne = new AuditTrail(new Map([['1f0c9a2e', 'builder']]));
    for (const [status, method] of [
      [200, 'GET'],
      [429, 'GET'],
      [201, 'POST'],
      [200, 'PATCH'],
    ] as const) {
      trailOfOne.addEntry({
        time: Date.UTC(2026, 4, 1, 6),
        method,
        uri: `/api/v1/workspaces/javisi/projects/${'a'.repeat(8)}-aaaa-aaaa-aaaa-${'a'.repeat(12)}/work-items/`,
        status,
        durationMs: 41,
        keyHash: '1f0c9a2e',
      });
    }
    const shape = (line: string) =>
      line
        .replace(/\d+(\.\d+)?/g, '0')
        .replace(/(GET|POST|PATCH) 0(, )?/g, 'M 0$2')
        .trimEnd();
    const rendered = new Set(renderAudit(trailOfOne.summary()).split('\n').map(shape));
    for (const line of sample.split('\n').filter(Boolean)) assert.ok(rendered.has(shape(line)), `not a line the command prints: ${line}`);
  });
});
