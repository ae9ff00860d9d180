/**
 * docs/runbook.md (and the README's plane-k3s lines) against what exists: every `plane-k3s` command
 * names a real command with real options, every file of dist/, object, Secret and label it names is in
 * the synthesized output, every procedure ends with `verify`, and the lessons-learned template has the
 * seed's headings. What the commands do is tested on a real API server (test/cluster/ops.test.ts).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { program } from '../ops/cli';
import { Stack } from '../ops/stack';
import { REPO_ROOT, siteWith, synth } from './helpers';
import { DOCS, readDoc } from './readme';

const RUNBOOK = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'runbook.md'), 'utf8');
const README = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
/** Every operator's and developer's document: the CLI lines and dist/ files they name are checked too. */
const ALL_DOCS = DOCS.map(readDoc).join('\n');
const stack = Stack.load();
/** The runbook without its fenced blocks' headings (the template's), for finding its own sections. */
const PROSE = RUNBOOK.replace(/```markdown\n[\s\S]*?```/g, '');

/** `plane-k3s …` command lines in a document, up to the end of the code span, line or pipe. */
function cliLines(markdown: string): string[] {
  return [...markdown.matchAll(/plane-k3s((?: +[a-z-][^\s`|;)]*)(?: +[^\s`|;)]+)*)/g)].map((m) => m[1].trim());
}

/** Walks the commander tree: each word a subcommand or an argument, each --flag an option of the chain. */
function checkCommand(line: string): string | undefined {
  let command: Command = program();
  const options = new Set(command.options.map((o) => o.long));
  const words = line.split(/\s+/);
  let args = 0;
  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    if (word.startsWith('--')) {
      const option = [...command.options, ...program().options].find((o) => o.long === word);
      if (!option && !options.has(word)) return `${line}: ${word} is not an option of ${command.name()}`;
      if (option?.required || option?.optional) i++;
      continue;
    }
    const sub = command.commands.find((c) => c.name() === word);
    if (sub && args === 0) {
      command = sub;
      for (const o of sub.options) options.add(o.long);
      continue;
    }
    if (command.commands.length > 0 && args === 0) return `${line}: ${word} is not a command of ${command.name()}`;
    args++;
    if (args > command.registeredArguments.length) return `${line}: ${word} is one argument too many for ${command.name()}`;
  }
  if (command.commands.length > 0) return `${line}: ${command.name()} needs a command`;
  const required = command.registeredArguments.filter((a) => a.required).length;
  if (args < required) return `${line}: ${command.name()} needs ${required} argument(s)`;
  return undefined;
}

describe('the runbook', () => {
  it('has every procedure the operator needs', () => {
    const headings = [...PROSE.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
    assert.deepEqual(headings, [
      'Provisioning agents',
      'Rotating a Secret',
      'Audit trail',
      'Keeping the Secrets safe',
      'Renewing the certificate',
      'Upgrade',
      'Rollback, or restore',
      'Backups and the restore drill',
      'Moving an install to the retaining StorageClass',
      'Removing Plane: keep the data, or delete it',
      'Symptoms',
      'Lessons learned: `docs/REX-PLANE-DEPLOYMENT.md`',
    ]);
  });

  it('ends every procedure with verify', () => {
    for (const part of PROSE.split(/^## /m).slice(1)) {
      const title = part.split('\n')[0];
      const last = cliLines(part).at(-1) ?? '';
      assert.match(last, /^verify\b/, `"${title}" ends with plane-k3s ${last}`);
    }
  });

  it('names only real plane-k3s commands and options, here, in the README and in the other docs', () => {
    const lines = cliLines(ALL_DOCS);
    assert.ok(cliLines(README).length >= 8, "the README's own");
    assert.ok(lines.length > 20, `${lines.length} command lines`);
    const problems = lines.map((line) => checkCommand(line.replace(/<[^>]+>/g, 'X').replace(/,$/, ''))).filter(Boolean);
    assert.deepEqual(problems, []);
    assert.match(checkCommand('verify --from-vpnn') ?? '', /--from-vpnn is not an option of verify/, 'the check itself catches a typo');
    assert.match(checkCommand('secrets rotat plane-app') ?? '', /rotat is not a command of secrets/);
  });

  it('names files of dist/, objects, Secrets and labels that the synth makes', () => {
    const text = ALL_DOCS;
    for (const [, file] of text.matchAll(/dist\/(\d{4}-[a-z-]+\.k8s\.yaml)/g)) {
      assert.ok(fs.existsSync(path.join(REPO_ROOT, 'dist', file)), `dist/${file}`);
    }
    // The site's objects, and those a documented option adds (the token rotation, with a token lifetime).
    const withLifetime = siteWith((s) => {
      s.users.tokens = { overlapHours: 24, lifetimeDays: 90, rotation: { schedule: '17 3 * * *', daysBeforeExpiry: 21 } };
    });
    const manifests = [...synth(stack.site), ...synth(withLifetime)];
    const objects = new Set(manifests.map((m) => `${m.kind.toLowerCase()}/${m.metadata.name}`));
    // k3s' own CoreDNS is restarted once after the first deploy (README): the one object not of dist/.
    const k3s = new Set(['deployment/coredns']);
    for (const [, kind, name] of `${RUNBOOK}\n${README}`.matchAll(/\b(deployment|statefulset|cronjob)\/([a-z0-9-]+)/g)) {
      assert.ok(objects.has(`${kind}/${name}`) || k3s.has(`${kind}/${name}`), `${kind}/${name} is not in the manifests`);
    }
    const secrets = new Set([...stack.secretNames, 'plane-edge-tls']);
    for (const [, name] of `${RUNBOOK}\n${README}`.matchAll(
      /\b(plane-(?:agent-[a-z0-9-]+|admin|app|postgres|redis|rabbitmq|object-store|edge-tls|backup-key))\b/g,
    )) {
      if (name.startsWith('plane-agent-') && name === 'plane-agent-') continue;
      assert.ok(
        secrets.has(name) || objects.has(`statefulset/${name}`) || objects.has(`deployment/${name}`),
        `${name} is neither a Secret nor a workload`,
      );
    }
    const labels = new Set(manifests.map((m) => m.metadata.labels?.['app.kubernetes.io/name']).filter(Boolean));
    // docs/configuration.md's postgres-bootstrap is only made for a shared PostgreSQL: test/readme.test.ts checks it.
    for (const [, value] of `${RUNBOOK}\n${README}`.matchAll(/app\.kubernetes\.io\/name=([a-z-]+)/g))
      assert.ok(labels.has(value), `no object is labelled ${value}`);
    assert.ok(RUNBOOK.includes(stack.appHost), 'the app host of the site');
    assert.match(RUNBOOK, /SUPPORTED_PLANE_VERSIONS/);
    assert.match(
      fs.readFileSync(path.join(REPO_ROOT, 'lib', 'plane', 'provision', 'plane_k3s_provision.py'), 'utf8'),
      /^SUPPORTED_PLANE_VERSIONS = /m,
    );
  });

  it("gives the seed's lessons-learned template (REX-PLANE-DEPLOYMENT) with its headings", () => {
    const template = /```markdown\n([\s\S]*?)```/.exec(RUNBOOK)?.[1] ?? '';
    assert.match(template, /^# REX — Plane deployment/m);
    for (const heading of [
      'Bugs critiques rencontrés',
      'Solutions appliquées',
      'DoD updated',
      'Checklist pré-déploiement',
      'Commandes de diagnostic',
    ]) {
      assert.match(template, new RegExp(`^## ${heading}$`, 'm'), heading);
    }
  });

  it("translates each of the seed's checks into its kubectl form", () => {
    const table = RUNBOOK.split('## Symptoms')[1].split('\n## ')[0];
    for (const seedCheck of ['docker ps', 'healthy', 'docker exec', 'logs plane-api --tail=50', 'psql -U plane', 'curl -I', 'nslookup']) {
      assert.ok(table.includes(seedCheck), seedCheck);
    }
  });
});
