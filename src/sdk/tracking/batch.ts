/**
 * Splitting `runs/log-batch` payloads at the server's limits (MLflow REST docs): at most 1000
 * metrics, 100 params, 100 tags, 1000 entities in all and 1 MB per request. A server refuses a
 * larger batch with INVALID_PARAMETER_VALUE, so the client splits before sending.
 */

/** A metric value as it goes on the wire: MLflow takes "NaN"/"Infinity"/"-Infinity" as strings. */
export type WireNumber = number | 'NaN' | 'Infinity' | '-Infinity';

export interface WireMetric {
  key: string;
  value: WireNumber;
  timestamp: number;
  step: number;
}
export interface WireKeyValue {
  key: string;
  value: string;
}
export interface LogBatch {
  metrics: WireMetric[];
  params: WireKeyValue[];
  tags: WireKeyValue[];
}

export const BATCH_LIMITS = {
  metrics: 1000,
  params: 100,
  tags: 100,
  entities: 1000,
  /** Bytes of the JSON body; kept under 1 MB with room for the envelope. */
  bytes: 1_000_000 - 1024,
} as const;

export type BatchLimits = { [K in keyof typeof BATCH_LIMITS]: number };

export function toWireNumber(x: number): WireNumber {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  return x;
}

export function fromWireNumber(x: WireNumber | string | number | null): number {
  if (x === null) return NaN;
  if (typeof x === 'number') return x;
  if (x === 'NaN') return NaN;
  if (x === 'Infinity') return Infinity;
  if (x === '-Infinity') return -Infinity;
  return Number(x);
}

/**
 * Size of one entity in the JSON body (its encoding plus a comma). For a metric an upper bound is
 * enough and much cheaper than encoding it: `{"key":"","value":,"timestamp":,"step":}` is 38
 * bytes, a number at most 24, a timestamp 13 and a step 20.
 */
function entityBytes(e: WireMetric | WireKeyValue): number {
  if ('step' in e) return Buffer.byteLength(e.key) + 38 + 24 + 13 + 20 + 1;
  return Buffer.byteLength(JSON.stringify(e)) + 1;
}

/**
 * Splits a batch into as few requests as the limits allow: each request takes up to 100 params,
 * then up to 100 tags, then metrics up to the 1000-entity and byte limits. Order is kept within
 * each kind (metrics of one key stay in step order); params go first so that a request refused for
 * a changed param fails before any metric of it is written.
 */
export function splitLogBatch(batch: Partial<LogBatch>, limits: Partial<BatchLimits> = {}): LogBatch[] {
  const lim = { ...BATCH_LIMITS, ...limits };
  const queues = { params: batch.params ?? [], tags: batch.tags ?? [], metrics: batch.metrics ?? [] };
  const next = { params: 0, tags: 0, metrics: 0 };
  const out: LogBatch[] = [];
  while (next.params < queues.params.length || next.tags < queues.tags.length || next.metrics < queues.metrics.length) {
    const cur: LogBatch = { metrics: [], params: [], tags: [] };
    let bytes = 64;
    let n = 0;
    for (const kind of ['params', 'tags', 'metrics'] as const) {
      const q = queues[kind] as Array<WireMetric | WireKeyValue>;
      while (next[kind] < q.length && cur[kind].length < lim[kind] && n < lim.entities) {
        const b = entityBytes(q[next[kind]]);
        // An entity bigger than the limit alone still goes (alone): the server decides.
        if (n > 0 && bytes + b > lim.bytes) break;
        (cur[kind] as Array<WireMetric | WireKeyValue>).push(q[next[kind]++]);
        bytes += b;
        n++;
      }
    }
    out.push(cur);
  }
  return out;
}
