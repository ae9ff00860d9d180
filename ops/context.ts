/** What every command works with: the cluster, the expected stack, and the redactor for its output. */
import { SecretKeyRef } from '../lib/connections';
import { Kube } from './kube';
import { Redactor } from './report';
import { Stack } from './stack';

export class OpsContext {
  readonly redactor = new Redactor();

  constructor(
    readonly kube: Kube,
    readonly stack: Stack,
    readonly json: boolean,
  ) {}

  /** A Secret's decoded values, or undefined when it does not exist; every secret value is redacted from then on. */
  async readSecret(name: string, namespace = this.stack.namespace): Promise<Record<string, string> | undefined> {
    const secret = await this.kube.maybe(() => this.kube.core.readNamespacedSecret({ name, namespace }));
    if (!secret) return undefined;
    const values: Record<string, string> = {};
    // Plain values written from the site (the app URL, the workspace slug) are not secret.
    const plain = this.stack.secret(name)?.keys ?? {};
    for (const [key, encoded] of Object.entries(secret.data ?? {})) {
      values[key] = Buffer.from(encoded, 'base64').toString('utf8');
      if (!('value' in (plain[key] ?? {}))) this.redactor.add(values[key]);
    }
    return values;
  }

  /** One key of a Secret that must exist, with a message naming what to do when it does not. */
  async secretValue(ref: SecretKeyRef): Promise<string> {
    const values = await this.readSecret(ref.secretName);
    if (!values) throw new Error(`Secret ${this.stack.namespace}/${ref.secretName} does not exist (kubectl apply -f dist makes it)`);
    const value = values[ref.key];
    if (!value) throw new Error(`Secret ${this.stack.namespace}/${ref.secretName} has no key ${ref.key}`);
    return value;
  }
}
