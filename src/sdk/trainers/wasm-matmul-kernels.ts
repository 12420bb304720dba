/**
 * Transposed matrix products for the TensorFlow.js wasm backend.
 *
 * tfjs-backend-wasm 4.22's `BatchMatMul` is fast (XNNPACK) for plain products but takes a slow
 * path when `transposeA` or `transposeB` is set — and the gradient of every dense layer uses both
 * (dx = dy·Wᵀ, dW = xᵀ·dy). Measured for the demo CNN's dense layer ([128, 1568] x [1568, 128]):
 * 66 ms (transposeB) and 74 ms (transposeA) against 4.6 ms for the plain product; transposing
 * first costs ~1 ms. So we transpose the operand explicitly and call the original kernel with
 * plain operands: in a training step of the demo CNN (batch 128) BatchMatMul was the largest
 * kernel (~190 ms of ~500 ms, profiled on a loaded machine).
 */
import { BatchMatMul, getKernel, type KernelFunc, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs-core';
import { wasmKernelSwap } from './wasm-kernel-swap.js';

type Backend = { disposeData(dataId: object, force?: boolean): boolean };

function transposeLastTwo(x: TensorInfo, backend: Backend): TensorInfo {
  const k = getKernel('Transpose', 'wasm');
  if (!k) throw new Error('wasm backend has no Transpose kernel, which the matMul fix needs');
  const r = x.shape.length;
  const perm = [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2];
  return k.kernelFunc({ inputs: { x } as never, backend: backend as never, attrs: { perm } }) as TensorInfo;
}

function batchMatMul(args: { inputs: { a: TensorInfo; b: TensorInfo }; backend: Backend; attrs: NamedAttrMap }): TensorInfo {
  const { inputs, backend, attrs } = args;
  // wasm's own kernel does the plain products.
  const original = swap.original;
  if (!original) throw new Error('superconverge wasm BatchMatMul: the original wasm kernel is missing');
  const { transposeA, transposeB } = attrs as { transposeA?: boolean; transposeB?: boolean };
  if (!transposeA && !transposeB) return original.kernelFunc(args as never) as TensorInfo;
  const a = transposeA ? transposeLastTwo(inputs.a, backend) : inputs.a;
  const b = transposeB ? transposeLastTwo(inputs.b, backend) : inputs.b;
  const out = original.kernelFunc({ inputs: { a, b } as never, backend: backend as never, attrs: { ...attrs, transposeA: false, transposeB: false } }) as TensorInfo;
  if (transposeA) backend.disposeData(a.dataId);
  if (transposeB) backend.disposeData(b.dataId);
  return out;
}

const swap = wasmKernelSwap(BatchMatMul, batchMatMul as unknown as KernelFunc);

/** Registers the transposing `BatchMatMul` for the wasm backend. Idempotent. */
export function registerWasmMatMulFix(): void {
  swap.register();
}

/** Restores wasm's own `BatchMatMul` (for A/B measurements). */
export function unregisterWasmMatMulFix(): void {
  swap.unregister();
}
