/**
 * Kubernetes resource quantities, parsed to numbers so budgets can be summed.
 * Only the suffixes this project writes are accepted: decimal millicores for CPU,
 * binary (Ki/Mi/Gi/Ti) or decimal (k/M/G/T) bytes for memory and storage.
 */

const CPU_PATTERN = /^(\d+(\.\d+)?)(m?)$/;
const BYTES_PATTERN = /^(\d+(\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/;

const BYTE_FACTORS: Record<string, number> = {
  '': 1,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
};

export function isCpuQuantity(value: string): boolean {
  return CPU_PATTERN.test(value);
}

export function isByteQuantity(value: string): boolean {
  return BYTES_PATTERN.test(value);
}

/** "500m" → 500, "1" → 1000, "0.25" → 250. */
export function cpuToMillicores(value: string): number {
  const match = CPU_PATTERN.exec(value);
  if (!match) throw new Error(`not a CPU quantity: ${value}`);
  const amount = Number(match[1]);
  return match[3] === 'm' ? amount : Math.round(amount * 1000);
}

/** "512Mi" → 536870912. */
export function quantityToBytes(value: string): number {
  const match = BYTES_PATTERN.exec(value);
  if (!match) throw new Error(`not a byte quantity: ${value}`);
  return Math.round(Number(match[1]) * BYTE_FACTORS[match[3] ?? '']);
}

/**
 * Why a byte quantity is not a whole number of bytes, or undefined; computed exactly (0.1Ki is 102.4
 * bytes, 1.1k is 1100). Kubernetes rounds a fraction of a byte up, so "0.5" or "0.1Ki" would silently
 * mean something else than written.
 */
export function fractionalBytesIssue(value: string): string | undefined {
  const match = BYTES_PATTERN.exec(value);
  if (!match) throw new Error(`not a byte quantity: ${value}`);
  const [whole, fraction = ''] = match[1].split('.');
  const factor = BigInt(BYTE_FACTORS[match[3] ?? '']);
  const scale = 10n ** BigInt(fraction.length);
  const scaled = BigInt(whole + fraction) * factor;
  if (scaled === 0n) return undefined; // zero is reported as such by the caller
  if (scaled < scale) return `${value} is less than one byte`;
  return scaled % scale === 0n ? undefined : `${value} is not a whole number of bytes`;
}

export function formatMillicores(millicores: number): string {
  return `${(millicores / 1000).toFixed(2)} CPU`;
}

export function formatBytes(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(2)} GiB` : `${Math.round(bytes / 1024 ** 2)} MiB`;
}
