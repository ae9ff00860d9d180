/**
 * The README's and docs' own steps, checked against the repository and the synthesized manifests: every
 * path they name exists, the first deploy's block creates exactly the Secrets (names and keys) the pods
 * read, the sample outputs are what the synth prints, every cross-reference names a real section, and
 * no procedure is written twice.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { SUPPORTED_PLANE_TAGS } from '../lib/config/plane-releases';
import { exposureOf, loadAdvisories, severity } from '../lib/plane/advisories';
import { synthesize } from '../lib/synth';
import { buildStack, sideFiles } from '../main';
import { containersOf, defaultSiteYaml, Manifest, podTemplates, REPO_ROOT, siteWith, synth, useExternal } from './helpers';
import {
  appliedFiles,
  codeBlocks,
  deployBlock,
  DOC_COMMANDS,
  DOCS,
  FIRST_DEPLOY,
  kubectlCommands,
  pathExists,
  readDoc,
  readReadme,
  repoPathMentions,
  secretCommands,
  section,
  shellCommands,
} from './readme';

const readme = readReadme();
const block = deployBlock(readme);
const configuration = readDoc('docs/configuration.md');
const runbook = readDoc('docs/runbook.md');

// dist/ and dns/ are what a synth writes: the README must name files of a fresh synth, not leftovers.
const fresh = fs.mkdtempSync(path.join(os.tmpdir(), 'plane-readme-'));
synthesize(buildStack, { site: siteWith(), outdir: path.join(fresh, 'dist'), sideFiles });
const SYNTH_OUTPUT = ['dist', 'dns'];
const exists = (relative: string) => pathExists(SYNTH_OUTPUT.includes(relative.split('/')[0]) ? fresh : REPO_ROOT, relative);

/** "namespace/name" → sorted keys. */
type SecretKeys = Record<string, string[]>;

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The Secrets and keys the pods read: env secretKeyRef, secret and projected volumes (their items, or
 * else the files under the mount path that the pod's command, env or mounted ConfigMaps name, such as
 * the Caddyfile's tls lines), imagePullSecrets.
 */
function referencedSecrets(manifests: Manifest[]): SecretKeys {
  const refs = new Map<string, Set<string>>();
  const use = (namespace: string, name: string, keys: string[]) => {
    const id = `${namespace}/${name}`;
    refs.set(id, new Set([...(refs.get(id) ?? []), ...keys]));
  };
  for (const {
    name: workload,
    workload: {
      metadata: { namespace },
    },
    template,
  } of podTemplates(manifests)) {
    const containers = containersOf(template);
    for (const container of containers) {
      for (const variable of container.env ?? []) {
        const ref = variable.valueFrom?.secretKeyRef;
        if (ref) use(namespace, ref.name, [ref.key]);
      }
      // envFrom takes every key of the Secret: which ones the pod needs cannot be read from the manifest.
      for (const source of container.envFrom ?? [])
        assert.equal(source.secretRef, undefined, `${workload}: envFrom secretRef hides its keys`);
    }
    for (const secret of template.spec.imagePullSecrets ?? []) use(namespace, secret.name, ['.dockerconfigjson']);

    const configMapTexts = (template.spec.volumes ?? [])
      .filter((v: Manifest) => v.configMap)
      .flatMap((v: Manifest) =>
        Object.values(
          manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.namespace === namespace && m.metadata.name === v.configMap.name)
            ?.data ?? {},
        ),
      );
    const podTexts = [
      ...containers.flatMap((c) => [...(c.command ?? []), ...(c.args ?? []), ...(c.env ?? []).map((e: Manifest) => e.value ?? '')]),
      ...configMapTexts,
    ].join('\n');
    for (const volume of template.spec.volumes ?? []) {
      const sources = [
        ...(volume.secret ? [{ name: volume.secret.secretName, items: volume.secret.items }] : []),
        ...(volume.projected?.sources ?? []).filter((s: Manifest) => s.secret).map((s: Manifest) => s.secret),
      ];
      for (const source of sources) {
        const mountPaths = containers.flatMap((c) =>
          (c.volumeMounts ?? []).filter((m: Manifest) => m.name === volume.name).map((m: Manifest) => m.mountPath),
        );
        const keys = source.items
          ? source.items.map((i: Manifest) => i.key)
          : mountPaths.flatMap((dir: string) => [...podTexts.matchAll(new RegExp(`${escape(dir)}/([\\w.-]+)`, 'g'))].map((m) => m[1]));
        use(namespace, source.name, keys);
      }
    }
  }
  return Object.fromEntries([...refs].sort().map(([id, keys]) => [id, [...keys].sort()]));
}

function createdSecrets(script: string): SecretKeys {
  const created: SecretKeys = {};
  for (const secret of secretCommands(script)) {
    const id = `${secret.namespace}/${secret.name}`;
    assert.ok(!created[id], `${id} is created twice: the second create fails`);
    created[id] = secret.keys;
  }
  return Object.fromEntries(Object.entries(created).sort());
}

after(() => fs.rmSync(fresh, { recursive: true, force: true }));

describe('README and docs paths', () => {
  // The runbook names files the operator makes (docs/REX-PLANE-DEPLOYMENT.md): its paths are test/runbook.test.ts's.
  const mentions = DOCS.filter((doc) => doc !== 'docs/runbook.md').flatMap((doc) =>
    repoPathMentions(readDoc(doc)).map((m) => ({ ...m, doc })),
  );

  it('finds the paths the README names (so the next check is not vacuous)', () => {
    const named = new Set(mentions.map((m) => m.path));
    for (const expected of [
      'site/javisi.yaml',
      'lib/hardening.ts',
      'dist/0001-edge-namespace.k8s.yaml',
      'dns/headscale-extra-records.json',
      'lib/data/*.ts',
      '.ci/run',
      'main.ts',
    ]) {
      assert.ok(named.has(expected), `${expected} not found among ${[...named].join(', ')}`);
    }
  });

  it('names only paths that exist in the repository or in a fresh synth', () => {
    const missing = mentions.filter((m) => !exists(m.path)).map((m) => `${m.doc}:${m.line}: ${m.path}`);
    assert.deepEqual(missing, []);
  });

  it('reads paths from inline code (even wrapped) and code blocks, not paths outside the repository, and flags a missing one', () => {
    const sample = [
      'Run `kubectl apply -f dist/0001-edge-namespace.k8s.yaml`, see `lib/data/*.ts` and `tools/cluster/`, then `node',
      'scripts/build.mjs` (not `build/synth.js`) with `/var/lib/postgresql`, `../shared/x.md`, `conf.d/20-plane.conf` and `${CACHE:-~/.cache}/caddy/<v>`.',
      '```sh',
      'kubectl apply -f dist/0006-edge-namespace.k8s.yaml # wrong file',
      'SITE_CONFIG=site/javisi.yaml npm run synth',
      '```',
      'and `main.ts`, `lib/nothing-here.ts`.',
    ].join('\n');
    const found = repoPathMentions(sample);
    assert.deepEqual(found.map((m) => `${m.line}:${m.path}`).sort(), [
      '1:dist/0001-edge-namespace.k8s.yaml',
      '1:lib/data/*.ts',
      '1:scripts/build.mjs',
      '1:tools/cluster/',
      '4:dist/0006-edge-namespace.k8s.yaml',
      '5:site/javisi.yaml',
      '7:lib/nothing-here.ts',
      '7:main.ts',
    ]);
    assert.deepEqual(
      found
        .filter((m) => !exists(m.path))
        .map((m) => m.path)
        .sort(),
      ['dist/0006-edge-namespace.k8s.yaml', 'lib/nothing-here.ts'],
    );
    assert.equal(exists('lib/data/*.nothing'), false);
  });
});

/** "namespace/name" → sorted keys, of the Secrets the bootstrap Job makes (its spec, as synthesized). */
function bootstrapSecrets(manifests: Manifest[]): SecretKeys {
  const configMap = manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name === 'plane-secrets-files') as Manifest;
  const spec = JSON.parse(configMap.data['secrets.json']);
  return Object.fromEntries(spec.secrets.map((s: Manifest) => [`${spec.namespace}/${s.name}`, Object.keys(s.keys).sort()]));
}

/** Both lists of Secrets, which must not overlap. */
function allMade(readmeBlock: string, manifests: Manifest[]): SecretKeys {
  const [byReadme, byJob] = [createdSecrets(readmeBlock), bootstrapSecrets(manifests)];
  const both = Object.keys(byReadme).filter((id) => id in byJob);
  assert.deepEqual(both, [], 'made by the README and by the bootstrap Job');
  return Object.fromEntries(Object.entries({ ...byReadme, ...byJob }).sort(([a], [b]) => a.localeCompare(b)));
}

describe('README secrets', () => {
  it("the README's block and the bootstrap Job make exactly the Secrets and keys the synthesized pods read, no more, no fewer", () => {
    const manifests = synth();
    const referenced = referencedSecrets(manifests);
    // The stack reads application, data and TLS Secrets in both namespaces: an empty walk proves nothing.
    assert.ok(Object.keys(referenced).length >= 6 && referenced['plane-edge/plane-edge-tls']?.length === 2, JSON.stringify(referenced));
    const made = allMade(block.text, manifests);
    assert.deepEqual(Object.keys(made), Object.keys(referenced), 'the same Secrets');
    for (const [id, keys] of Object.entries(referenced)) {
      // The admin's and agents' connections also hold their URL and workspace, for the agents' own pods.
      const forAgents = /^plane\/plane-(admin|agent-.+)$/.test(id) ? ['PLANE_BASE_URL', 'PLANE_WORKSPACE_SLUG'] : [];
      assert.deepEqual(made[id], [...keys, ...forAgents].sort(), id);
    }
    assert.deepEqual(Object.keys(createdSecrets(block.text)), ['plane-edge/plane-edge-tls'], 'the operator makes the certificate only');
  });

  it('notices a renamed Secret in the README block', () => {
    const manifests = synth();
    const renamedSecret = block.text.replace('plane-edge-tls', 'plane-tls');
    assert.notEqual(renamedSecret, block.text);
    assert.notDeepEqual(Object.keys(allMade(renamedSecret, manifests)), Object.keys(referencedSecrets(manifests)));
  });

  it('notices a Secret key renamed in the manifests', () => {
    const manifests = synth().map((m) => JSON.parse(JSON.stringify(m).replaceAll('"key":"rpc-secret"', '"key":"rpc-key"')));
    assert.notDeepEqual(
      allMade(block.text, manifests)['plane/plane-object-store'],
      referencedSecrets(manifests)['plane/plane-object-store'],
    );
  });

  it('lists, in its table of Secrets, exactly the Secrets and keys the bootstrap Job makes', () => {
    const table = section(configuration, '## Secrets')
      .text.split('\n')
      .filter((l) => l.startsWith('| `plane-'));
    assert.ok(table.length >= 8, 'docs/configuration.md "Secrets" lists the Secrets');
    const listed = Object.fromEntries(
      table.map((row) => {
        const [name, keys] = row
          .split('|')
          .slice(1, 3)
          .map((cell) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]));
        return [`plane/${name[0]}`, keys.sort()];
      }),
    );
    const made = bootstrapSecrets(synth());
    // One row stands for every agent's Secret.
    const collapsed = Object.fromEntries(
      Object.entries(made).map(([id, keys]) => [id.replace(/^plane\/plane-agent-.*/, 'plane/plane-agent-<id>'), keys]),
    );
    assert.deepEqual(listed, collapsed);
  });

  it('parses kubectl create secret as the shell would split it', () => {
    const script = [
      'kubectl apply -f dist/0000-namespace.k8s.yaml  # the namespace first',
      'kubectl -n a create secret generic one \\',
      '  --from-literal=k1="$(openssl rand -hex 32)" \\',
      '  --from-literal=k2="x y"',
      'kubectl create secret generic two --namespace=b --from-file=k3=some/file --from-file=dir/k4.pem && kubectl -n c create secret tls three --cert=c.crt --key=c.key',
    ].join('\n');
    assert.deepEqual(
      secretCommands(script).map(({ namespace, name, type, keys, files, line }) => ({ namespace, name, type, keys, files, line })),
      [
        { namespace: 'a', name: 'one', type: 'generic', keys: ['k1', 'k2'], files: [], line: 2 },
        { namespace: 'b', name: 'two', type: 'generic', keys: ['k3', 'k4.pem'], files: ['some/file', 'dir/k4.pem'], line: 5 },
        { namespace: 'c', name: 'three', type: 'tls', keys: ['tls.crt', 'tls.key'], files: ['c.crt', 'c.key'], line: 5 },
      ],
    );
    assert.deepEqual(
      shellCommands('a "b $(c "d e")" \'f g\' # h\ni').map((c) => c.words),
      [['a', 'b $(c "d e")', 'f g'], ['i']],
    );
    assert.throws(() => secretCommands('kubectl create secret generic x --from-literal=a=b'), /names no namespace/);
    assert.throws(() => secretCommands('kubectl -n a create secret generic x --from-env-file=e'), /hides the keys/);
  });

  it('creates Secrets in that one block of the first deploy only', () => {
    const part = section(readme, FIRST_DEPLOY);
    const creating = codeBlocks(part.text, part.line).filter((b) => secretCommands(b.text).length > 0);
    assert.deepEqual(
      creating.map((b) => b.line),
      [block.line],
    );
  });

  it("applies each Secret's namespace before creating it, and ends with `kubectl apply -f dist`", () => {
    const applied = appliedFiles(block.text, block.line);
    const namespacesOf = (file: string, line: number) => {
      assert.ok(exists(file), `README.md:${line}: applies ${file}, which a synth does not write`);
      assert.ok(!file.startsWith('/'), file);
      const files = fs.statSync(path.join(fresh, file)).isDirectory()
        ? fs.readdirSync(path.join(fresh, file)).map((f) => path.join(file, f))
        : [file];
      return files
        .flatMap((f) => parseAllDocuments(fs.readFileSync(path.join(fresh, f), 'utf8')).map((d) => d.toJS()))
        .filter((m) => m?.kind === 'Namespace')
        .map((m) => m.metadata.name);
    };
    for (const secret of secretCommands(block.text, block.line)) {
      const before = applied.filter((a) => a.line < secret.line).flatMap((a) => namespacesOf(a.path, a.line));
      assert.ok(
        before.includes(secret.namespace),
        `README.md:${secret.line}: namespace ${secret.namespace} of ${secret.name} is not applied before`,
      );
    }
    const commands = shellCommands(block.text);
    assert.deepEqual(commands.at(-1)?.words, ['kubectl', 'apply', '-f', 'dist']);
  });

  it("names one keep-data command (the runbook, the README's day-2 table, the guard's refusal) whose selector leaves exactly the objects that hold data", () => {
    const command = DOC_COMMANDS.keepData();
    assert.ok(readme.includes(`| remove the workloads, keep the data | \`${command}\``), 'the table names another command');
    assert.equal(runbook.split(`\n${command}\n`).length, 3, 'the runbook runs it to keep the data, and before deleting it');
    const manifests = synth();
    const guard = manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name === 'plane-keep-data-files') as Manifest;
    assert.ok(guard.data['keep-data.json'].includes(command), 'the refusal names another command');

    const [kubectl] = kubectlCommands(command);
    assert.deepEqual(kubectl.positional, ['delete']);
    assert.deepEqual(kubectl.flags.get('-f'), ['dist']);
    const selector = kubectl.flags.get('-l')?.[0] ?? '';
    // kubectl's "!key": the objects without the label are deleted; those with it are kept.
    const key = /^!([\w./-]+)$/.exec(selector)?.[1];
    assert.ok(key, `selector ${selector} is not "!<label>"`);
    const kept = manifests
      .filter((m) => m.metadata.labels?.[key] !== undefined)
      .map((m) => `${m.kind}/${m.metadata.name}`)
      .sort();
    assert.deepEqual(kept, ['Namespace/plane', 'PersistentVolumeClaim/plane-backup', 'StorageClass/plane-retain']);
    const deleted = manifests.filter((m) => m.metadata.labels?.[key] === undefined).map((m) => `${m.kind}/${m.metadata.name}`);
    for (const workload of [
      'Deployment/plane-api',
      'StatefulSet/plane-postgres',
      'CronJob/plane-backup',
      'Namespace/plane-edge',
      'ClusterRole/plane-keep-data',
    ]) {
      assert.ok(deleted.includes(workload), workload);
    }
  });
});

// ---- sample outputs: each is what the synth really prints ------------------------------------------

const SYNTH = path.join(REPO_ROOT, 'scripts', 'synth.mjs');

/** `npm run synth` as a process, in `cwd` (the paths it prints are relative to it). */
function synthProcess(cwd: string, env: Record<string, string>): { code: number; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [SYNTH], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, CDK8S_CHECK_UPGRADE: 'false', ...env },
  });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** The one untagged ``` block of a section: a sample output. */
function sampleOutput(markdown: string, heading: string, needle: string): string {
  const part = section(markdown, heading);
  const found = codeBlocks(part.text, part.line).filter((b) => b.lang === '' && b.text.includes(needle));
  assert.equal(found.length, 1, `"${heading}" must show one sample output with ${needle}`);
  // Indented inside a numbered step: the indentation is the list's, not the output's.
  const indent = Math.min(
    ...found[0].text
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => /^ */.exec(l)![0].length),
  );
  return found[0].text
    .split('\n')
    .map((l) => l.slice(indent))
    .join('\n');
}

describe('sample outputs', () => {
  it("the README's synth summary (first deploy, step 1) is what `npm run synth` prints for the Javisi site", () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'plane-readme-synth-'));
    try {
      const run = synthProcess(work, { CDK8S_OUTDIR: 'dist', SITE_CONFIG: '' });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(sampleOutput(readme, FIRST_DEPLOY, 'synth: dist/'), run.stdout.trimEnd());
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  it("docs/configuration.md's refusal is what the synth prints for the file it describes", () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'plane-readme-refusal-'));
    try {
      const tree = defaultSiteYaml() as Manifest;
      tree.components.api.replica = 2;
      tree.components.api.resources.limits.cpu = 1;
      tree.kubernetes.namespace = 'kube-system';
      tree.kubernetes.podCidr = '10.42.0.1/16';
      tree.network.vpnCidrs[0] = '0.0.0.0/0';
      fs.writeFileSync(path.join(work, 'my-site.yaml'), stringify(tree));
      const run = synthProcess(work, { CDK8S_OUTDIR: 'dist', SITE_CONFIG: 'my-site.yaml' });
      assert.notEqual(run.code, 0);
      const sample = sampleOutput(configuration, '## What the synth refuses', 'synth failed:');
      assert.equal(sample, run.stderr.trimEnd());
      // The prose says how the file was made: each change is named there.
      const prose = section(configuration, '## What the synth refuses').text;
      for (const change of [
        '`replica: 2`',
        '`limits.cpu: 1`',
        '`kubernetes.namespace: kube-system`',
        '`kubernetes.podCidr: 10.42.0.1/16`',
        '`0.0.0.0/0`',
        '`SITE_CONFIG=my-site.yaml npm run synth`',
      ]) {
        assert.ok(prose.includes(change), change);
      }
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});

// ---- the first deploy: numbered steps, in the order that works --------------------------------------

describe("the README's first deploy", () => {
  const steps = section(readme, FIRST_DEPLOY)
    .text.split('\n')
    .filter((l) => /^\d+\. /.test(l));

  it('is numbered 1, 2, 3… in one list of the steps the issue names, in that order', () => {
    assert.deepEqual(
      steps.map((l) => Number(/^(\d+)\./.exec(l)![1])),
      steps.map((_, i) => i + 1),
    );
    const titles = steps.map((l) => /^\d+\. \*\*([^*]+)\.\*\*/.exec(l)?.[1]);
    assert.deepEqual(titles, [
      'VPN address',
      'TLS certificate',
      'Headscale record',
      'k3s secrets encryption',
      'Apply',
      'Wait',
      'Claim the admin',
      'First backup',
      'Verify',
    ]);
  });

  it('runs its commands in an order that works: apply, wait, CoreDNS, the admin, a backup and a drill, then the first verify', () => {
    const text = section(readme, FIRST_DEPLOY).text;
    const order = [
      'edge.vpnAddress',
      'npm run synth',
      'work.ewutelo.cloud.crt',
      'dns.extra_records_path',
      'secrets-encryption: true',
      'kubectl -n plane-edge create secret tls',
      'kubectl apply -f dist\n',
      'app.kubernetes.io/name=migrator',
      'app.kubernetes.io/name=provisioning',
      'rollout restart deployment/coredns',
      'secret plane-admin',
      'npx plane-k3s backup now',
      'npx plane-k3s backup drill',
      'npx plane-k3s verify\n',
    ];
    const at = order.map((needle) => text.indexOf(needle));
    assert.deepEqual(
      order.filter((_, i) => at[i] < 0),
      [],
      'missing',
    );
    for (let i = 1; i < order.length; i++) assert.ok(at[i - 1] < at[i], `${order[i - 1]} comes before ${order[i]}`);
    // verify fails with "no successful backup yet" before the first backup: none may come earlier.
    assert.ok(text.indexOf('plane-k3s verify') > text.indexOf('plane-k3s backup drill'));
  });

  it('is the only first deploy: the runbook points to it', () => {
    assert.doesNotMatch(runbook, /^## First deploy/m);
    assert.match(runbook, /README "First deploy"/);
  });
});

// ---- cross-references and repetitions -------------------------------------------------------------

/** The sections of a document: its headings, and the bold lead-ins of its paragraphs (`**Resources.**`). */
function sectionNames(markdown: string): Set<string> {
  const prose = markdown.replace(/^\s*```[^]*?^\s*```\s*$/gm, '');
  return new Set([
    ...[...prose.matchAll(/^#+ (.+)$/gm)].map((m) => m[1].trim()),
    ...[...prose.matchAll(/^\*\*([^*]+?)\.?\*\*/gm)].map((m) => m[1].trim()),
  ]);
}

describe('README and docs references', () => {
  const names = Object.fromEntries(DOCS.map((doc) => [doc, sectionNames(readDoc(doc))]));
  const target = (word: string, doc: string): string => {
    if (word === 'README') return 'README.md';
    if (word === 'runbook') return 'docs/runbook.md';
    if (word === 'the same page') return doc;
    return word;
  };

  it('every `<document> "<section>"` names a section that exists', () => {
    const problems: string[] = [];
    let count = 0;
    for (const doc of DOCS) {
      const text = readDoc(doc).replace(/\n\s*/g, ' ');
      for (const m of text.matchAll(/(README|runbook|docs\/[a-z]+\.md)`?,? "([^"]+)"/g)) {
        const file = target(m[1], doc);
        count++;
        if (!names[file]?.has(m[2])) problems.push(`${doc}: ${m[1]} "${m[2]}"`);
      }
    }
    assert.ok(count > 20, `${count} references`);
    assert.deepEqual(problems, []);
  });

  it('every `<document> "<section>"` the code names (messages the CLI prints, comments, scripts) exists', () => {
    const sources = ['ops', 'lib', 'charts']
      .flatMap((dir) => fs.readdirSync(path.join(REPO_ROOT, dir), { recursive: true, encoding: 'utf8' }).map((f) => path.join(dir, f)))
      .concat('main.ts')
      .filter((f) => /\.(ts|py|sh)$/.test(f));
    const problems: string[] = [];
    let count = 0;
    for (const file of sources) {
      const text = fs.readFileSync(path.join(REPO_ROOT, file), 'utf8').replace(/\\"/g, '"');
      for (const m of text.matchAll(/(README|docs\/[a-z]+\.md),? "([^"]+)"/g)) {
        count++;
        if (!names[target(m[1], file)]?.has(m[2])) problems.push(`${file}: ${m[1]} "${m[2]}"`);
      }
    }
    assert.ok(count > 10, `${count} references`);
    assert.deepEqual(problems, []);
  });

  it("every row of the README's day-2 table points to a runbook section", () => {
    const rows = section(readme, '## Day 2')
      .text.split('\n')
      .filter((l) => l.startsWith('| ') && !l.startsWith('| you want'));
    assert.ok(rows.length >= 10, `${rows.length} rows`);
    for (const row of rows) {
      const cell = row.split(' | ').at(-1)?.replace(/ \|$/, '') ?? '';
      for (const [, name] of cell.matchAll(/"([^"]+)"/g))
        assert.ok(names['docs/runbook.md'].has(name), `${row}: no runbook section "${name}"`);
      assert.match(cell, /"/, row);
    }
  });

  it('gives each procedure once: no command block of several lines is in two documents', () => {
    const seen = new Map<string, string>();
    const repeated: string[] = [];
    for (const doc of DOCS) {
      for (const b of codeBlocks(readDoc(doc))) {
        const text = b.text
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean)
          .join('\n');
        if (b.lang === 'markdown' || text.split('\n').length < 2) continue;
        const first = seen.get(text);
        if (first && first !== doc) repeated.push(`${doc}:${b.line} repeats ${first}`);
        seen.set(text, first ?? doc);
      }
    }
    assert.deepEqual(repeated, []);
  });

  it('finds every command the heavier suites run as written (DOC_COMMANDS), so a moved section fails here first', () => {
    for (const [name, extract] of Object.entries(DOC_COMMANDS)) {
      const found = extract();
      const text = typeof found === 'string' ? found : found.text;
      assert.ok(text.trim().length > 0, name);
    }
    assert.match(DOC_COMMANDS.backupNow(), /--from=cronjob\/plane-backup$/);
    assert.deepEqual(
      shellCommands(DOC_COMMANDS.connectionFile().text).map((c) => c.words[0]),
      ['umask', 'kubectl'],
    );
    const jobLabel = (manifests: Manifest[], command: string) => {
      const selector = /-l (\S+)/.exec(command)?.[1] ?? '';
      const [key, value] = selector.split('=');
      return manifests.filter((m) => m.kind === 'Job' && m.metadata.labels?.[key] === value).map((m) => m.metadata.name);
    };
    assert.equal(jobLabel(synth(), DOC_COMMANDS.bootstrapRerun()).length, 1, 'the bootstrap re-run selects the bootstrap Job');
    const shared = synth(
      siteWith((s) => {
        useExternal(s, 'postgres', { address: '137.74.114.167', port: 5432, adminSecret: 'shared-postgres-admin' });
      }),
    );
    assert.equal(
      jobLabel(shared, DOC_COMMANDS.postgresBootstrapRerun()).length,
      1,
      'the shared PostgreSQL bootstrap re-run selects its Job',
    );
  });
});

// ---- rotating a Secret by hand keeps its labels -----------------------------------------------------

describe("the runbook's hand rotation", () => {
  const secretSpec = (name: string) => {
    const configMap = synth().find((m) => m.kind === 'ConfigMap' && m.metadata.name === 'plane-secrets-files') as Manifest;
    return (JSON.parse(configMap.data['secrets.json']).secrets as Manifest[]).find((s) => s.name === name) as Manifest;
  };
  const rotation = DOC_COMMANDS.handRotation();
  const [create, label, replace] = kubectlCommands(rotation.text);

  it('replaces the Secret with the labels the bootstrap gives it, managed-by included (the export selects by it)', () => {
    assert.deepEqual(create.positional.slice(0, 4), ['create', 'secret', 'generic', 'plane-postgres']);
    assert.deepEqual(create.flags.get('--dry-run'), ['client']);
    assert.deepEqual(label.positional[0], 'label');
    assert.deepEqual(label.flags.get('--local'), ['true']);
    const labels = Object.fromEntries(label.positional.slice(1).map((l) => l.split('=')));
    assert.deepEqual(labels, secretSpec('plane-postgres').labels);
    const exported = /-l (\S+)/.exec(DOC_COMMANDS.secretsExport().text)?.[1] ?? '';
    assert.equal(labels[exported.split('=')[0]], exported.split('=')[1], "the Secrets' export selects the replaced Secret");
    assert.deepEqual(replace.positional, ['replace']);
    assert.ok(!rotation.text.includes('kubectl apply'), 'never apply: the value would land in an annotation');
  });

  it('keeps the labels when kubectl runs the pipe (offline, up to the replace)', (t) => {
    const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
    if (kubectl.status !== 0) {
      t.skip('no kubectl on PATH (the cluster suite brings its own)');
      return;
    }
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'plane-rotation-'));
    try {
      fs.writeFileSync(path.join(work, 'password.txt'), 'not-a-real-password', { mode: 0o600 });
      const pipe = rotation.text
        .replace(/\\\n\s*/g, ' ')
        .split('\n')[0]
        .replace(/\s*\|\s*kubectl replace -f -\s*$/, '');
      const run = spawnSync('bash', ['-euo', 'pipefail', '-c', pipe], {
        cwd: work,
        encoding: 'utf8',
        env: { ...process.env, KUBECONFIG: path.join(work, 'none') },
      });
      assert.equal(run.status, 0, run.stderr);
      const secret = parse(run.stdout);
      assert.equal(secret.metadata.name, 'plane-postgres');
      assert.deepEqual(secret.metadata.labels, secretSpec('plane-postgres').labels);
      assert.deepEqual(Object.keys(secret.data), ['password']);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});

describe("the README's Plane release and its advisories", () => {
  const text = section(readReadme(), '## Plane release and its advisories').text;
  const site = siteWith();
  const file = loadAdvisories();
  const running = site.images.plane.tag;
  const exposure = exposureOf(file, running);

  it('names the deployed release, its open and mitigated advisories and the worst, from the site file and security/plane-advisories.yaml', () => {
    const open = exposure.open.filter((a) => a.exposure === 'open').length;
    assert.ok(text.includes(`deploys **Plane ${running}**`), text);
    assert.ok(text.includes(`leave **${exposure.open.length} open** on it (${open} open, ${exposure.open.length - open} low)`), text);
    assert.ok(text.includes(`and ${exposure.mitigated.length} this stack's`), text);
    assert.ok(text.includes(`checked ${file.checked}`), text);
    for (const a of exposure.open.filter((x) => x.exposure === 'open').slice(0, 3))
      assert.ok(text.includes(`${a.id} (${severity(a)} ${a.cvss}, ${a.who})`), a.id);
  });

  it('recommends the newest supported release, with what it fixes; says what later releases fix and what none does', () => {
    const recommended = exposure.recommended;
    assert.ok(recommended);
    assert.equal(recommended.tag, SUPPORTED_PLANE_TAGS.at(-1));
    assert.ok(text.includes(`**Recommended target: ${recommended.tag}**`), text);
    assert.ok(text.includes(`it fixes ${recommended.fixes} of the ${exposure.open.length}`), text);
    assert.ok(text.includes(`(${exposure.fixesMost?.tag}: ${exposure.fixesMost?.fixes})`), text);
    assert.ok(text.includes(`${exposure.unfixed.length} have no released fix`), text);
  });
});
