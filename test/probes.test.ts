import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { componentTemplate, containersOf, Manifest, podTemplates, synth } from './helpers';

const manifests = synth();

/** Plane's real health endpoints (reference); the seed's /api/health/ does not exist in CE. */
const HTTP_ENDPOINTS: Record<string, string> = {
  web: '/',
  space: '/spaces/',
  admin: '/god-mode/',
  live: '/live/health',
  api: '/',
};

function handlerOf(probe: Manifest): Manifest {
  return probe.httpGet ?? probe.tcpSocket ?? probe.exec;
}

describe('probes', () => {
  for (const { kind, name, template } of podTemplates(manifests).filter((t) => t.kind !== 'Job')) {
    for (const container of containersOf(template).filter((c) => (c.ports ?? []).length > 0)) {
      describe(`${kind} ${name}/${container.name} (serves a port)`, () => {
        it('has startup, readiness and liveness probes', () => {
          for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) assert.ok(container[probe], `no ${probe}`);
        });

        it("checks liveness at the seed's cadence: every 30 s, 10 s timeout, 3 failures", () => {
          const { periodSeconds, timeoutSeconds, failureThreshold } = container.livenessProbe;
          assert.deepEqual(
            { periodSeconds, timeoutSeconds, failureThreshold },
            { periodSeconds: 30, timeoutSeconds: 10, failureThreshold: 3 },
          );
        });

        it('probes a port the container declares (or a numbered one)', () => {
          const names = new Set((container.ports ?? []).map((p: Manifest) => p.name));
          for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
            const port = handlerOf(container[probe])?.port;
            if (port !== undefined) assert.ok(typeof port === 'number' || names.has(port), `${probe} uses undeclared port ${port}`);
          }
        });
      });
    }
  }

  for (const [component, path] of Object.entries(HTTP_ENDPOINTS)) {
    it(`${component} is probed on ${path}`, () => {
      const container = containersOf(componentTemplate(manifests, component).template)[0];
      for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
        assert.equal(container[probe].httpGet?.path, path, `${component} ${probe}`);
      }
    });
  }

  it('gives the api at least 10 minutes to start (wait_for_migrations, register_instance, collectstatic)', () => {
    const { startupProbe } = containersOf(componentTemplate(manifests, 'api').template)[0];
    assert.ok(startupProbe.periodSeconds * startupProbe.failureThreshold >= 600);
  });

  it("sends the api's probes with a Host that Django's ALLOWED_HOSTS accepts", () => {
    const api = containersOf(componentTemplate(manifests, 'api').template)[0];
    const configMap = manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name === 'plane-api-env');
    const allowed = configMap?.data.ALLOWED_HOSTS.split(',');
    const host = api.livenessProbe.httpGet.httpHeaders.find((h: Manifest) => h.name === 'Host')?.value;
    assert.ok(allowed.includes(host), `probe Host ${host} not in ${allowed}`);
  });

  it('probes data services on their own health check', () => {
    const exec = (component: string) =>
      containersOf(componentTemplate(manifests, component).template)[0].livenessProbe.exec?.command.join(' ');
    assert.match(exec('postgres'), /^pg_isready /);
    assert.match(exec('redis'), /valkey-cli .* ping/);
    const garage = containersOf(componentTemplate(manifests, 'object-store').template)[0];
    assert.equal(garage.livenessProbe.httpGet.path, '/health');
  });
});
