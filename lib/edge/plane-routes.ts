/**
 * Plane's own proxy routing (apps/proxy/Caddyfile.ce at v1.2.2, reference "Proxy routing"), as data:
 * the Caddyfile and the tests are both built from this table. Prefixes are never stripped.
 */
import { PLANE_PATH_SEGMENTS } from '../config/plane-paths';
import { BASE_PATHS } from '../plane/images';

/** A TCP service the proxy forwards to. */
export interface Upstream {
  readonly host: string;
  readonly port: number;
}

/** Where each part of Plane is served; passed by reference from the charts that run them. */
export interface PlaneUpstreams {
  readonly web: Upstream;
  readonly space: Upstream;
  readonly admin: Upstream;
  readonly live: Upstream;
  readonly api: Upstream;
  /** S3 store for uploads, when the browser reaches it as https://<app host>/<bucket>/… @default not routed */
  readonly objectStore?: Upstream;
}

export type UpstreamName = keyof PlaneUpstreams;

/** An exact path answered with a permanent redirect. */
export interface Redirect {
  readonly from: string;
  readonly to: string;
}

export interface ProxyRoute {
  readonly upstream: UpstreamName;
  /** Caddy path patterns ("/api/*" is /api/ and below); empty for the route that takes the rest. */
  readonly paths: readonly string[];
}

export interface PlaneRouting {
  /** Answered before any route. */
  readonly redirects: readonly Redirect[];
  /** Tried in order; the first whose paths match wins, the last takes every other request. */
  readonly routes: readonly ProxyRoute[];
}

const under = (base: string) => `${base}/*`;

/** The routing of Plane v1.2.2, with the uploads bucket `bucket` when the edge serves it. */
export function planeRouting(bucket?: string): PlaneRouting {
  if (bucket && (PLANE_PATH_SEGMENTS as readonly string[]).includes(bucket)) {
    throw new Error(`bucket "${bucket}" would be shadowed by Plane's /${bucket}/ route`);
  }
  return {
    redirects: [
      { from: BASE_PATHS.space, to: `${BASE_PATHS.space}/` },
      { from: BASE_PATHS.admin, to: `${BASE_PATHS.admin}/` },
    ],
    routes: [
      { upstream: 'space', paths: [under(BASE_PATHS.space)] },
      { upstream: 'admin', paths: [under(BASE_PATHS.admin)] },
      // WebSockets for collaborative editing live under /live/collaboration; Caddy passes upgrades.
      { upstream: 'live', paths: [under(BASE_PATHS.live)] },
      { upstream: 'api', paths: ['/api/*', '/auth/*', '/static/*'] },
      // Uploads are presigned for the public host: the Host header must reach the store unchanged.
      ...(bucket ? [{ upstream: 'objectStore' as const, paths: [`/${bucket}`, under(`/${bucket}`)] }] : []),
      { upstream: 'web', paths: [] },
    ],
  };
}
