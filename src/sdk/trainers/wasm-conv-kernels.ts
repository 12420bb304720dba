/**
 * Convolution gradients for the TensorFlow.js wasm backend.
 *
 * tfjs-backend-wasm 4.22 has no `Conv2DBackpropFilter` kernel (so a CNN cannot train on wasm at
 * all) and its `Conv2DBackpropInput` is a naive loop, ~10x slower than the XNNPACK forward conv
 * (measured: 2.5 s vs 0.3 s for 128x28x28x32 -> 64, 3x3). Both gradients are convolutions
 * themselves, so we express them with the fast wasm kernels the backend does have (Conv2D,
 * Transpose, Reverse, PadV2, Reshape):
 *
 * - dx = conv2d(dy dilated by the strides, filter rotated 180° with in/out channels swapped),
 *   stride 1, padded by (filterSize - 1 - forwardPad);
 * - dW = conv2d over the "batch-as-channels" transposes: input x^T [C, H, W, N], filter
 *   dy^T [outH, outW, N, O], dilation = forward stride, giving [C, fH, fW, O].
 *
 * Only NHWC and dilations of 1 are supported (tfjs-core refuses gradients of dilated convs anyway).
 */
import {
  backend_util,
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  getKernel,
  registerKernel,
  unregisterKernel,
  type KernelConfig,
  type KernelFunc,
  type NamedAttrMap,
  type TensorInfo,
} from '@tensorflow/tfjs-core';

type Backend = { disposeData(dataId: object, force?: boolean): boolean };
type Pad = backend_util.ExplicitPadding | 'same' | 'valid' | number;

interface ConvGradAttrs {
  strides: [number, number] | number;
  pad: Pad;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** Marks our kernel functions so that registering twice is a no-op. */
const OURS = Symbol.for('superconverge.wasmConvGrad');

function run(name: string, backend: Backend, inputs: Record<string, TensorInfo> | TensorInfo[], attrs: NamedAttrMap): TensorInfo {
  const k = getKernel(name, 'wasm');
  if (!k) throw new Error(`wasm backend has no ${name} kernel, which the conv gradients need`);
  const out = k.kernelFunc({ inputs: inputs as never, backend: backend as never, attrs }) as TensorInfo | TensorInfo[];
  return Array.isArray(out) ? out[0] : out;
}

function free(backend: Backend, ...infos: TensorInfo[]): void {
  for (const t of infos) backend.disposeData(t.dataId);
}

function checkSupported(kernel: string, dataFormat: string, convInfo: backend_util.Conv2DInfo): void {
  if (dataFormat !== 'NHWC') {
    throw new Error(`${kernel} on wasm (superconverge kernels): only dataFormat NHWC is supported, got ${dataFormat}`);
  }
  if (convInfo.dilationHeight !== 1 || convInfo.dilationWidth !== 1) {
    throw new Error(`${kernel} on wasm (superconverge kernels): dilations > 1 are not supported`);
  }
}

function conv2dBackpropInput(args: { inputs: { dy: TensorInfo; filter: TensorInfo }; backend: Backend; attrs: NamedAttrMap }): TensorInfo {
  const { inputs, backend } = args;
  const attrs = args.attrs as unknown as ConvGradAttrs & { inputShape: [number, number, number, number] };
  const { dy, filter } = inputs;
  const convInfo = backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  checkSupported(Conv2DBackpropInput, attrs.dataFormat, convInfo);
  const { batchSize: n, inHeight, inWidth, outHeight, outWidth, outChannels, filterHeight: fh, filterWidth: fw } = convInfo;
  const { strideHeight: sh, strideWidth: sw, padInfo } = convInfo;
  const temps: TensorInfo[] = [];

  // Dilate dy by the strides: insert (stride - 1) zeros after every row/column.
  let dyd = dy;
  if (sh > 1 || sw > 1) {
    const r6 = run('Reshape', backend, { x: dy }, { shape: [n, outHeight, 1, outWidth, 1, outChannels] });
    const p6 = run('PadV2', backend, { x: r6 }, {
      paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]],
      constantValue: 0,
    });
    dyd = run('Reshape', backend, { x: p6 }, { shape: [n, outHeight * sh, outWidth * sw, outChannels] });
    temps.push(r6, p6, dyd);
  }
  const dydH = dyd.shape[1];
  const dydW = dyd.shape[2];

  // Full-correlation padding: the output must be exactly inHeight x inWidth.
  const top = fh - 1 - padInfo.top;
  const left = fw - 1 - padInfo.left;
  let bottom = inHeight + fh - 1 - top - dydH;
  let right = inWidth + fw - 1 - left - dydW;
  if (top < 0 || left < 0) {
    free(backend, ...temps);
    throw new Error(`${Conv2DBackpropInput} on wasm (superconverge kernels): padding larger than the filter is not supported`);
  }
  // Trailing zeros of the dilation (or rows the forward conv never read) can leave a negative
  // bottom/right pad: crop them instead.
  if (bottom < 0 || right < 0) {
    const cropped = run('Slice', backend, { x: dyd }, {
      begin: [0, 0, 0, 0],
      size: [n, dydH + Math.min(bottom, 0), dydW + Math.min(right, 0), outChannels],
    });
    temps.push(cropped);
    dyd = cropped;
    bottom = Math.max(bottom, 0);
    right = Math.max(right, 0);
  }

  // Filter [fh, fw, in, out] -> rotated 180° and transposed to [fh, fw, out, in].
  const ft = run('Transpose', backend, { x: filter }, { perm: [0, 1, 3, 2] });
  const fr = run('Reverse', backend, { x: ft }, { dims: [0, 1] });
  temps.push(ft, fr);

  const dx = run('Conv2D', backend, { x: dyd, filter: fr }, {
    strides: [1, 1],
    pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
    dataFormat: 'NHWC',
    dilations: [1, 1],
    dimRoundingMode: undefined as never,
  });
  free(backend, ...temps);
  return dx;
}

function conv2dBackpropFilter(args: { inputs: { x: TensorInfo; dy: TensorInfo }; backend: Backend; attrs: NamedAttrMap }): TensorInfo {
  const { inputs, backend } = args;
  const attrs = args.attrs as unknown as ConvGradAttrs & { filterShape: [number, number, number, number] };
  const { x, dy } = inputs;
  const convInfo = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  checkSupported(Conv2DBackpropFilter, attrs.dataFormat, convInfo);
  const { inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight: fh, filterWidth: fw } = convInfo;
  const { strideHeight: sh, strideWidth: sw, padInfo } = convInfo;

  // dW[i, j, c, o] = sum over n, y, x of xpad[n, y*s + i, x*s + j, c] * dy[n, y, x, o]:
  // a correlation of x^T [c, H, W, n] with dy^T [y, x, n, o] dilated by the stride.
  const xt = run('Transpose', backend, { x }, { perm: [3, 1, 2, 0] });
  const dyt = run('Transpose', backend, { x: dy }, { perm: [1, 2, 0, 3] });
  const top = padInfo.top;
  const left = padInfo.left;
  // Pad so that the correlation yields exactly fh x fw; rows the forward pass never read (valid
  // padding with a stride) only make the result larger, and we crop it below.
  const bottom = Math.max(0, fh + (outHeight - 1) * sh - inHeight - top);
  const right = Math.max(0, fw + (outWidth - 1) * sw - inWidth - left);
  const res = run('Conv2D', backend, { x: xt, filter: dyt }, {
    strides: [1, 1],
    pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
    dataFormat: 'NHWC',
    dilations: [sh, sw],
    dimRoundingMode: undefined as never,
  });
  free(backend, xt, dyt);
  let cropped = res;
  if (res.shape[1] !== fh || res.shape[2] !== fw) {
    cropped = run('Slice', backend, { x: res }, { begin: [0, 0, 0, 0], size: [inChannels, fh, fw, outChannels] });
    free(backend, res);
  }
  const dw = run('Transpose', backend, { x: cropped }, { perm: [1, 2, 0, 3] });
  free(backend, cropped);
  return dw;
}

function mark(fn: KernelFunc): KernelFunc {
  (fn as unknown as Record<symbol, boolean>)[OURS] = true;
  return fn;
}

const configs: KernelConfig[] = [
  { kernelName: Conv2DBackpropInput, backendName: 'wasm', kernelFunc: mark(conv2dBackpropInput as unknown as KernelFunc) },
  { kernelName: Conv2DBackpropFilter, backendName: 'wasm', kernelFunc: mark(conv2dBackpropFilter as unknown as KernelFunc) },
];

/**
 * Registers the conv gradient kernels for the wasm backend (replacing the slow built-in
 * `Conv2DBackpropInput`). Idempotent. Call before training a CNN on wasm.
 */
export function registerWasmConvGradients(): void {
  for (const config of configs) {
    const existing = getKernel(config.kernelName, 'wasm');
    if (existing && (existing.kernelFunc as unknown as Record<symbol, boolean>)[OURS]) continue;
    if (existing) unregisterKernel(config.kernelName, 'wasm');
    registerKernel(config);
  }
}
