/**
 * The stack's own scripts and Python modules that pods run (the secrets bootstrap, provisioning, the
 * Celery harness, backups): read from the repository at synth time, put in the component's ConfigMap,
 * mounted read-only at one path.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findUpwards } from './paths';

/** Where they are mounted in every pod that runs one. */
export const SCRIPTS_PATH = '/opt/plane-k3s';

/** The files of a repository folder (e.g. "lib/data/backup"), by their mount path, for ComponentConfig `files`. */
export function mountedScripts(folder: string, files: readonly string[]): Record<string, string> {
  return Object.fromEntries(files.map((file) => [`${SCRIPTS_PATH}/${file}`, scriptFile(folder, file)]));
}

/** One file of a repository folder, for a pod that needs it at a path of its image's own (an initdb hook). */
export function scriptFile(folder: string, file: string): string {
  return fs.readFileSync(findUpwards(__dirname, path.join(folder, file)), 'utf8');
}

/** The Kubernetes API client the Jobs' Python scripts import from their own folder (lib/kube/plane_k3s_kube.py). */
export function mountedKubeClient(): Record<string, string> {
  return mountedScripts('lib/kube', ['plane_k3s_kube.py']);
}
