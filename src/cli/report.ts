import { dirname, resolve } from 'node:path';
import { UserInputError } from '../errors.js';
import { readReport } from '../report/index.js';
import { renderConsole, writeReportFiles } from '../reporters/index.js';

const FORMATS = ['md', 'html', 'svg', 'png', 'json'] as const;
type Format = (typeof FORMATS)[number];

export function parseFormats(raw: string): Format[] {
  const list = raw
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const bad = list.filter((f) => !(FORMATS as readonly string[]).includes(f));
  if (list.length === 0 || bad.length > 0) {
    throw new UserInputError('--format', raw, `a comma-separated list of ${FORMATS.join(', ')}`, bad.length ? `unknown format ${bad.join(', ')}` : 'empty');
  }
  return [...new Set(list)] as Format[];
}

export async function runReportCommand(file: string, opts: { base?: string; format: string; out?: string }): Promise<void> {
  const formats = parseFormats(opts.format);
  const report = await readReport(file);
  const base = opts.base ? await readReport(opts.base) : undefined;
  const outDir = resolve(opts.out ?? dirname(file));
  const written = await writeReportFiles(report, outDir, { base, formats });
  process.stdout.write(renderConsole(report, { color: Boolean(process.stdout.isTTY) }) + '\n');
  for (const f of written) process.stdout.write(`wrote ${f}\n`);
}
