/**
 * Why the Caddy container keeps NET_BIND_SERVICE (lib/hardening.ts `keepNetBindService`): the official
 * image installs /usr/bin/caddy with `setcap cap_net_bind_service=+ep`. The kernel refuses to execve a
 * binary whose file capabilities carry the effective bit when the bounding set lacks one of them, so
 * with `drop: [ALL]` alone the container could not even start, high ports or not. Shown here with the
 * real binary, the same file capability and the pod's settings (non-root, no new privileges).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { after, describe, it } from 'node:test';
import { imageLikeBinary, podLikeCommand, tempDir } from './harness';

const dir = tempDir('capability');
const binary = process.getuid?.() === 0 ? imageLikeBinary(dir) : undefined;
const skip = binary ? undefined : "needs root and setcap (libcap2-bin) to give a copy of Caddy the image's file capability";

function run(command: string[]): { code: number | null; output: string } {
  const result = spawnSync(command[0], command.slice(1), { encoding: 'utf8' });
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

describe("the Caddy image binary under the pod's capabilities", { skip }, () => {
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('carries cap_net_bind_service with the effective bit, as the image does', () => {
    assert.match(run(['getcap', binary as string]).output, /cap_net_bind_service=ep/);
  });

  it('cannot even be executed when every capability is dropped (EPERM)', () => {
    const result = run(podLikeCommand(binary as string, ['version'], '-all'));
    assert.notEqual(result.code, 0);
    assert.match(result.output, /Operation not permitted/);
  });

  it('runs with NET_BIND_SERVICE kept in the bounding set, and nothing else', () => {
    const result = run(podLikeCommand(binary as string, ['version'], '-all,+net_bind_service'));
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /^v2\.\d+\.\d+/);
  });
});
