/** The base branch's report, for the "what changed" column of the comment. */
import * as core from '@actions/core';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { readReport, type TuningReport } from '../report/index.js';

/**
 * `base-report` is a path to a report.json (for example downloaded from the base branch's last
 * run with actions/download-artifact). A missing file is normal on the first run: a notice, no base.
 * An invalid file is a warning (the comparison is a bonus, the tuning result stands).
 */
export async function loadBaseReport(input: string, cwd: string): Promise<TuningReport | null> {
  if (!input) return null;
  const file = resolve(cwd, input);
  if (!existsSync(file)) {
    core.notice(`superconverge: base-report ${file} does not exist; no base comparison.`);
    return null;
  }
  try {
    return await readReport(file);
  } catch (e) {
    core.warning(`superconverge: base-report ignored: ${(e as Error).message}`);
    return null;
  }
}
