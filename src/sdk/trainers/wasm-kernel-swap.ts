/**
 * Replacing one of the wasm backend's kernels with ours, reversibly (for A/B measurements).
 * Idempotent; works before or after `setBackend('wasm')` because the original kernel's setup
 * function (which binds its wasm code) is kept — our kernels may fall back to the original.
 */
import { getKernel, registerKernel, unregisterKernel, type KernelConfig, type KernelFunc } from '@tensorflow/tfjs-core';

export interface WasmKernelSwap {
  register(): void;
  unregister(): void;
  /** wasm's own kernel once `register` ran (for fallbacks), else undefined. */
  readonly original: KernelConfig | undefined;
}

export function wasmKernelSwap(kernelName: string, kernelFunc: KernelFunc): WasmKernelSwap {
  // Marks our kernel function so that registering twice is a no-op.
  const ours = Symbol.for(`superconverge.wasm.${kernelName}`);
  (kernelFunc as unknown as Record<symbol, boolean>)[ours] = true;
  const isOurs = (k: KernelConfig | undefined) => Boolean(k && (k.kernelFunc as unknown as Record<symbol, boolean>)[ours]);
  let original: KernelConfig | undefined;
  return {
    register() {
      const existing = getKernel(kernelName, 'wasm');
      if (isOurs(existing)) return;
      if (!existing) throw new Error(`wasm backend has no ${kernelName} kernel to replace: import @tensorflow/tfjs-backend-wasm first`);
      original = existing;
      unregisterKernel(kernelName, 'wasm');
      registerKernel({ kernelName, backendName: 'wasm', kernelFunc, setupFunc: existing.setupFunc });
    },
    unregister() {
      if (!isOurs(getKernel(kernelName, 'wasm')) || !original) return;
      unregisterKernel(kernelName, 'wasm');
      registerKernel(original);
    },
    get original() {
      return original;
    },
  };
}
