/**
 * The README's own steps, checked against the repository and the synthesized manifests: every path it
 * names exists, and its deploy block creates exactly the Secrets (names and keys) the pods read.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { synthesize } from '../lib/synth';
import { buildStack, sideFiles } from '../main';
import { containersOf, Manifest, podTemplates, REPO_ROOT, siteWith, synth } from './helpers';
import { appliedFiles, inlineCommand, kubectlCommands, pathExists, readReadme, repoPathMentions, secretCommands, secretsShellBlock, section, shellCommands } from './readme';

const readme = readReadme();
const block = secretsShellBlock(readme);

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
  for (const { name: workload, workload: { metadata: { namespace } }, template } of podTemplates(manifests)) {
    const containers = containersOf(template);
    for (const container of containers) {
      for (const variable of container.env ?? []) {
        const ref = variable.valueFrom?.secretKeyRef;
        if (ref) use(namespace, ref.name, [ref.key]);
      }
      // envFrom takes every key of the Secret: which ones the pod needs cannot be read from the manifest.
      for (const source of container.envFrom ?? []) assert.equal(source.secretRef, undefined, `${workload}: envFrom secretRef hides its keys`);
    }
    for (const secret of template.spec.imagePullSecrets ?? []) use(namespace, secret.name, ['.dockerconfigjson']);

    const configMapTexts = (template.spec.volumes ?? []).filter((v: Manifest) => v.configMap)
      .flatMap((v: Manifest) => Object.values(manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.namespace === namespace
        && m.metadata.name === v.configMap.name)?.data ?? {}));
    const podTexts = [...containers.flatMap((c) => [...(c.command ?? []), ...(c.args ?? []), ...(c.env ?? []).map((e: Manifest) => e.value ?? '')]),
      ...configMapTexts].join('\n');
    for (const volume of template.spec.volumes ?? []) {
      const sources = [
        ...(volume.secret ? [{ name: volume.secret.secretName, items: volume.secret.items }] : []),
        ...(volume.projected?.sources ?? []).filter((s: Manifest) => s.secret).map((s: Manifest) => s.secret),
      ];
      for (const source of sources) {
        const mountPaths = containers.flatMap((c) => (c.volumeMounts ?? []).filter((m: Manifest) => m.name === volume.name).map((m: Manifest) => m.mountPath));
        const keys = source.items ? source.items.map((i: Manifest) => i.key)
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

describe('README paths', () => {
  const mentions = repoPathMentions(readme);

  it('finds the paths the README names (so the next check is not vacuous)', () => {
    const named = new Set(mentions.map((m) => m.path));
    for (const expected of ['site/javisi.yaml', 'lib/hardening.ts', 'dist/0001-edge-namespace.k8s.yaml', 'dns/headscale-extra-records.json', 'lib/data/*.ts', '.ci/run', 'main.ts']) {
      assert.ok(named.has(expected), `${expected} not found among ${[...named].join(', ')}`);
    }
  });

  it('names only paths that exist in the repository or in a fresh synth', () => {
    const missing = mentions.filter((m) => !exists(m.path)).map((m) => `README.md:${m.line}: ${m.path}`);
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
      '1:dist/0001-edge-namespace.k8s.yaml', '1:lib/data/*.ts', '1:scripts/build.mjs', '1:tools/cluster/',
      '4:dist/0006-edge-namespace.k8s.yaml', '5:site/javisi.yaml', '7:lib/nothing-here.ts', '7:main.ts',
    ]);
    assert.deepEqual(found.filter((m) => !exists(m.path)).map((m) => m.path).sort(), ['dist/0006-edge-namespace.k8s.yaml', 'lib/nothing-here.ts']);
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
  it('the README\'s block and the bootstrap Job make exactly the Secrets and keys the synthesized pods read, no more, no fewer', () => {
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
    assert.notDeepEqual(allMade(block.text, manifests)['plane/plane-object-store'], referencedSecrets(manifests)['plane/plane-object-store']);
  });

  it('lists, in its table of Secrets, exactly the Secrets and keys the bootstrap Job makes', () => {
    const table = section(readme, '## Secrets').text.split('\n').filter((l) => l.startsWith('| `plane-'));
    const listed = Object.fromEntries(table.map((row) => {
      const [name, keys] = row.split('|').slice(1, 3).map((cell) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]));
      return [`plane/${name[0]}`, keys.sort()];
    }));
    const made = bootstrapSecrets(synth());
    // One row stands for every agent's Secret.
    const collapsed = Object.fromEntries(Object.entries(made).map(([id, keys]) => [id.replace(/^plane\/plane-agent-.*/, 'plane/plane-agent-<id>'), keys]));
    assert.deepEqual(listed, collapsed);
  });

  it('parses kubectl create secret as the shell would split it', () => {
    const script = [
      'kubectl apply -f dist/0000-namespace.k8s.yaml  # the namespace first',
      'kubectl -n a create secret generic one \\',
      '  --from-literal=k1="$(openssl rand -hex 32)" \\',
      '  --from-literal=k2="x y"',
      "kubectl create secret generic two --namespace=b --from-file=k3=some/file --from-file=dir/k4.pem && kubectl -n c create secret tls three --cert=c.crt --key=c.key",
    ].join('\n');
    assert.deepEqual(secretCommands(script).map(({ namespace, name, type, keys, files, line }) => ({ namespace, name, type, keys, files, line })), [
      { namespace: 'a', name: 'one', type: 'generic', keys: ['k1', 'k2'], files: [], line: 2 },
      { namespace: 'b', name: 'two', type: 'generic', keys: ['k3', 'k4.pem'], files: ['some/file', 'dir/k4.pem'], line: 5 },
      { namespace: 'c', name: 'three', type: 'tls', keys: ['tls.crt', 'tls.key'], files: ['c.crt', 'c.key'], line: 5 },
    ]);
    assert.deepEqual(shellCommands('a "b $(c "d e")" \'f g\' # h\ni').map((c) => c.words), [['a', 'b $(c "d e")', 'f g'], ['i']]);
    assert.throws(() => secretCommands('kubectl create secret generic x --from-literal=a=b'), /names no namespace/);
    assert.throws(() => secretCommands('kubectl -n a create secret generic x --from-env-file=e'), /hides the keys/);
  });

  it("applies each Secret's namespace before creating it, and ends with `kubectl apply -f dist`", () => {
    const applied = appliedFiles(block.text, block.line);
    const namespacesOf = (file: string, line: number) => {
      assert.ok(exists(file), `README.md:${line}: applies ${file}, which a synth does not write`);
      const files = fs.statSync(path.join(fresh, file)).isDirectory() ? fs.readdirSync(path.join(fresh, file)).map((f) => path.join(file, f)) : [file];
      return files.flatMap((f) => parseAllDocuments(fs.readFileSync(path.join(fresh, f), 'utf8')).map((d) => d.toJS()))
        .filter((m) => m?.kind === 'Namespace').map((m) => m.metadata.name);
    };
    for (const secret of secretCommands(block.text, block.line)) {
      const before = applied.filter((a) => a.line < secret.line).flatMap((a) => namespacesOf(a.path, a.line));
      assert.ok(before.includes(secret.namespace), `README.md:${secret.line}: namespace ${secret.namespace} of ${secret.name} is not applied before`);
    }
    const commands = shellCommands(block.text);
    assert.deepEqual(commands.at(-1)?.words, ['kubectl', 'apply', '-f', 'dist']);
  });

  it('names one keep-data command (table, "Data", runbook, the guard\'s refusal) whose selector leaves exactly the objects that hold data', () => {
    const command = inlineCommand('### Data', 'kubectl delete -f dist -l', readme);
    assert.ok(readme.includes(`| remove the workloads, keep the data | \`${command}\``), 'the table names another command');
    assert.ok(fs.readFileSync(path.join(REPO_ROOT, 'docs', 'runbook.md'), 'utf8').includes(`\n${command}\n`), 'the runbook runs another command');
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
    const kept = manifests.filter((m) => m.metadata.labels?.[key] !== undefined).map((m) => `${m.kind}/${m.metadata.name}`).sort();
    assert.deepEqual(kept, ['Namespace/plane', 'PersistentVolumeClaim/plane-backup', 'StorageClass/plane-retain']);
    const deleted = manifests.filter((m) => m.metadata.labels?.[key] === undefined).map((m) => `${m.kind}/${m.metadata.name}`);
    for (const workload of ['Deployment/plane-api', 'StatefulSet/plane-postgres', 'CronJob/plane-backup', 'Namespace/plane-edge', 'ClusterRole/plane-keep-data']) {
      assert.ok(deleted.includes(workload), workload);
    }
  });
});
