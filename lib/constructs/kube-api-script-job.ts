import { k8s } from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { RunAs } from '../hardening';
import { WorkloadLabels } from '../labels';
import { Call } from '../stack/workload';
import { mountedKubeClient, mountedScripts, SCRIPTS_PATH } from '../scripts';
import { VersionedJob } from './versioned-job';

export interface KubeApiScriptJobProps {
  readonly namespace: string;
  /** Base name of the Job (and of its ConfigMaps). */
  readonly name: string;
  readonly labels: WorkloadLabels;
  /** A pinned image with python3. */
  readonly image: string;
  readonly runAs: RunAs;
  readonly resources: k8s.ResourceRequirements;
  /** The version its Job is named after. */
  readonly version: string;
  /** The ServiceAccount it runs as: its RBAC is all the script may do. */
  readonly serviceAccountName: string;
  /** The repository folder of the script, e.g. "lib/keep-data". */
  readonly folder: string;
  /** The script, python3 and the standard library, importing the API client (lib/kube/plane_k3s_kube.py). */
  readonly script: string;
  /** What the script does, as JSON in its ConfigMap; a change runs the Job again. */
  readonly spec: unknown;
  /** Where the spec is mounted (the script reads PLANE_K3S_SPEC_FILE). */
  readonly specFile: string;
  /** The API server, as its pods reach it. */
  readonly apiServer: Call;
}

/**
 * A Job of the stack's own that converges the cluster through the API server with its ServiceAccount's
 * token (the secrets bootstrap, the keep-data guard): its script and the shared API client mounted, its
 * spec beside them, and run again whenever the spec changes.
 */
export class KubeApiScriptJob extends Construct {
  readonly job: VersionedJob;

  constructor(scope: Construct, id: string, props: KubeApiScriptJobProps) {
    super(scope, id);
    this.job = new VersionedJob(this, 'job', {
      namespace: props.namespace,
      baseName: props.name,
      version: props.version,
      labels: props.labels,
      image: props.image,
      runAs: props.runAs,
      resources: props.resources,
      serviceAccountName: props.serviceAccountName,
      rerunOnConfigChange: true,
      env: { PLANE_K3S_SPEC_FILE: props.specFile },
      files: {
        ...mountedScripts(props.folder, [props.script]),
        ...mountedKubeClient(),
        [props.specFile]: `${JSON.stringify(props.spec, null, 2)}\n`,
      },
      command: ['python3', `${SCRIPTS_PATH}/${props.script}`],
      writablePaths: ['/tmp'],
      calls: [props.apiServer],
    });
  }
}
