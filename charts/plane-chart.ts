import { Chart, ChartProps } from 'cdk8s';
import { Construct } from 'constructs';
import { SiteConfig } from '../lib/config/site-config';
import { SecretKeySource, serviceHost, ServiceEndpoint } from '../lib/connections';
import { AppDeployment } from '../lib/constructs/app-deployment';
import { VersionedJob } from '../lib/constructs/versioned-job';
import { Zone } from '../lib/labels';
import {
  API_PORT,
  BACKEND_CODE_PATH,
  BACKEND_LOG_PATH,
  BACKEND_STATIC_PATH,
  BACKEND_USER,
  FRONTEND_PORT,
  HEALTH_PATHS,
  NGINX_USER,
  NGINX_WRITABLE_PATHS,
  NODE_USER,
  PLANE_IMAGES,
  TMP_PATH,
} from '../lib/plane/images';
import { BEAT_ARGS, CELERY_HARNESS_ENV, celeryHarnessFiles, celeryProbes, workerArgs } from '../lib/plane/celery';
import { agentApiKey, connectionSecretKeys } from '../lib/plane/connection-secrets';
import { backendEnv, liveEnv, PlaneConnections, PlaneSecrets } from '../lib/plane/plane-env';
import {
  PROVISION_FOLDER,
  PROVISION_MODULE,
  PROVISIONING_COMMAND,
  provisioningFiles,
  provisioningSecretEnv,
  ROTATE_TOKENS_MODULE,
  USERS_FILE,
} from '../lib/plane/provisioning';
import { TokenRotation } from '../lib/constructs/token-rotation';
import { mountedScripts, scriptFile, SCRIPTS_PATH } from '../lib/scripts';
import { kubeApiServer, workerInternet } from '../lib/network/site-peers';
import { callTo } from '../lib/stack/workload';
import { httpProbes } from '../lib/probes';
import { toResourceRequirements } from '../lib/resources';
import { objectName, planeImage, workloadLabels } from '../lib/site';

export interface PlaneChartProps extends ChartProps {
  readonly site: SiteConfig;
  readonly namespace: string;
  readonly connections: PlaneConnections;
}

/** Name of the Secret with the app's own keys ("secret-key", "live-server-secret-key"). */
export const PLANE_APP_SECRET = objectName('app');

/** How long each component may take to start before its liveness probe counts. */
const STARTUP_SECONDS = {
  nginx: 60,
  node: 120,
  // wait_for_migrations (a first install migrates for minutes), register_instance, collectstatic.
  api: 900,
  // wait_for_migrations too, then Celery's start.
  celery: 900,
};

/**
 * Plane's wait_for_db returns without connecting: the migrator first waits until Plane's role can log
 * in (a shared server's role is made by the postgres-bootstrap Job; an in-cluster server is starting),
 * then runs Plane's own entrypoint.
 */
const MIGRATOR_COMMAND = [
  '/bin/sh',
  '-ec',
  [
    'until python -c \'import os, psycopg; psycopg.connect(os.environ["DATABASE_URL"]).close()\' 2>/dev/null; do',
    '  echo "migrator: waiting until the database lets Plane log in"; sleep 5',
    'done',
    'exec ./bin/docker-entrypoint-migrator.sh',
  ].join('\n'),
];

/** The api's settings module: Plane's production settings less the API-log middleware (lib/plane/api/plane_k3s.py). */
const API_SETTINGS_MODULE = 'plane.settings.plane_k3s';
const FIRST_START_MODULE = 'plane_k3s_first_start';

/**
 * The api registers the instance with the site's telemetry choice first (lib/plane/api/plane_k3s_first_start.py),
 * then runs Plane's own entrypoint, whose register_instance then only updates the versions.
 */
const API_COMMAND = [
  '/bin/sh',
  '-ec',
  [
    'python manage.py wait_for_db && python manage.py wait_for_migrations',
    `PYTHONPATH=${SCRIPTS_PATH} python manage.py shell --command "import ${FIRST_START_MODULE}; ${FIRST_START_MODULE}.main()"`,
    'exec ./bin/docker-entrypoint-api.sh',
  ].join('\n'),
];

/** The settings module, beside Plane's own, and the first-start module. */
function apiFiles(): Record<string, string> {
  return {
    ...mountedScripts('lib/plane/api', [`${FIRST_START_MODULE}.py`]),
    [`${BACKEND_CODE_PATH}/plane/settings/plane_k3s.py`]: scriptFile('lib/plane/api', 'plane_k3s.py'),
  };
}

/** Waits for the database and the migrations, then replaces the shell (signals reach celery). */
function celeryCommand(celeryArgs: string): string[] {
  return ['/bin/sh', '-ec', `python manage.py wait_for_db && python manage.py wait_for_migrations && exec celery ${celeryArgs}`];
}

/** Plane v1.2.2: web, space, admin, live, api, worker, beat-worker and the migrator Job. */
export class PlaneChart extends Chart {
  readonly web: AppDeployment;
  readonly space: AppDeployment;
  readonly admin: AppDeployment;
  readonly live: AppDeployment;
  readonly api: AppDeployment;
  readonly worker: AppDeployment;
  readonly beatWorker: AppDeployment;
  readonly migrator: VersionedJob;
  /** Converges Plane's users, workspace and settings to the site (re-run when `users:` changes). */
  readonly provisioning: VersionedJob;
  /** Replaces the agents' tokens before they expire: only when the site gives tokens a lifetime. */
  readonly tokenRotation?: TokenRotation;
  /** Every key Plane's own Secrets must hold (the app keys, the admin's and agents' connections). */
  readonly secretKeys: readonly SecretKeySource[];

  constructor(scope: Construct, id: string, props: PlaneChartProps) {
    super(scope, id, props);
    const { site, namespace, connections } = props;
    const components = site.components;
    const version = site.images.plane.tag;
    const labels = (name: string, zone: Zone) => workloadLabels(site, name, zone, version);
    const secrets: PlaneSecrets = {
      secretKey: { secretName: PLANE_APP_SECRET, key: 'secret-key' },
      liveServerSecretKey: { secretName: PLANE_APP_SECRET, key: 'live-server-secret-key' },
    };

    // The api's and live's Services are needed before they exist: the api's name in its own
    // ALLOWED_HOSTS, live's URL in the backend's environment, both as the peers others call.
    const endpointAhead = (name: string, zone: Zone, port: number): ServiceEndpoint => ({
      host: serviceHost(objectName(name), namespace),
      port,
      peer: { name: objectName(name), namespace, podSelector: { ...labels(name, zone).selector } },
    });
    const apiAhead = endpointAhead('api', 'backend', API_PORT);
    const liveAhead = endpointAhead('live', 'frontend', FRONTEND_PORT);

    const nginxFrontend = (name: 'web' | 'admin') =>
      new AppDeployment(this, name, {
        namespace,
        name: objectName(name),
        labels: labels(name, 'frontend'),
        image: planeImage(site, PLANE_IMAGES[name]),
        runAs: NGINX_USER,
        replicas: components[name].replicas,
        resources: toResourceRequirements(components[name].resources),
        port: FRONTEND_PORT,
        probes: httpProbes(HEALTH_PATHS[name], 'http', STARTUP_SECONDS.nginx),
        writablePaths: NGINX_WRITABLE_PATHS,
      });
    this.web = nginxFrontend('web');
    this.admin = nginxFrontend('admin');

    this.space = new AppDeployment(this, 'space', {
      namespace,
      name: objectName('space'),
      labels: labels('space', 'frontend'),
      image: planeImage(site, PLANE_IMAGES.space),
      runAs: NODE_USER,
      replicas: components.space.replicas,
      resources: toResourceRequirements(components.space.resources),
      port: FRONTEND_PORT,
      probes: httpProbes(HEALTH_PATHS.space, 'http', STARTUP_SECONDS.node),
      // The image starts with `npx react-router-serve`: npm wants a cache and must not phone home.
      env: { NPM_CONFIG_CACHE: `${TMP_PATH}/.npm`, NPM_CONFIG_UPDATE_NOTIFIER: 'false' },
      writablePaths: [TMP_PATH],
      // Server-side rendering of published pages reads the api.
      calls: [callTo(apiAhead)],
    });

    const apiName = objectName('api');
    const apiHost = apiAhead.host;
    const backend = backendEnv(site, connections, secrets, [apiName, apiHost], `http://${liveAhead.host}:${liveAhead.port}`);
    const backendProps = { namespace, image: planeImage(site, PLANE_IMAGES.backend), runAs: BACKEND_USER };

    this.api = new AppDeployment(this, 'api', {
      ...backendProps,
      ...backend,
      env: {
        ...backend.env,
        GUNICORN_WORKERS: String(components.api.gunicornWorkers),
        // Plane's settings less the API-log middleware: no call's token or body goes through the broker.
        DJANGO_SETTINGS_MODULE: API_SETTINGS_MODULE,
        PLANE_K3S_TELEMETRY: site.plane.access.telemetry ? '1' : '0',
      },
      files: apiFiles(),
      name: apiName,
      labels: labels('api', 'backend'),
      replicas: components.api.replicas,
      resources: toResourceRequirements(components.api.resources),
      command: API_COMMAND,
      port: API_PORT,
      probes: httpProbes(HEALTH_PATHS.api, 'http', STARTUP_SECONDS.api, apiHost),
      writablePaths: [BACKEND_LOG_PATH, BACKEND_STATIC_PATH, TMP_PATH],
      calls: [...backend.calls, callTo(connections.objectStore)],
    });

    this.worker = new AppDeployment(this, 'worker', {
      ...backendProps,
      ...backend,
      env: {
        ...backend.env,
        ...CELERY_HARNESS_ENV,
        CELERY_WORKER_CONCURRENCY: String(components.worker.concurrency),
        CELERY_MAX_MEMORY_PER_CHILD: String(components.worker.maxMemoryPerChildKiB),
      },
      files: celeryHarnessFiles(),
      name: objectName('worker'),
      labels: labels('worker', 'egress'),
      replicas: components.worker.replicas,
      resources: toResourceRequirements(components.worker.resources),
      // Celery defaults to one process per node CPU, and Plane's tasks keep what they allocate (an export of
      // 3,000 work items ~280 Mi): the concurrency and the per-child cap keep it inside its memory limit.
      command: celeryCommand(workerArgs('CELERY_WORKER_CONCURRENCY', 'CELERY_MAX_MEMORY_PER_CHILD')),
      probes: celeryProbes(STARTUP_SECONDS.celery),
      writablePaths: [BACKEND_LOG_PATH, TMP_PATH],
      // Uploads, live's document copies (copy_s3_object), and webhooks to the internet (minus the SSRF guard).
      calls: [...backend.calls, callTo(connections.objectStore), callTo(liveAhead), workerInternet(site)],
    });

    this.beatWorker = new AppDeployment(this, 'beat-worker', {
      ...backendProps,
      ...backend,
      name: objectName('beat-worker'),
      labels: labels('beat-worker', 'backend'),
      // Exactly one scheduler, never two during a rollout: two would enqueue every periodic task twice.
      replicas: 1,
      strategy: 'Recreate',
      env: { ...backend.env, ...CELERY_HARNESS_ENV },
      files: celeryHarnessFiles(),
      resources: toResourceRequirements(components.beatWorker.resources),
      command: celeryCommand(BEAT_ARGS),
      probes: celeryProbes(STARTUP_SECONDS.celery),
      writablePaths: [BACKEND_LOG_PATH, TMP_PATH],
    });

    this.migrator = new VersionedJob(this, 'migrator', {
      ...backendProps,
      ...backend,
      baseName: objectName('migrator'),
      version,
      labels: labels('migrator', 'backend'),
      resources: toResourceRequirements(components.migrator.resources),
      command: MIGRATOR_COMMAND,
      writablePaths: [BACKEND_LOG_PATH],
    });

    this.provisioning = new VersionedJob(this, 'provisioning', {
      ...backendProps,
      ...backend,
      env: { ...backend.env, PYTHONPATH: SCRIPTS_PATH, PLANE_K3S_USERS_FILE: USERS_FILE },
      secretEnv: { ...backend.secretEnv, ...provisioningSecretEnv(site) },
      files: provisioningFiles(site),
      baseName: objectName('provisioning'),
      version,
      rerunOnConfigChange: true,
      // It writes the admin's and agents' tokens into Plane: a rotated token needs a new run.
      handsSecretsOn: true,
      labels: labels('provisioning', 'backend'),
      resources: toResourceRequirements(components.provisioning.resources),
      command: PROVISIONING_COMMAND,
      writablePaths: [BACKEND_LOG_PATH, TMP_PATH],
    });

    const { lifetimeDays, overlapHours, rotation } = site.users.tokens;
    if (lifetimeDays !== undefined && rotation !== undefined) {
      this.tokenRotation = new TokenRotation(this, 'token-rotation', {
        ...backendProps,
        ...backend,
        name: objectName('token-rotation'),
        labels: labels('token-rotation', 'backend'),
        // The same work as provisioning: Django's start and a few rows.
        resources: toResourceRequirements(components.provisioning.resources),
        schedule: rotation.schedule,
        calls: [...backend.calls, kubeApiServer(site)],
        agents: site.users.agents.map((agent) => ({ id: agent.id, token: agentApiKey(agent.id) })),
        policy: { lifetimeDays, overlapHours, rotateDaysBeforeExpiry: rotation.daysBeforeExpiry },
        folder: PROVISION_FOLDER,
        modules: [`${PROVISION_MODULE}.py`, `${ROTATE_TOKENS_MODULE}.py`],
        module: ROTATE_TOKENS_MODULE,
        writablePaths: [BACKEND_LOG_PATH, TMP_PATH],
      });
    }

    this.secretKeys = [
      { ref: secrets.secretKey, generate: 'hex32' },
      { ref: secrets.liveServerSecretKey, generate: 'hex32' },
      ...connectionSecretKeys(site),
    ];

    this.live = new AppDeployment(this, 'live', {
      ...liveEnv(site, connections.redis, this.api.serviceEndpoint, secrets),
      namespace,
      name: objectName('live'),
      labels: labels('live', 'frontend'),
      image: planeImage(site, PLANE_IMAGES.live),
      runAs: NODE_USER,
      replicas: components.live.replicas,
      resources: toResourceRequirements(components.live.resources),
      port: FRONTEND_PORT,
      probes: httpProbes(HEALTH_PATHS.live, 'http', STARTUP_SECONDS.node),
    });
  }
}
