/**
 * Picks the fastest TensorFlow.js backend available: `@tensorflow/tfjs-node-gpu`, then
 * `@tensorflow/tfjs-node` (optional peer dependencies: they download libtensorflow at install, so
 * they are loaded dynamically only when the user installed them), then wasm, then the pure-JS cpu.
 */
import * as tf from '@tensorflow/tfjs-core';
// Side effect: the cpu backend is always there as the last resort.
import '@tensorflow/tfjs-backend-cpu';
// Side effect: registers every op's gradient (tfjs-core's Node bundle does not).
import '@tensorflow/tfjs-layers';
import { UserInputError } from '../../errors.js';
import { registerWasmConvGradients } from './wasm-conv-kernels.js';
import { registerWasmPoolGradients } from './wasm-pool-kernels.js';
import { registerWasmMatMulFix } from './wasm-matmul-kernels.js';

export type BackendPreference = 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_PREFERENCES: readonly BackendPreference[] = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

export interface BackendAttempt {
  candidate: Exclude<BackendPreference, 'auto'>;
  /** Why the candidate was not used (module missing, setBackend failed, ...). */
  error: string;
}

export interface LoadedBackend {
  /** tfjs backend name: `tensorflow`, `wasm` or `cpu`. */
  name: string;
  /** Human description for the report, e.g. `tensorflow (GPU)`, `wasm (simd, 1 thread)`. */
  device: string;
  tf: typeof tf;
  /** Candidates tried before the one picked, with the reason each was skipped. */
  skipped: BackendAttempt[];
}

type Candidate = Exclude<BackendPreference, 'auto'>;

const ORDER: Candidate[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

function message(e: unknown): string {
  return e instanceof Error ? e.message.split('\n')[0] : String(e);
}

async function importOptional(specifier: string): Promise<void> {
  // A variable specifier keeps TypeScript and bundlers from resolving a peer dependency that is
  // usually absent.
  const name: string = specifier;
  await import(name);
}

async function trySetBackend(name: string): Promise<boolean> {
  try {
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}

async function tryCandidate(c: Candidate): Promise<{ name: string; device: string }> {
  switch (c) {
    case 'tensorflow-gpu':
    case 'tensorflow': {
      await importOptional(c === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node');
      if (!(await trySetBackend('tensorflow'))) throw new Error("setBackend('tensorflow') failed");
      return { name: 'tensorflow', device: c === 'tensorflow-gpu' ? 'tensorflow (GPU)' : 'tensorflow (CPU)' };
    }
    case 'wasm': {
      await importOptional('@tensorflow/tfjs-backend-wasm');
      // Without these a CNN cannot train on wasm (no Conv2DBackpropFilter in tfjs 4.22).
      registerWasmConvGradients();
      // wasm's own MaxPoolGrad is a scalar loop, the slowest kernel of a CNN step (wasm-pool-kernels.ts).
      registerWasmPoolGradients();
      // wasm's BatchMatMul is ~15x slower with transposed operands, as in every dense layer's gradient.
      registerWasmMatMulFix();
      if (!(await trySetBackend('wasm'))) throw new Error("setBackend('wasm') failed");
      const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? 'simd' : 'no simd';
      // The wasm backend runs single-threaded under Node (DESIGN.md).
      return { name: 'wasm', device: `wasm (${simd}, 1 thread)` };
    }
    case 'cpu': {
      if (!(await trySetBackend('cpu'))) throw new Error("setBackend('cpu') failed");
      return { name: 'cpu', device: 'cpu (pure JavaScript)' };
    }
  }
}

/**
 * Loads and activates a backend. `auto` (default) walks tensorflow-gpu → tensorflow → wasm → cpu and
 * keeps the first that works; naming one backend falls back to cpu only if that one fails (the
 * failure is listed in `skipped`). A failed `setBackend` leaves the engine without a usable backend
 * until another is set, so every failure is followed by the next candidate, ending with cpu.
 */
export async function loadBackend(preferred: BackendPreference = 'auto'): Promise<LoadedBackend> {
  if (!BACKEND_PREFERENCES.includes(preferred)) {
    throw new UserInputError('backend', preferred, BACKEND_PREFERENCES.join(', '), 'unknown backend');
  }
  const candidates: Candidate[] = preferred === 'auto' ? ORDER : preferred === 'cpu' ? ['cpu'] : [preferred, 'cpu'];
  const skipped: BackendAttempt[] = [];
  for (const c of candidates) {
    try {
      const picked = await tryCandidate(c);
      await tf.ready();
      return { ...picked, tf, skipped };
    } catch (e) {
      skipped.push({ candidate: c, error: message(e) });
    }
  }
  throw new Error(`no TensorFlow.js backend could be started: ${skipped.map((s) => `${s.candidate}: ${s.error}`).join('; ')}`);
}

/** One line for logs: `wasm (simd, 1 thread); skipped tensorflow-gpu (module not installed)`. */
export function describeBackend(b: LoadedBackend): string {
  // Node says "Cannot find package", bundlers and vite say "Could not resolve".
  const why = (e: string): string => (/Cannot find (module|package)|Could not resolve|MODULE_NOT_FOUND/.test(e) ? 'not installed' : e);
  return b.skipped.length ? `${b.device}; skipped ${b.skipped.map((s) => `${s.candidate} (${why(s.error)})`).join(', ')}` : b.device;
}
