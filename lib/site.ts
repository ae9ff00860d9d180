/** Values derived from the site config that several charts need; one definition each. */
import { SiteConfig, parseImageReference } from './config/site-config';
import { ComponentRole, PART_OF, WorkloadLabels } from './labels';

/** Public host of the app, e.g. "work.ewutelo.cloud". */
export function appHost(site: SiteConfig): string {
  return `${site.hosts.app}.${site.domain}`;
}

/** Public URL of the app; Caddy terminates TLS for it. */
export function appUrl(site: SiteConfig): string {
  return `https://${appHost(site)}`;
}

/** Name of a component's objects: "plane-api", "plane-postgres". */
export function objectName(component: string): string {
  return `${PART_OF}-${component}`;
}

/** Version label of an image reference: its tag, else the digest's first characters. */
export function imageVersion(image: string): string {
  const { tag, digest } = parseImageReference(image);
  return tag ?? (digest ?? '').replace('sha256:', '').slice(0, 12);
}

/**
 * A Plane image of the pinned release, e.g. "docker.io/makeplane/plane-backend:v1.2.2", with its own
 * digest when the site gives one (images.plane.digests.backend for plane-backend).
 */
export function planeImage(site: SiteConfig, name: string): string {
  const { registry, tag, digests } = site.images.plane;
  const digest = digests?.[name.replace(/^plane-/, '') as keyof NonNullable<typeof digests>];
  return `${registry}/${name}:${tag}${digest ? `@${digest}` : ''}`;
}

export function workloadLabels(site: SiteConfig, name: string, zone: ComponentRole, version: string): WorkloadLabels {
  return new WorkloadLabels({ instance: site.project.name, name, zone, version });
}
