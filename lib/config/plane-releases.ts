/**
 * The Plane releases this project supports: the one list the site schema (images.plane.tag), the manifests,
 * the provisioning Job's module (SUPPORTED_PLANE_VERSIONS in lib/plane/provision/plane_k3s_provision.py,
 * tied to this list by test/plane-releases.test.ts) and docs/configuration.md follow.
 *
 * Each release was checked against its own code (makeplane/plane at its tag) and the real-backend suites
 * (`npm run test:plane`) were run against it: the images' names, entrypoints (apps/api/bin/*), ports,
 * probes' paths and environment (deployments/cli/community/docker-compose.yml, variables.env, the apps'
 * Dockerfiles) are v1.2.2's in v1.2.3 and v1.3.1; so are the models the provisioning, first start and token
 * rotation write (User, Profile, Workspace, WorkspaceMember, ProjectMember, APIToken, Instance, InstanceAdmin,
 * InstanceConfiguration), the API-key authentication and the v1 routes the CLI calls. APP_VERSION stays set
 * by the manifests: v1.2.3's apps/api/package.json still says 1.2.0. What differs is a field below.
 */

export interface PlaneRelease {
  /** The tag of Plane's five images (docker.io/makeplane/plane-*:<tag>) and of makeplane/plane. */
  readonly tag: string;
  /**
   * Whether the release has Intercom's chat widget: configure_instance creates the IS_INTERCOM_ENABLED
   * instance setting from the environment and /api/instances/ answers is_intercom_enabled
   * (apps/api/plane/utils/instance_config_variables/core.py, license/api/views/instance.py). v1.3.1 removed
   * both (c21d2c6, #8875): nothing reads the setting, so the stack writes it only where it exists.
   */
  readonly intercom: boolean;
}

/** Oldest first; the default site's release comes first. */
export const PLANE_RELEASES: readonly PlaneRelease[] = [
  { tag: 'v1.2.2', intercom: true },
  { tag: 'v1.2.3', intercom: true },
  { tag: 'v1.3.1', intercom: false },
];

/** The release the site file names by default (site/javisi.yaml): the one this deployment was asked for. */
export const DEFAULT_PLANE_RELEASE = 'v1.2.2';

export const SUPPORTED_PLANE_TAGS: readonly string[] = PLANE_RELEASES.map((r) => r.tag);

/** A Plane release tag, as makeplane/plane and its images name one. */
export const RELEASE_TAG = /^v\d+\.\d+\.\d+$/;

/** Orders release tags by their numbers (v1.10.0 after v1.9.0). */
export function compareTags(a: string, b: string): number {
  const parts = (t: string) => t.replace(/^v/, '').split('.').map(Number);
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return 0;
}

/** The supported release with this tag; throws for another (the site schema refuses those first). */
export function planeRelease(tag: string): PlaneRelease {
  const release = PLANE_RELEASES.find((r) => r.tag === tag);
  if (!release) throw new Error(`Plane ${tag} is not a supported release (${SUPPORTED_PLANE_TAGS.join(', ')})`);
  return release;
}
