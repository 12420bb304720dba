/**
 * Benchmark: the cost of logging 10,000 metric points to a real MLflow server from a CPU-busy
 * training loop. Targets (issue 4): at most 15 HTTP requests, at most 2% added wall time, measured
 * side by side with logging off (alternating, repeated). Also compares with one request per point
 * (MLflow users report 90 s against 4 s for 1,000 points).
 *
 *   node --import tsx bench/mlflow-logging.ts            # starts its own server
 *   SUPERCONVERGE_MLFLOW_URL=http://127.0.0.1:5000 ...   # or uses yours
 *   BENCH_STEPS=2000 BENCH_REPEATS=9 BENCH_STEP_MS=10    # loop size
 *   BENCH_PIN=0                                           # do not pin the loop and the server to CPUs
 *   BENCH_WARMUP_S=60                                     # uncounted pairs until this much time passed
 *
 * How it decides. The overhead is the added CPU time of the training process (median of the
 * paired on/off ratios) plus the wait in `close()` relative to the loop: on an idle machine a
 * CPU-bound single-threaded loop gains exactly that much wall time. Its uncertainty comes from the
 * pairs: a distribution-free confidence interval of the median (order statistics, >= 90%). The
 * target is met when the whole interval is <= 2%, missed when all of it is > 2%, otherwise the
 * machine was too noisy to tell. Two steadier numbers explain the result: the time the process
 * spends outside the training step (the logging's own work, as the step's time is subtracted)
 * and the CPU time of the local MLflow server, which shares the 2 cores with the loop here but not
 * in a real deployment.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { MlflowClient, MlflowTracker, resolveMlflowConfig } from '../src/sdk/tracking/index.js';
import { findMlflowBin, startMlflowServer, type MlflowServer } from '../test/support/mlflow-server.js';
import { envNumber, machine, median, spread, table, writeResult, yieldToLoop } from './_common.js';

const STEPS = envNumber('BENCH_STEPS', 2000, { integer: true, min: 1 });
const REPEATS = envNumber('BENCH_REPEATS', 9, { integer: true, min: 1 });
/** Pin the training process to CPU 0 and the local server to the last CPU (Linux, taskset). */
const PIN = process.env.BENCH_PIN !== '0';
const WARMUP_S = envNumber('BENCH_WARMUP_S', 60, { min: 0 });
const STEP_MS = envNumber('BENCH_STEP_MS', 10, { min: 0.01 });
const METRICS_PER_STEP = 5;
const POINTS = STEPS * METRICS_PER_STEP;
const TARGET_PCT = 2;

/** Fixed arithmetic work (not a clock spin), so any time taken by logging shows in the wall time. */
let sink = 0;
function work(iterations: number): void {
  let x = sink;
  for (let i = 0; i < iterations; i++) x = (x * 1.0000001 + Math.sqrt(i)) % 1e6;
  sink = x;
}

/**
 * Iterations of `work` that take `ms` on this machine when it runs undisturbed: the fastest of 7
 * timings, so that a time slice lost to another process during calibration does not shorten every
 * step of the benchmark (a shorter loop inflates the close() wait's share).
 */
function calibrate(ms: number): number {
  let n = 100_000;
  for (;;) {
    const t0 = performance.now();
    work(n);
    const dt = performance.now() - t0;
    if (dt > 50) break;
    n *= 2;
  }
  let best = Infinity;
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    work(n);
    best = Math.min(best, performance.now() - t0);
  }
  return Math.round((n * ms) / best);
}

const cpuMs = (): number => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};

interface LoopResult {
  seconds: number;
  cpuSeconds: number;
  /** Wall and CPU time outside `work()`: the loop's own bookkeeping plus everything logging does. */
  outsideSeconds: number;
  outsideCpuSeconds: number;
  requests: number;
  closeSeconds: number;
  /** CPU seconds of the local MLflow server during the run (undefined for an external server). */
  serverCpuSeconds?: number;
}

/** The /proc/<pid>/stat fields after the command (which may hold spaces): state ppid pgrp ... */
function* procStats(): Generator<{ pid: number; fields: string[] }> {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      yield { pid: Number(d), fields: stat.slice(stat.lastIndexOf(')') + 2).split(' ') };
    } catch {
      // the process ended while we read
    }
  }
}

/** CPU seconds (user + system) of every process in a process group, from /proc (Linux). */
function groupCpuSeconds(pgid: number | undefined): number | undefined {
  if (pgid === undefined || process.platform !== 'linux') return undefined;
  let ticks = 0;
  // utime(14) and stime(15) of stat(5), counted from the state field.
  for (const { fields } of procStats()) if (Number(fields[2]) === pgid) ticks += Number(fields[11]) + Number(fields[12]);
  return ticks / 100; // USER_HZ is 100 on Linux
}

/**
 * Puts the training loop (every thread of this process) on CPU 0 and every process of the local
 * server's group on the last CPU, so that the server's work on each request (~0.1 s of CPU here)
 * does not take time slices from the loop: a real server runs on another machine. Without pinning,
 * the server and the loop share 2 cores with the loop's own helper threads, and the wall-time
 * pairs mix the logging's cost with the server's. Returns what was done, for the result file.
 */
function pin(serverPgid: number | undefined): string {
  const n = cpus().length;
  if (!PIN) return 'off (BENCH_PIN=0)';
  if (process.platform !== 'linux' || n < 2 || serverPgid === undefined) return 'not possible (needs Linux, 2+ CPUs and a local server)';
  try {
    execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
    const server = [...procStats()].filter((p) => Number(p.fields[2]) === serverPgid).map((p) => p.pid);
    for (const pid of server) execFileSync('taskset', ['-a', '-p', '-c', String(n - 1), String(pid)], { stdio: 'ignore' });
    return `training process on CPU 0, ${server.length} server process(es) on CPU ${n - 1}`;
  } catch (err) {
    return `failed (${err instanceof Error ? err.message.split('\n')[0] : String(err)}): not pinned`;
  }
}

async function trainingLoop(iterations: number, tracker?: MlflowTracker, serverPid?: number): Promise<LoopResult> {
  const server0 = tracker ? groupCpuSeconds(serverPid) : undefined;
  const t0 = performance.now();
  const cpu0 = cpuMs();
  let inWork = 0;
  let inWorkCpu = 0;
  const run = tracker?.startRun('bench', { params: { steps: STEPS } });
  for (let step = 0; step < STEPS; step++) {
    const w0 = performance.now();
    const c0 = cpuMs();
    work(iterations);
    inWorkCpu += cpuMs() - c0;
    inWork += performance.now() - w0;
    // A real loop awaits the backend each step (tf data / dataSync): the sender runs in these gaps.
    await yieldToLoop();
    if (tracker && run) {
      const p = step / STEPS;
      tracker.logMetrics(run, { loss: 2.3 * (1 - p) + 0.1, smoothedLoss: 2.3 * (1 - p) + 0.11, valLoss: 2.3 * (1 - p) + 0.2, lr: 1e-4 * 10 ** (4 * p), momentum: 0.95 - 0.1 * p }, step);
    }
  }
  const t1 = performance.now();
  if (tracker && run) {
    tracker.endRun(run, 'FINISHED');
    await tracker.close();
  }
  const end = performance.now();
  const cpu = cpuMs() - cpu0;
  const server1 = tracker ? groupCpuSeconds(serverPid) : undefined;
  return {
    seconds: (end - t0) / 1000,
    cpuSeconds: cpu / 1000,
    outsideSeconds: (end - t0 - inWork) / 1000,
    outsideCpuSeconds: (cpu - inWorkCpu) / 1000,
    requests: tracker?.client.requestCount ?? 0,
    closeSeconds: (end - t1) / 1000,
    serverCpuSeconds: server0 !== undefined && server1 !== undefined ? server1 - server0 : undefined,
  };
}

/** P(X <= k) for X ~ Binomial(n, 1/2). */
function binomCdfHalf(k: number, n: number): number {
  let c = 1;
  let sum = 0;
  for (let i = 0; i <= k; i++) {
    sum += c;
    c = (c * (n - i)) / (i + 1);
  }
  return sum / 2 ** n;
}

/**
 * A distribution-free confidence interval of the median: [x(k), x(n+1-k)] of the sorted sample
 * covers the median with probability 1 - 2 P(B(n, 1/2) <= k-1). Takes the narrowest with >= 90%.
 */
function medianInterval(xs: readonly number[]): { low: number; high: number; coverage: number } | undefined {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  let best: { low: number; high: number; coverage: number } | undefined;
  for (let k = 1; 2 * k <= n; k++) {
    const coverage = 1 - 2 * binomCdfHalf(k - 1, n);
    if (coverage < 0.9) break;
    best = { low: s[k - 1], high: s[n - k], coverage };
  }
  return best;
}

const pct = (x: number, d = 2): string => `${x.toFixed(d)}%`;
const range = (xs: number[], d = 2): string => {
  const [lo, hi] = spread(xs);
  return `${lo.toFixed(d)} to ${hi.toFixed(d)}`;
};

async function main(): Promise<void> {
  const mach = machine();
  let server: MlflowServer | undefined;
  let url = process.env.SUPERCONVERGE_MLFLOW_URL;
  if (!url) {
    const bin = findMlflowBin();
    if (!bin) throw new Error('no mlflow binary: set SUPERCONVERGE_MLFLOW_BIN or SUPERCONVERGE_MLFLOW_URL');
    server = await startMlflowServer({ bin });
    url = server.url;
  }
  try {
    const config = resolveMlflowConfig({ tracking: url, experimentName: 'bench-logging', env: {} });
    const pinned = pin(server?.pid);
    console.log(`pinning: ${pinned}`);
    const iterations = calibrate(STEP_MS);
    const off: LoopResult[] = [];
    const on: LoopResult[] = [];
    // Warm-up, not counted: whole runs each way (JIT of the loop and of the logging path, the HTTP
    // stack, the connection) until WARMUP_S have passed. The loop's own speed changes once in a
    // process's first ~30-60 s on this machine — `work()` alone, with no logging and no server, went
    // from ~15 to ~18.5 s per 1,000 calls and stayed there — and a pair that straddles the change
    // shows +10% that logging did not cause.
    const warm0 = performance.now();
    do {
      await trainingLoop(iterations);
      await trainingLoop(iterations, new MlflowTracker(mkdtempSync(join(tmpdir(), 'sc-bench-')), config), server?.pid);
    } while (performance.now() - warm0 < WARMUP_S * 1000);
    for (let r = 0; r < REPEATS; r++) {
      // Alternate the order so drift in machine load hits both sides alike.
      for (const mode of r % 2 === 0 ? ['off', 'on'] : ['on', 'off']) {
        if (mode === 'off') off.push(await trainingLoop(iterations));
        else on.push(await trainingLoop(iterations, new MlflowTracker(mkdtempSync(join(tmpdir(), 'sc-bench-')), config), server?.pid));
      }
      process.stderr.write(`repeat ${r + 1}/${REPEATS}: off ${off[r].seconds.toFixed(2)} s, on ${on[r].seconds.toFixed(2)} s (close ${on[r].closeSeconds.toFixed(3)} s, ${on[r].requests} requests)\n`);
    }
    const paired = (f: (x: LoopResult) => number): number[] => on.map((x, i) => (100 * (f(x) - f(off[i]))) / f(off[i]));
    const wallPct = paired((x) => x.seconds);
    const cpuPct = paired((x) => x.cpuSeconds);
    const closeS = on.map((x) => x.closeSeconds);
    const medOff = median(off.map((x) => x.seconds));
    const closePct = (100 * median(closeS)) / medOff;
    // The verdict's number (unchanged definition): added CPU time + the close() wait.
    const overheadPct = median(cpuPct) + closePct;
    const ci = medianInterval(cpuPct);
    const overheadCi = ci && { low: ci.low + closePct, high: ci.high + closePct, coverage: ci.coverage };
    // The logging's own work in the training process: time outside work(), on minus off, per pair.
    const outsideCpuPct = on.map((x, i) => (100 * (x.outsideCpuSeconds - off[i].outsideCpuSeconds)) / off[i].cpuSeconds);
    const outsideWallPct = on.map((x, i) => (100 * (x.outsideSeconds - off[i].outsideSeconds)) / off[i].seconds);
    // The logging's direct cost in the training process, per pair: CPU outside the step plus the
    // close() wait. It leaves out helper threads running during a step and the local server's share of
    // the cores (the paired CPU ratio includes them, with the machine's noise).
    const directPct = on.map((x, i) => outsideCpuPct[i] + (100 * x.closeSeconds) / off[i].seconds);
    const serverCpu = on.map((x) => x.serverCpuSeconds).filter((x): x is number => x !== undefined);
    const offCpuSpreadPct = (100 * (spread(off.map((x) => x.cpuSeconds))[1] - spread(off.map((x) => x.cpuSeconds))[0])) / median(off.map((x) => x.cpuSeconds));

    // One request per point, as a naive client (or mlflow.log_metric in a loop) does it: 1,000 points.
    const client = new MlflowClient(config);
    const exp = await client.getOrCreateExperiment('bench-logging');
    const naiveRun = await client.createRun({ experimentId: exp, runName: 'one-request-per-point' });
    const n = 1000;
    let t0 = performance.now();
    for (let i = 0; i < n; i++) await client.logBatch(naiveRun.run_id, { metrics: [{ key: 'loss', value: 1 / (i + 1), timestamp: Date.now(), step: i }] });
    const perPointSeconds = (performance.now() - t0) / 1000;
    const batchedRun = await client.createRun({ experimentId: exp, runName: 'batched' });
    const before = client.requestCount;
    t0 = performance.now();
    await client.logBatch(batchedRun.run_id, { metrics: Array.from({ length: n }, (_, i) => ({ key: 'loss', value: 1 / (i + 1), timestamp: Date.now(), step: i })) });
    const batchedSeconds = (performance.now() - t0) / 1000;
    const batchedRequests = client.requestCount - before;

    const requests = on.map((x) => x.requests);
    const maxRequests = Math.max(...requests);
    const verdict =
      maxRequests > 15 ? 'not met (requests)'
      : !overheadCi ? `inconclusive: ${REPEATS} repeats give no 90% interval (use BENCH_REPEATS >= 5)`
      : overheadCi.high <= TARGET_PCT ? 'met'
      : overheadCi.low > TARGET_PCT ? 'not met (overhead)'
      : `inconclusive: the ${Math.round(100 * overheadCi.coverage)}% interval ${overheadCi.low.toFixed(2)}% to ${overheadCi.high.toFixed(2)}% straddles ${TARGET_PCT}%`;
    const rows: string[][] = [
      ['metric points logged per run', String(POINTS)],
      ['HTTP requests per run', `${range(requests, 0)} (target <= 15)`],
      ['wall time, logging off / on (median s)', `${medOff.toFixed(2)} / ${median(on.map((x) => x.seconds)).toFixed(2)}`],
      ['added wall time, median of pairs (min to max)', `${pct(median(wallPct))} (${range(wallPct)})`],
      ['added CPU time, median of pairs (min to max)', `${pct(median(cpuPct))} (${range(cpuPct)})`],
      ['close() wait, median s (min to max)', `${median(closeS).toFixed(3)} (${range(closeS, 3)}) = ${pct(closePct)} of the loop`],
      ['overhead = added CPU + close() wait', `${pct(overheadPct)}${overheadCi ? `, ${Math.round(100 * overheadCi.coverage)}% interval ${pct(overheadCi.low)} to ${pct(overheadCi.high)}` : ''} (target <= ${TARGET_PCT}%)`],
      ['time outside the step, added CPU (median, min to max)', `${pct(median(outsideCpuPct), 3)} (${range(outsideCpuPct, 3)})`],
      ['time outside the step, added wall (median, min to max)', `${pct(median(outsideWallPct), 3)} (${range(outsideWallPct, 3)})`],
      ['direct cost = CPU outside the step + close() wait (median, min to max)', `${pct(median(directPct))} (${range(directPct)})`],
      ['local MLflow server CPU per run (median s)', serverCpu.length ? `${median(serverCpu).toFixed(2)} (${range(serverCpu)})` : 'n/a (external server)'],
      ['spread of logging-off CPU time', pct(offCpuSpreadPct, 1)],
      [`${n} points, one request each`, `${perPointSeconds.toFixed(2)} s, ${n} requests`],
      [`${n} points, batched`, `${batchedSeconds.toFixed(3)} s, ${batchedRequests} request(s)`],
      ['verdict', verdict],
    ];
    console.log(table(['measure', 'value'], rows));
    const file = writeResult({
      name: 'mlflow-logging',
      target: `logging ${POINTS} metric points costs <= 15 HTTP requests and adds <= ${TARGET_PCT}% wall time to a CPU-busy training loop`,
      met: verdict === 'met' ? true : verdict.startsWith('not met') ? false : null,
      verdict,
      machine: mach,
      pinning: pinned,
      points: POINTS,
      steps: STEPS,
      repeats: REPEATS,
      stepMs: STEP_MS,
      requestsPerRun: requests,
      maxRequests,
      overheadPct: Number(overheadPct.toFixed(3)),
      overheadInterval: overheadCi,
      cpuOverheadPct: Number(median(cpuPct).toFixed(3)),
      wallOverheadPct: Number(median(wallPct).toFixed(3)),
      closePct: Number(closePct.toFixed(3)),
      pairedCpuPct: cpuPct.map((x) => Number(x.toFixed(3))),
      pairedWallPct: wallPct.map((x) => Number(x.toFixed(3))),
      outsideCpuPct: outsideCpuPct.map((x) => Number(x.toFixed(3))),
      outsideWallPct: outsideWallPct.map((x) => Number(x.toFixed(3))),
      directPct: directPct.map((x) => Number(x.toFixed(3))),
      serverCpuSeconds: serverCpu,
      offCpuSpreadPct: Number(offCpuSpreadPct.toFixed(2)),
      off,
      on,
      onePerPoint: { points: n, requests: n, seconds: perPointSeconds },
      batched: { points: n, requests: batchedRequests, seconds: batchedSeconds },
      server: url.replace(/\/\/[^@/]*@/, '//'),
    });
    console.log(`written ${file}`);
  } finally {
    await server?.stop();
  }
}

await main();
