/**
 * The run folder: `run.json` (settings + calibration, for resume), `stages/<id>.json` (each finished
 * stage with the recipe state after it, written as the stage ends), `curves/<id>.csv` and
 * `report.json` (rewritten after every stage, so an interrupted run still has a valid report).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Stage } from '../../report/schema.js';
import { UserInputError } from '../../errors.js';
import type { Calibration, RecipeState } from './context.js';
import { STAGE_IDS, type StageId, type TuneSettings } from './options.js';

export interface RunMeta {
  format: 'superconverge.tune-run';
  version: 1;
  createdAt: string;
  settings: TuneSettings;
  calibration: Calibration;
  source?: { file?: string; config?: unknown };
}

export interface StageRecord {
  stage: Stage;
  /** The recipe state after this stage. */
  state: RecipeState;
}

/** `2025-01-31T12-00-00-000Z`: sortable and valid in every file system. */
export function timestampDirName(date = new Date()): string {
  return date.toISOString().replace(/[:.]/g, '-');
}

/** Exactly `SUPERCONVERGE_OUT_DIR` when set (the GitHub Action sets it), else `<out>/<timestamp>/`. */
export function resolveRunDir(out: string, env: NodeJS.ProcessEnv = process.env, date = new Date()): string {
  const fixed = env.SUPERCONVERGE_OUT_DIR;
  return fixed && fixed.trim() ? fixed : join(out, timestampDirName(date));
}

export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(value, null, 2) + '\n');
  await rename(tmp, file);
}

export async function writeRunMeta(dir: string, meta: RunMeta): Promise<void> {
  await mkdir(join(dir, 'stages'), { recursive: true });
  await writeJsonAtomic(join(dir, 'run.json'), meta);
}

export async function readRunMeta(dir: string): Promise<RunMeta> {
  let json: RunMeta;
  try {
    json = JSON.parse(await readFile(join(dir, 'run.json'), 'utf8')) as RunMeta;
  } catch (e) {
    throw new UserInputError('resume', dir, 'a run folder written by superconverge tune (it holds run.json)', `cannot read run.json: ${(e as Error).message}`);
  }
  if (json?.format !== 'superconverge.tune-run' || json.version !== 1) {
    throw new UserInputError('resume', dir, 'a run folder written by superconverge tune (run.json format 1)', 'run.json is not a tune run');
  }
  return json;
}

export async function writeStageRecord(dir: string, record: StageRecord): Promise<void> {
  await mkdir(join(dir, 'stages'), { recursive: true });
  await writeJsonAtomic(join(dir, 'stages', `${record.stage.id}.json`), record);
}

/** The finished stages of a run folder, keyed by stage id. */
export async function readStageRecords(dir: string): Promise<Partial<Record<StageId, StageRecord>>> {
  const out: Partial<Record<StageId, StageRecord>> = {};
  for (const id of STAGE_IDS) {
    try {
      const rec = JSON.parse(await readFile(join(dir, 'stages', `${id}.json`), 'utf8')) as StageRecord;
      if (rec?.stage?.id === id && (rec.stage.status === 'complete' || rec.stage.status === 'skipped')) out[id] = rec;
    } catch {
      // not finished yet
    }
  }
  return out;
}

function csvCell(v: unknown): string {
  const s = v == null ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The stage's curves as one long-format CSV: series, x name, y name, x, y. */
export async function writeStageCurves(dir: string, stage: Stage): Promise<void> {
  if (stage.series.length === 0) return;
  const rows = ['series,x,y,xValue,yValue'];
  for (const s of stage.series) {
    for (let i = 0; i < s.xs.length; i++) rows.push([s.name, s.x, s.y, s.xs[i], s.ys[i]].map(csvCell).join(','));
  }
  await mkdir(join(dir, 'curves'), { recursive: true });
  await writeFile(join(dir, 'curves', `${stage.id}.csv`), rows.join('\n') + '\n');
  if (stage.training) {
    const h = ['epoch,step,trainLoss,valLoss,valAccuracy,lr,momentum,seconds'];
    for (const r of stage.training.history)
      h.push([r.epoch, r.step, r.trainLoss, r.valLoss, r.valAccuracy, r.lr, r.momentum, r.seconds].map(csvCell).join(','));
    await writeFile(join(dir, 'curves', `${stage.id}-history.csv`), h.join('\n') + '\n');
  }
}
