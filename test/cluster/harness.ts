/**
 * The test control plane (tools/cluster: etcd, kube-apiserver, controller-manager, scheduler, kwok on
 * 127.0.0.1), driven the way a user drives a cluster: the real kubectl, and @kubernetes/client-node.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { parse } from 'yaml';
import { REPO_ROOT } from '../helpers';

const CLUSTER_TOOLS = path.join(REPO_ROOT, 'tools', 'cluster');

export interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env, input?: string): CommandResult {
  const result = spawnSync(command, args, { env, encoding: 'utf8', input, maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw result.error;
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

export class TestCluster {
  /**
   * Starts an empty cluster; stop() it in an `after` hook (also on failure). `kwokConfig`: files of
   * kwok configuration (ClusterLogs, ClusterExec, ClusterPortForward) for what its node serves.
   */
  static start(kwokConfig: readonly string[] = []): TestCluster {
    const started = Date.now();
    const up = run(path.join(CLUSTER_TOOLS, 'up.sh'), [], { ...process.env, KWOK_EXTRA_CONFIG: kwokConfig.join(',') });
    if (up.code !== 0) throw new Error(`tools/cluster/up.sh failed (${up.code}):\n${up.stderr.slice(-4000)}`);
    const kubeconfig = /KUBECONFIG=(\S+)/.exec(up.stdout)?.[1];
    if (!kubeconfig) throw new Error(`tools/cluster/up.sh printed no KUBECONFIG:\n${up.stdout}`);
    const bin = run(path.join(CLUSTER_TOOLS, 'build.sh'), ['--print']).stdout.trim();
    process.stdout.write(`# test cluster started in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    return new TestCluster(kubeconfig, path.join(bin, 'kubectl'));
  }

  readonly config: k8s.KubeConfig;
  readonly core: k8s.CoreV1Api;
  readonly apps: k8s.AppsV1Api;
  readonly batch: k8s.BatchV1Api;

  private constructor(
    readonly kubeconfig: string,
    readonly kubectlPath: string,
  ) {
    this.config = new k8s.KubeConfig();
    this.config.loadFromFile(kubeconfig);
    this.core = this.config.makeApiClient(k8s.CoreV1Api);
    this.apps = this.config.makeApiClient(k8s.AppsV1Api);
    this.batch = this.config.makeApiClient(k8s.BatchV1Api);
  }

  stop(): void {
    run(path.join(CLUSTER_TOOLS, 'down.sh'), []);
  }

  /** The server's own release of kubectl, against this cluster only. */
  kubectl(args: string[], input?: string): CommandResult {
    return run(this.kubectlPath, args, { ...process.env, KUBECONFIG: this.kubeconfig }, input);
  }

  /** kubectl that must succeed. */
  kubectlOk(args: string[], input?: string): CommandResult {
    const result = this.kubectl(args, input);
    if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${result.code}):\n${result.stderr}${result.stdout}`);
    return result;
  }

  /**
   * Waits until every Deployment and StatefulSet of `namespace` has all its replicas updated and
   * available and every Job has completed; reports what is stuck when `timeoutMs` runs out.
   */
  async waitUntilSettled(namespace: string, timeoutMs = 180_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let stuck: string[] = [];
    while (Date.now() < deadline) {
      stuck = await this.unsettled(namespace);
      if (stuck.length === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    const pods = this.kubectl(['get', 'pods', '-n', namespace, '-o', 'wide']).stdout;
    const events = this.kubectl(['get', 'events', '-n', namespace, '--sort-by=.lastTimestamp']).stdout.split('\n').slice(-25).join('\n');
    throw new Error(`not settled after ${timeoutMs / 1000} s:\n  ${stuck.join('\n  ')}\npods:\n${pods}\nlast events:\n${events}`);
  }

  private async unsettled(namespace: string): Promise<string[]> {
    const stuck: string[] = [];
    for (const d of (await this.apps.listNamespacedDeployment({ namespace })).items) {
      const want = d.spec?.replicas ?? 1;
      const s = d.status ?? {};
      if (
        (s.observedGeneration ?? 0) < (d.metadata?.generation ?? 0) ||
        (s.updatedReplicas ?? 0) < want ||
        (s.availableReplicas ?? 0) < want ||
        (s.replicas ?? 0) > want
      ) {
        stuck.push(`Deployment ${d.metadata?.name}: ${s.updatedReplicas ?? 0} updated, ${s.availableReplicas ?? 0} available of ${want}`);
      }
    }
    for (const s of (await this.apps.listNamespacedStatefulSet({ namespace })).items) {
      const want = s.spec?.replicas ?? 1;
      const st = s.status ?? { replicas: 0 };
      if (
        (st.observedGeneration ?? 0) < (s.metadata?.generation ?? 0) ||
        (st.readyReplicas ?? 0) < want ||
        st.currentRevision !== st.updateRevision
      ) {
        stuck.push(
          `StatefulSet ${s.metadata?.name}: ${st.readyReplicas ?? 0} ready of ${want}, revision ${st.currentRevision} → ${st.updateRevision}`,
        );
      }
    }
    for (const j of (await this.batch.listNamespacedJob({ namespace })).items) {
      if (!(j.status?.conditions ?? []).some((c) => c.type === 'Complete' && c.status === 'True')) {
        stuck.push(`Job ${j.metadata?.name}: not complete (${j.status?.active ?? 0} active, ${j.status?.failed ?? 0} failed)`);
      }
    }
    return stuck;
  }

  /** Waits until `kubectl get <kind> <name>` finds nothing (e.g. a namespace done terminating). */
  async waitUntilGone(kind: string, name: string, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const result = this.kubectl(['get', kind, name, '--ignore-not-found', '-o', 'name']);
      if (result.code === 0 && result.stdout.trim() === '') return;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    throw new Error(`${kind} ${name} still exists after ${timeoutMs / 1000} s`);
  }

  /** deployment name → its current revision (the deployment.kubernetes.io/revision annotation). */
  async deploymentRevisions(namespace: string): Promise<Map<string, string>> {
    const deployments = (await this.apps.listNamespacedDeployment({ namespace })).items;
    return new Map(deployments.map((d) => [d.metadata?.name ?? '', d.metadata?.annotations?.['deployment.kubernetes.io/revision'] ?? '']));
  }
}

/** A scratch folder removed by the caller. */
export function scratchDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * A Job's own files (its `<name>-files` ConfigMap as `kubectl apply -f dist` stored it) in a scratch
 * folder, with what its pod would see of the API server: a 10-minute token of its ServiceAccount, the
 * cluster's CA, KUBERNETES_SERVICE_HOST/PORT (kwok runs no container: the tests run its script).
 */
export function asJobPod(
  cluster: TestCluster,
  namespace: string,
  account: string,
  configMap: string,
): { readonly dir: string; readonly env: Record<string, string>; cleanup(): void } {
  const files = JSON.parse(cluster.kubectlOk(['get', 'configmap', configMap, '-n', namespace, '-o', 'json']).stdout).data;
  const dir = scratchDir('plane-job-pod-');
  fs.mkdirSync(path.join(dir, 'account'));
  for (const [file, content] of Object.entries(files as Record<string, string>)) fs.writeFileSync(path.join(dir, file), content);
  fs.writeFileSync(
    path.join(dir, 'account', 'token'),
    cluster.kubectlOk(['create', 'token', account, '-n', namespace, '--duration=10m']).stdout.trim(),
  );
  const kubeconfig = parse(fs.readFileSync(cluster.kubeconfig, 'utf8'));
  fs.writeFileSync(
    path.join(dir, 'account', 'ca.crt'),
    Buffer.from(kubeconfig.clusters[0].cluster['certificate-authority-data'], 'base64'),
  );
  const server = new URL(kubeconfig.clusters[0].cluster.server);
  return {
    dir,
    env: {
      KUBERNETES_SERVICE_HOST: server.hostname,
      KUBERNETES_SERVICE_PORT: server.port,
      PLANE_K3S_SERVICE_ACCOUNT_DIR: path.join(dir, 'account'),
    },
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** The keep-data Job's own script, run as its pod would (asJobPod). */
export function runKeepDataJob(cluster: TestCluster, namespace: string, name: string): CommandResult {
  const pod = asJobPod(cluster, namespace, name, `${name}-files`);
  const result = spawnSync('python3', [path.join(pod.dir, 'plane_k3s_keep_data.py')], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, ...pod.env, PLANE_K3S_SPEC_FILE: path.join(pod.dir, 'keep-data.json') },
  });
  pod.cleanup();
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}
