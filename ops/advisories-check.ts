/**
 * verify's security report: the running Plane's open advisories (security/plane-advisories.yaml,
 * offline) as a warning that names the release that fixes them, and the defences the mitigated ones rely
 * on, each asserted against the cluster and Plane.
 */
import { isDeepStrictEqual } from 'node:util';
import { Advisory, exposureOf, loadAdvisories, Mitigation, MITIGATIONS, severity } from '../lib/plane/advisories';
import { OpsContext } from './context';
import { CheckResult, fail, pass, warn } from './report';

const UPGRADE_FIX = 'plan the upgrade: docs/runbook.md "Upgrade"';

/** One advisory in a line: id, severity and score, what, who. */
function line(a: Advisory): string {
  return `${a.id} (${severity(a)}${a.cvss !== null ? ` ${a.cvss}` : ''}, ${a.who}): ${a.title}`;
}

/** The advisories open for `version`, as a warning (none: a pass). */
export function judgeAdvisories(version: string, file = loadAdvisories()): CheckResult {
  const e = exposureOf(file, version);
  if (e.open.length === 0) return pass('advisories', `Plane ${version}: no open advisory in the project's list (checked ${file.checked})`);
  const open = e.open.filter((a) => a.exposure === 'open');
  const worst = open.slice(0, 3).map(line).join('; ');
  const nearest = e.nearest ? `the nearest release, ${e.nearest.tag}, fixes ${e.nearest.fixes}` : 'no later release is known';
  const most = e.fixesMost && e.fixesMost.tag !== e.nearest?.tag ? `; ${e.fixesMost.tag} fixes ${e.fixesMost.fixes}` : '';
  const unfixed = e.unfixed.length ? `; ${e.unfixed.length} have no released fix yet` : '';
  const recommended = e.recommended
    ? `. Recommended: ${e.recommended.tag}, the newest release this project supports (fixes ${e.recommended.fixes})`
    : '. No later release is supported by this project yet';
  return warn(
    'advisories',
    `Plane ${version}: ${e.open.length} open advisories (${open.length} open, ${e.open.length - open.length} low) and ${e.mitigated.length} mitigated here, from security/plane-advisories.yaml (checked ${file.checked}). Worst: ${worst}. Of the open ones, ${nearest}${most}${unfixed}${recommended}`,
    e.recommended ? `plane-k3s upgrade --rehearse ${e.recommended.tag}, then docs/runbook.md "Upgrade"` : UPGRADE_FIX,
  );
}

/** The live object equals the one the synth renders (key order aside). */
async function liveMatches(
  ctx: OpsContext,
  kind: 'NetworkPolicy' | 'ConfigMap',
  namespace: string,
  name: string,
  part: (o: Record<string, unknown>) => unknown,
): Promise<string | undefined> {
  const rendered = ctx.stack.rendered(kind, namespace, name);
  if (!rendered) return `${kind} ${namespace}/${name} is not in the synth`;
  const live =
    kind === 'NetworkPolicy'
      ? await ctx.kube.maybe(() => ctx.kube.networking.readNamespacedNetworkPolicy({ name, namespace }))
      : await ctx.kube.maybe(() => ctx.kube.core.readNamespacedConfigMap({ name, namespace }));
  if (!live) return `${kind} ${namespace}/${name} does not exist`;
  const plain = JSON.parse(JSON.stringify(live)) as Record<string, unknown>;
  return isDeepStrictEqual(part(plain), part(rendered)) ? undefined : `${kind} ${namespace}/${name} differs from dist/`;
}

/** Each defence the mitigated advisories rely on, asserted. */
export async function checkMitigations(
  ctx: OpsContext,
  instanceConfig: () => Promise<Record<string, unknown>>,
  version: string,
): Promise<CheckResult[]> {
  const reliesOn = exposureOf(loadAdvisories(), version).reliesOn;
  const results: CheckResult[] = [];
  for (const mitigation of reliesOn) {
    const id = `mitigation/${mitigation}`;
    const problem = await mitigationProblem(ctx, mitigation, instanceConfig);
    const what = MITIGATIONS[mitigation];
    results.push(
      problem
        ? fail(id, `${what}: ${problem}`, `kubectl apply -f dist, and re-run provisioning (docs/runbook.md "Provisioning agents")`)
        : pass(id, what),
    );
  }
  return results;
}

async function mitigationProblem(
  ctx: OpsContext,
  mitigation: Mitigation,
  instanceConfig: () => Promise<Record<string, unknown>>,
): Promise<string | undefined> {
  switch (mitigation) {
    case 'signup-closed': {
      const value = (await instanceConfig()).enable_signup;
      return value === false ? undefined : `/api/instances/ says enable_signup ${JSON.stringify(value)}`;
    }
    case 'magic-link-off': {
      const value = (await instanceConfig()).is_magic_login_enabled;
      return value === false ? undefined : `/api/instances/ says is_magic_login_enabled ${JSON.stringify(value)}`;
    }
    case 'worker-egress-guard': {
      const worker = ctx.stack.workload('Deployment', 'worker');
      return liveMatches(ctx, 'NetworkPolicy', worker.namespace, worker.peer.name, (o) => o.spec);
    }
    case 'vpn-only-edge': {
      // The Caddyfile Caddy runs is the synthesized one (its vpn_only snippet first in every route).
      const caddy = ctx.stack.workload('Deployment', 'caddy');
      const problems: string[] = [];
      for (const name of ctx.stack.configMapsOf(caddy)) {
        const problem = await liveMatches(ctx, 'ConfigMap', caddy.namespace, name, (o) => o.data);
        if (problem) problems.push(problem);
      }
      return problems.join('; ') || undefined;
    }
  }
}
