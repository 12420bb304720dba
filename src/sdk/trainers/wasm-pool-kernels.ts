/**
 * A faster max-pool gradient for the TensorFlow.js wasm backend.
 *
 * tfjs-backend-wasm 4.22's `MaxPoolGrad` is a scalar loop over every input pixel and window
 * position: in a training step of the demo CNN (batch 128) it was the largest kernel (~105 ms for
 * the 128x28x28x16 pool alone). For the usual configuration — a 2x2 window with stride 2 that tiles
 * the input exactly (NHWC, no padding) — we build the gradient from the backend's fast float
 * kernels (XNNPACK Sub/Multiply with broadcasting, Step, Relu, MaxPool), viewing x as
 * [B, H/2, 2, W/2, 2, C] and y = maxPool(x), dy as [B, H/2, 1, W/2, 1, C]:
 *
 * 1. notMax = Step(y - x, alpha -1): 1 where x is below its window's max, -1 where it equals it
 *    (y - x is exactly 0 only for equal floats: IEEE subtraction with subnormals);
 * 2. score = notMax * (-w), w = 4, 3, 2, 1 in row-major window order: +w at the maxima, -w elsewhere;
 * 3. best = MaxPool(score): the weight of the FIRST maximum of each window;
 * 4. dx = Relu(score - best + 1) * dy: scores are integers, distinct within a window, so the
 *    Relu is 1 at that one position and 0 at the others.
 *
 * Ties matter: after a ReLU whole windows are 0, and constant background gives equal positive
 * values. tfjs's cpu backend (like TensorFlow) sends the gradient to the FIRST maximum in row-major
 * window order (`pixel > maxValue` in its maxPoolPositions); wasm's own MaxPoolGrad picks the last
 * one (`>=`). We match cpu, checked by the tests on inputs full of ties.
 *
 * Dead ends, measured at 128x28x28x16: Equal/Cast/Tile take wasm's generic broadcasting path
 * (Equal with broadcasting 525 ms, Tile 390 ms); MaxPoolWithArgmax + ScatterNd would be 28 ms but
 * wasm's MaxPoolWithArgmax starts each window at FLT_MIN with index 0 (a window of zeros or
 * negatives points at element 0 of the batch) and keeps the LAST maximum (`>=`).
 *
 * wasm's own MaxPoolGrad has the same FLT_MIN start as its MaxPoolWithArgmax (tfjs 4.22,
 * MaxPoolGrad.cc): a window whose values are all <= ~1.2e-38 (zeros, negatives) loses its gradient.
 * Harmless after a ReLU (whose own gradient is 0 there), wrong for a pool over negative values. So
 * every other configuration (other windows or strides, odd sizes, padding) uses a plain JavaScript
 * loop over the wasm heap with cpu's rule (first value > the running max, starting at -Infinity,
 * padding skipped): exact, and faster than the built-in kernel (24 ms vs ~105 ms at 128x28x28x16).
 * Non-finite inputs (NaN, ±Inf) on the 2x2 fast path are not guaranteed to match cpu.
 */
import { backend_util, getKernel, MaxPoolGrad, type KernelFunc, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs-core';
import { wasmKernelSwap } from './wasm-kernel-swap.js';

type Backend = {
  disposeData(dataId: object, force?: boolean): boolean;
  makeOutput(shape: number[], dtype: 'float32', memoryOffset?: number, values?: Float32Array): TensorInfo;
  /** A view on the wasm heap: invalidated when the heap grows (any later allocation). */
  typedArrayFromHeap(t: TensorInfo): Float32Array;
};

interface MaxPoolGradAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function run(name: string, backend: Backend, inputs: Record<string, TensorInfo>, attrs: NamedAttrMap = {}): TensorInfo {
  const k = getKernel(name, 'wasm');
  if (!k) throw new Error(`wasm backend has no ${name} kernel, which the max-pool gradient needs`);
  const out = k.kernelFunc({ inputs: inputs as never, backend: backend as never, attrs }) as TensorInfo | TensorInfo[];
  return Array.isArray(out) ? out[0] : out;
}

function free(backend: Backend, ...infos: TensorInfo[]): void {
  for (const t of infos) backend.disposeData(t.dataId);
}

function constant(backend: Backend, shape: number[], values: number[]): TensorInfo {
  return backend.makeOutput(shape, 'float32', undefined, Float32Array.from(values));
}

/** True for a 2x2 window, stride 2, tiling a float32 NHWC input exactly with no padding. */
export function isFastMaxPoolCase(xShape: readonly number[], attrs: MaxPoolGradAttrs): boolean {
  if (xShape.length !== 4 || xShape.some((d) => d <= 0)) return false;
  const info = backend_util.computePool2DInfo(xShape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const { filterHeight, filterWidth, strideHeight, strideWidth, inHeight, inWidth, outHeight, outWidth, padInfo } = info;
  return (
    filterHeight === 2 &&
    filterWidth === 2 &&
    strideHeight === 2 &&
    strideWidth === 2 &&
    inHeight === 2 * outHeight &&
    inWidth === 2 * outWidth &&
    padInfo.top === 0 &&
    padInfo.left === 0 &&
    padInfo.bottom === 0 &&
    padInfo.right === 0
  );
}

/** Any window, stride and padding (NHWC, float32), with the cpu backend's tie rule. */
function maxPoolGradLoop(x: TensorInfo, dy: TensorInfo, attrs: MaxPoolGradAttrs, backend: Backend): TensorInfo {
  const info = backend_util.computePool2DInfo(x.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const { top, left } = info.padInfo;
  const out = backend.makeOutput(x.shape, 'float32');
  // Views taken after the allocation above (which may grow the heap).
  const xv = backend.typedArrayFromHeap(x);
  const dyv = backend.typedArrayFromHeap(dy);
  const dx = backend.typedArrayFromHeap(out);
  dx.fill(0);
  let o = 0;
  for (let b = 0; b < batchSize; b++) {
    const base = b * inHeight * inWidth * inChannels;
    for (let r = 0; r < outHeight; r++) {
      const r0 = Math.max(0, r * strideHeight - top);
      const r1 = Math.min(inHeight, r * strideHeight - top + filterHeight);
      for (let q = 0; q < outWidth; q++) {
        const c0 = Math.max(0, q * strideWidth - left);
        const c1 = Math.min(inWidth, q * strideWidth - left + filterWidth);
        for (let ch = 0; ch < inChannels; ch++, o++) {
          let best = Number.NEGATIVE_INFINITY;
          let at = -1;
          for (let i = r0; i < r1; i++) {
            for (let j = c0; j < c1; j++) {
              const p = base + (i * inWidth + j) * inChannels + ch;
              if (xv[p] > best) {
                best = xv[p];
                at = p;
              }
            }
          }
          // A window of NaN/-Infinity has no maximum: cpu drops its gradient too.
          if (at >= 0) dx[at] += dyv[o];
        }
      }
    }
  }
  return out;
}

function maxPoolGrad(args: { inputs: { dy: TensorInfo; input: TensorInfo; output: TensorInfo }; backend: Backend; attrs: NamedAttrMap }): TensorInfo {
  const { inputs, backend } = args;
  const attrs = args.attrs as unknown as MaxPoolGradAttrs;
  const { dy, input: x, output: y } = inputs;
  if (!y || x.dtype !== 'float32' || !isFastMaxPoolCase(x.shape, attrs)) return maxPoolGradLoop(x, dy, attrs, backend);
  const [b, h, w, c] = x.shape;
  const windowed = [b, h / 2, 2, w / 2, 2, c];
  const perWindow = [b, h / 2, 1, w / 2, 1, c];
  const x6 = run('Reshape', backend, { x }, { shape: windowed });
  const y6 = run('Reshape', backend, { x: y }, { shape: perWindow });
  const gap = run('Sub', backend, { a: y6, b: x6 });
  const notMax = run('Step', backend, { x: gap }, { alpha: -1 });
  const minusWeight = constant(backend, [1, 1, 2, 1, 2, 1], [-4, -3, -2, -1]);
  const score = run('Multiply', backend, { a: notMax, b: minusWeight });
  const score4 = run('Reshape', backend, { x: score }, { shape: [b, h, w, c] });
  const best = run('MaxPool', backend, { x: score4 }, { filterSize: [2, 2], strides: [2, 2], pad: 'valid', dimRoundingMode: undefined as never });
  const one = constant(backend, [], [1]);
  const bestMinusOne = run('Sub', backend, { a: best, b: one });
  const bestMinusOne6 = run('Reshape', backend, { x: bestMinusOne }, { shape: perWindow });
  const margin = run('Sub', backend, { a: score, b: bestMinusOne6 });
  const first = run('Relu', backend, { x: margin });
  const dy6 = run('Reshape', backend, { x: dy }, { shape: perWindow });
  const dx6 = run('Multiply', backend, { a: first, b: dy6 });
  const dx = run('Reshape', backend, { x: dx6 }, { shape: [b, h, w, c] });
  free(backend, x6, y6, gap, notMax, minusWeight, score, score4, best, one, bestMinusOne, bestMinusOne6, margin, first, dy6, dx6);
  return dx;
}

const swap = wasmKernelSwap(MaxPoolGrad, maxPoolGrad as unknown as KernelFunc);

/** Registers the fast `MaxPoolGrad` for the wasm backend (every configuration). Idempotent. */
export function registerWasmPoolGradients(): void {
  swap.register();
}

/** Restores wasm's own `MaxPoolGrad` (for A/B measurements). */
export function unregisterWasmPoolGradients(): void {
  swap.unregister();
}
