/**
 * SVG and PNG from a Vega-Lite spec, in Node without a browser: vega's headless view renders SVG
 * (renderer 'none', text measured by estimate since no canvas is installed), and @resvg/resvg-js
 * rasterises it. Fonts: vega writes `font-family: DejaVu Sans, ...`; resvg only draws text with
 * fonts it has loaded, so we load DejaVu (installed by .ci/run) or, failing that, system fonts.
 */
import { existsSync } from 'node:fs';
import type { VegaLiteSpec } from './vega.js';
import { UserInputError, checkNumber } from '../errors.js';

const DEJAVU = [
  '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf',
];

/** Compiles the Vega-Lite spec and renders it with vega's headless SVG renderer. */
export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  if (spec == null || typeof spec !== 'object') throw new UserInputError('spec', spec, 'a Vega-Lite specification object');
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logLevel: vega.Warn });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export interface PngOptions {
  /** Pixel density: 2 gives crisp images on high-DPI screens (default 2). */
  scale?: number;
}

/** Renders the spec to PNG bytes. */
export async function renderPng(spec: VegaLiteSpec, opts: PngOptions = {}): Promise<Buffer> {
  const scale = checkNumber('scale', opts.scale ?? 2, { min: 0.25, max: 8 });
  const svg = await renderSvg(spec);
  return svgToPng(svg, scale);
}

/** Rasterises an SVG string with resvg. */
export async function svgToPng(svg: string, scale = 2): Promise<Buffer> {
  const { Resvg } = await import('@resvg/resvg-js');
  const haveDejaVu = DEJAVU.every((f) => existsSync(f));
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: haveDejaVu
      ? { fontFiles: DEJAVU, loadSystemFonts: false, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' }
      : { loadSystemFonts: true, defaultFontFamily: 'Liberation Sans' },
  });
  return Buffer.from(resvg.render().asPng());
}
