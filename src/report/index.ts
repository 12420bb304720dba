import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { TuningReport } from './schema.js';

export * from './schema.js';

/** Thrown when a document is not a valid TuningReport; the message names every bad path. */
export class ReportValidationError extends Error {
  constructor(
    readonly source: string,
    readonly issues: { path: string; message: string }[],
  ) {
    super(
      `${source} is not a valid TuningReport:\n` +
        issues.map((i) => `  - ${i.path || '(root)'}: ${i.message}`).join('\n'),
    );
    this.name = 'ReportValidationError';
  }
}

/** `stages[2].decision.winner` from a zod issue path. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
}

export function zodIssues(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((i) => ({ path: formatPath(i.path), message: i.message }));
}

/** Validates an unknown value as a TuningReport (defaults applied). */
export function parseReport(value: unknown, source = 'report'): TuningReport {
  const result = TuningReport.safeParse(value);
  if (!result.success) throw new ReportValidationError(source, zodIssues(result.error));
  return result.data;
}

export async function readReport(file: string): Promise<TuningReport> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new ReportValidationError(file, [{ path: '', message: `cannot read file: ${(e as Error).message}` }]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ReportValidationError(file, [{ path: '', message: `not JSON: ${(e as Error).message}` }]);
  }
  return parseReport(json, file);
}

/** Validates and writes atomically (temp file + rename), so a reader never sees half a report. */
export async function writeReport(file: string, report: unknown): Promise<TuningReport> {
  const valid = parseReport(report, file);
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(valid, null, 2) + '\n');
  await rename(tmp, file);
  return valid;
}

/** JSON has no NaN/Infinity: curves store null for non-finite values. */
export function finiteOrNull(x: number | null | undefined): number | null {
  return x != null && Number.isFinite(x) ? x : null;
}

/** The JSON Schema of the TuningReport, for editors and other languages. */
export function reportJsonSchema(): unknown {
  return z.toJSONSchema(TuningReport, { io: 'input', unrepresentable: 'any' });
}
