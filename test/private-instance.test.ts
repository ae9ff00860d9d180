/**
 * A private Plane by default: the site's `plane.access` reaches Plane twice, as the environment its
 * configure_instance reads on the first start, and as the rows the provisioning Job writes on each run;
 * telemetry's exporter points at loopback in every backend pod whatever the setting.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { find, Manifest, podTemplates, siteWith, synth } from './helpers';

const manifests = synth();
const provisioningSpec = (all: Manifest[]) => JSON.parse(find(all, 'ConfigMap', 'plane-provisioning-files').data['users.json']);
const backendEnvs = (all: Manifest[]) =>
  ['api', 'worker', 'beat-worker', 'migrator', 'provisioning'].map((c) => find(all, 'ConfigMap', `plane-${c}-env`).data);

describe('private instance', () => {
  it('closes sign-up and workspace creation, and turns telemetry off, by default', () => {
    const spec = provisioningSpec(manifests);
    assert.deepEqual(spec.instanceSettings, {
      ENABLE_SIGNUP: '0',
      DISABLE_WORKSPACE_CREATION: '1',
      ENABLE_MAGIC_LINK_LOGIN: '0',
      IS_INTERCOM_ENABLED: '0',
    });
    assert.equal(spec.telemetry, false);
    assert.equal(spec.instanceName, 'Javisi');
    for (const env of backendEnvs(manifests)) {
      assert.equal(env.ENABLE_SIGNUP, '0');
      assert.equal(env.DISABLE_WORKSPACE_CREATION, '1');
    }
  });

  it('follows the site when it opens them', () => {
    const open = synth(
      siteWith((s) => {
        s.plane.access = { signUp: true, workspaceCreationByMembers: true, telemetry: true };
      }),
    );
    assert.deepEqual(provisioningSpec(open).instanceSettings, {
      ENABLE_SIGNUP: '1',
      DISABLE_WORKSPACE_CREATION: '0',
      // Magic-code login stays off whatever the site opens: v1.2.2's has no attempt limit (CVE-2026-105638).
      ENABLE_MAGIC_LINK_LOGIN: '0',
      IS_INTERCOM_ENABLED: '1',
    });
    assert.equal(provisioningSpec(open).telemetry, true);
    for (const env of backendEnvs(open)) assert.equal(env.ENABLE_SIGNUP, '1');
  });

  it('on v1.3.1, the same settings less Intercom (the release has none), whatever telemetry says', () => {
    for (const telemetry of [false, true]) {
      const v131 = synth(
        siteWith((s) => {
          s.images.plane.tag = 'v1.3.1';
          s.plane.access.telemetry = telemetry;
        }),
      );
      assert.deepEqual(provisioningSpec(v131).instanceSettings, {
        ENABLE_SIGNUP: '0',
        DISABLE_WORKSPACE_CREATION: '1',
        ENABLE_MAGIC_LINK_LOGIN: '0',
      });
      assert.equal(provisioningSpec(v131).telemetry, telemetry);
      for (const env of backendEnvs(v131)) assert.equal(env.IS_INTERCOM_ENABLED, undefined);
    }
  });

  it("sends Plane's traces to loopback in every Django process, telemetry on or off", () => {
    for (const all of [
      manifests,
      synth(
        siteWith((s) => {
          s.plane.access.telemetry = true;
        }),
      ),
    ]) {
      for (const env of backendEnvs(all)) assert.match(env.OTLP_ENDPOINT, /^http:\/\/127\.0\.0\.1:\d+$/);
    }
  });

  it("gives the provisioning Job the names Plane's profile form accepts", () => {
    const { admin, agents } = provisioningSpec(manifests);
    assert.deepEqual([admin.displayName, admin.firstName, admin.lastName], ['Mobuone', 'Mobuone', 'Human']);
    const explorer = agents.find((a: Manifest) => a.id === 'explorer');
    assert.deepEqual(
      [explorer.displayName, explorer.firstName, explorer.lastName, explorer.role],
      ['R2D2', 'Artoo-Detoo', 'Explorer AI', 'Member'],
    );
    for (const person of [admin, ...agents]) {
      assert.match(person.displayName, /^[\p{L}\p{N}_.-]+$/u);
      assert.match(person.firstName, /^[\p{L}\s'-]{1,50}$/u);
      assert.match(person.lastName, /^[\p{L}\s'-]{0,50}$/u);
    }
  });

  it("refuses a name Plane's profile form would refuse, naming the field to set", () => {
    assert.throws(
      () =>
        siteWith((s) => {
          s.users.agents[4].firstName = undefined;
          delete s.users.agents[4].firstName;
        }),
      /users\.agents\[4\]\.displayName: "R2D2" cannot be Plane's first name .*set firstName/,
    );
    assert.throws(
      () =>
        siteWith((s) => {
          s.users.agents[0].displayName = 'Mobutoo the 1st (Concierge AI)';
        }),
      /users\.agents\[0\]\.displayName: "Mobutoo the 1st" cannot be Plane's first name/,
    );
    assert.throws(
      () =>
        siteWith((s) => {
          s.users.admin.lastName = 'Human <admin>';
        }),
      /users\.admin\.lastName: "Human <admin>" cannot be Plane's last name/,
    );
  });

  it("only the provisioning Job reads the admin's password", () => {
    const readers = podTemplates(manifests).filter(({ template }) =>
      template.spec.containers.some((c: Manifest) =>
        (c.env ?? []).some((e: Manifest) => e.valueFrom?.secretKeyRef?.name === 'plane-admin'),
      ),
    );
    assert.deepEqual(
      readers.map((r) => r.template.metadata.labels['app.kubernetes.io/name']),
      ['provisioning'],
    );
  });
});
