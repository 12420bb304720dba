/** Finding report.json files in run folders and listing a folder's files for upload. */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Every file under `dir` (recursive), absolute paths, sorted for a stable order. */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath ?? (e as any).path, e.name))
    .sort();
}

/** All `report.json` files under `dir`, sorted by path. */
export async function findReportFiles(dir: string): Promise<string[]> {
  return (await listFiles(dir)).filter((f) => f.endsWith('/report.json') || f.endsWith('\\report.json'));
}

/**
 * The report the command wrote: `<out>/report.json`, or the newest `report.json` in a run folder
 * below it (the CLI may create `<out>/<run-id>/`).
 */
export async function findRunReport(outDir: string): Promise<{ file: string; others: string[] } | null> {
  const files = await findReportFiles(outDir);
  if (files.length === 0) return null;
  const top = join(outDir, 'report.json');
  if (files.includes(top)) return { file: top, others: files.filter((f) => f !== top) };
  const withTimes = await Promise.all(files.map(async (f) => ({ f, t: (await stat(f)).mtimeMs })));
  withTimes.sort((a, b) => b.t - a.t);
  return { file: withTimes[0].f, others: withTimes.slice(1).map((x) => x.f) };
}
