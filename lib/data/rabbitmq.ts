import { Construct } from 'constructs';
import { AmqpConnection } from '../connections';
import { DataServiceProps, DataStatefulSet } from '../constructs/data-stateful-set';
import { quantityToBytes } from '../config/quantity';
import { tcpProbes } from '../probes';

/** `image`: a pinned rabbitmq 4.x alpine image (uid 100, gid 101); `resources` needs a memory limit. */
export interface RabbitmqProps extends DataServiceProps {
  readonly user: string;
  readonly vhost: string;
  /** @default "plane-rabbitmq" (also the name of the Secret holding the password, key "password") */
  readonly name?: string;
}

const RABBITMQ_ALPINE_USER = { user: 100, group: 101 };
const PORT = 5672;
/** Share of the container limit RabbitMQ may use before it blocks publishers (Erlang needs the rest). */
const WATERMARK_SHARE = 0.6;

/** In-cluster RabbitMQ: Plane's Celery broker (v1.2.2 has no Redis fallback). */
export class Rabbitmq extends Construct {
  readonly connection: AmqpConnection;

  constructor(scope: Construct, id: string, props: RabbitmqProps) {
    super(scope, id);
    const name = props.name ?? 'plane-rabbitmq';
    const password = { secretName: name, key: 'password' };
    const memoryLimit = props.resources.limits.memory;
    if (!memoryLimit) throw new Error(`${name}: a memory limit is required to size RabbitMQ's watermark`);
    const watermarkMiB = Math.floor((quantityToBytes(memoryLimit) * WATERMARK_SHARE) / 1024 ** 2);
    const service = new DataStatefulSet(this, 'stateful-set', {
      namespace: props.namespace,
      name,
      labels: props.labels,
      image: props.image,
      runAs: RABBITMQ_ALPINE_USER,
      resources: props.resources,
      port: PORT,
      portName: 'amqp',
      env: { RABBITMQ_DEFAULT_USER: props.user, RABBITMQ_DEFAULT_VHOST: props.vhost },
      secretEnv: { RABBITMQ_DEFAULT_PASS: password },
      // Added next to the image's conf.d/10-defaults.conf, which stays in place.
      files: {
        '/etc/rabbitmq/conf.d/20-plane.conf': [
          `vm_memory_high_watermark.absolute = ${watermarkMiB}MiB`,
          // Celery 5.4 declares transient non-exclusive queues and uses global QoS; RabbitMQ 4.3 refuses
          // both unless permitted (4.2 only warns).
          'deprecated_features.permit.transient_nonexcl_queues = true',
          'deprecated_features.permit.global_qos = true',
          '',
        ].join('\n'),
      },
      // A TCP connect costs nothing; rabbitmq-diagnostics would start an Erlang VM inside the memory limit on every probe.
      probes: tcpProbes('amqp', 180),
      dataPath: '/var/lib/rabbitmq',
      storage: props.storage,
      storageClass: props.storageClass,
      writablePaths: ['/var/log/rabbitmq', '/tmp'],
    });
    this.connection = {
      ...service.endpoint,
      user: props.user,
      vhost: props.vhost,
      password,
      secretKeys: [{ ref: password, generate: 'hex24' }],
    };
  }
}
