import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Manifest, podTemplates, siteWith, synth } from './helpers';

function disruptionBudgets(manifests: Manifest[]): Manifest[] {
  return manifests.filter((m) => m.kind === 'PodDisruptionBudget');
}

describe('multi-node ready by config', () => {
  it('adds no PodDisruptionBudget or spread constraint for single replicas', () => {
    const manifests = synth();
    assert.deepEqual(disruptionBudgets(manifests), []);
    for (const { template } of podTemplates(manifests)) assert.equal(template.spec.topologySpreadConstraints, undefined);
  });

  it('gives every component with more than one replica a PodDisruptionBudget and a spread over nodes', () => {
    const manifests = synth(
      siteWith((s) => {
        s.components.web.replicas = 2;
        s.components.api.replicas = 3;
        s.components.worker.replicas = 2;
      }),
    );
    const replicated = podTemplates(manifests).filter((t) => (t.workload.spec.replicas ?? 1) > 1);
    assert.deepEqual(replicated.map((t) => t.name).sort(), ['plane-api', 'plane-web', 'plane-worker']);
    for (const { name, workload, template } of replicated) {
      const budget = disruptionBudgets(manifests).find((b) => b.metadata.name === name);
      assert.ok(budget, `no PodDisruptionBudget for ${name}`);
      assert.deepEqual(budget.spec.selector.matchLabels, workload.spec.selector.matchLabels);
      assert.ok(budget.spec.maxUnavailable !== undefined || budget.spec.minAvailable !== undefined);
      const [spread] = template.spec.topologySpreadConstraints ?? [];
      assert.equal(spread?.topologyKey, 'kubernetes.io/hostname', `${name} is not spread over nodes`);
      assert.deepEqual(spread.labelSelector.matchLabels, workload.spec.selector.matchLabels);
    }
    assert.equal(disruptionBudgets(manifests).length, replicated.length);
  });
});
