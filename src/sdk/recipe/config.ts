/**
 * `superconverge tune <config.yml>`: the YAML (or JSON) config, validated against the same zod
 * schema as `tune({...})` plus the `trainer` section that names the user's module:
 *
 *   trainer:
 *     module: ./my-trainer.mjs   # relative to the config file
 *     export: default            # a TrainerFactory: (settings) => Promise<Trainer>
 *
 * or, for the built-in TensorFlow.js adapter, `kind: tfjs` with a module exporting `model(seed)`
 * (a LayersModel builder), `data` (tensors or datasets, or a function returning them) and
 * optionally `loss`.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { UserInputError } from '../../errors.js';
import type { TrainerFactory } from '../trainers/types.js';
import { ConfigError } from './errors.js';
import { MIN_BUDGET_SECONDS } from './budget.js';
import { budgetSchema, TuneSettingsSchema, type TuneOptions, type TuneSettings } from './options.js';
import { configIssues } from './tune.js';

/** The trainer section as the messages show it. */
const TRAINER_SHAPE = '{ module: ./trainer.mjs } (a path relative to the config file; optional kind: factory|tfjs and export: default)';
const MODULE_PATH = 'the path of the trainer module, relative to the config file, e.g. ./trainer.mjs';

export const TrainerSectionSchema = z.strictObject(
  {
    /** Path of the JS/TS module, relative to the config file. */
    module: z
      .string({ error: (i) => (i.input === undefined ? `required: ${MODULE_PATH}` : `allowed: ${MODULE_PATH}`) })
      .min(1, { error: `allowed: ${MODULE_PATH}` }),
    /** `factory` (default): the export is a TrainerFactory. `tfjs`: the module exports model(seed), data and loss. */
    kind: z.enum(['factory', 'tfjs']).default('factory'),
    /** Name of the export holding the factory (kind factory). Default `default`. */
    export: z.string().min(1).default('default'),
  },
  // A missing or mistyped section says what it must look like; other issues (unknown keys) keep theirs.
  {
    error: (i) =>
      i.code !== 'invalid_type' ? undefined : `${i.input === undefined ? 'required' : 'allowed'}: a section naming the module that trains your model, trainer: ${TRAINER_SHAPE}`,
  },
);

export const TuneConfigSchema = TuneSettingsSchema.safeExtend({
  /** For editors: the JSON Schema this file follows. */
  $schema: z.string().optional(),
  trainer: TrainerSectionSchema,
  // A person typed this budget: at least MIN_BUDGET_SECONDS, the same rule as --budget.
  budget: budgetSchema(MIN_BUDGET_SECONDS).optional(),
});

export type TuneConfig = z.output<typeof TuneConfigSchema>;

export interface LoadedTuneConfig {
  file: string;
  config: TuneConfig;
  settings: TuneSettings;
  /** Absolute path of the trainer module. */
  modulePath: string;
}

/** Reads and validates a tune config; every problem is reported at once, each naming its field path. */
/**
 * Settings given beside the file (the CLI's --stages, --budget, --seed, --out): they replace the
 * file's before it is checked, so the checks between fields see what will run.
 */
export type ConfigOverrides = Partial<Record<'stages' | 'budget' | 'seed' | 'out', unknown>>;

export async function loadTuneConfig(file: string, overrides: ConfigOverrides = {}): Promise<LoadedTuneConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new UserInputError('config', file, 'a readable YAML or JSON file', `cannot read: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text, { prettyErrors: true });
  } catch (e) {
    const where = e instanceof YAMLParseError && e.linePos ? `line ${e.linePos[0].line}` : '(file)';
    // yaml's pretty message: "<what> at line L, column C:", a blank line, the source line(s), a caret.
    const [first, ...frame] = (e as Error).message.split('\n');
    const excerpt = frame.filter((l) => l.trim() !== '').map((l) => `\n      ${l}`).join('');
    throw new ConfigError(file, [{ path: where, message: `not valid YAML: ${first.replace(/:\s*$/, '')}${excerpt}` }]);
  }
  if (raw == null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(file, [{ path: '(root)', message: 'a mapping of settings (title, trainer, stages, lr, ...)', value: raw }]);
  }
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) (raw as Record<string, unknown>)[k] = v;
  const r = TuneConfigSchema.safeParse(raw);
  const issues = r.success ? [] : configIssues(r.error, raw, TuneConfigSchema);
  const base = dirname(resolve(file));
  // A trainer module that is not there is a config mistake like the others: listed with them, and
  // resolved from the config's folder (Node's import error would name this loader as the importer).
  const module = (raw as { trainer?: { module?: unknown } }).trainer?.module;
  if (typeof module === 'string' && module !== '') {
    const path = isAbsolute(module) ? module : resolve(base, module);
    const found = await stat(path).catch(() => null);
    const from = isAbsolute(module) ? '' : ` (resolved from the config file's folder ${base})`;
    if (!found?.isFile()) issues.push({ path: 'trainer.module', message: `${found ? 'not a file' : 'no such file'}: ${path}${from}; allowed: ${MODULE_PATH}`, value: module });
  }
  if (!r.success || issues.length > 0) throw new ConfigError(file, issues);
  const { $schema: _s, trainer, ...settings } = r.data;
  const modulePath = isAbsolute(trainer.module) ? trainer.module : resolve(base, trainer.module);
  // `out` in a config is relative to the config file, like the module.
  const out = isAbsolute(settings.out) ? settings.out : resolve(base, settings.out);
  return { file, config: r.data, settings: { ...settings, out }, modulePath };
}

/** Imports the config's trainer module and returns its TrainerFactory. */
export async function loadTrainerFactory(loaded: LoadedTuneConfig): Promise<TrainerFactory> {
  const { trainer } = loaded.config;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(loaded.modulePath).href)) as Record<string, unknown>;
  } catch (e) {
    throw new UserInputError('trainer.module', trainer.module, 'a JS/TS module that can be imported', `cannot import ${loaded.modulePath}: ${(e as Error).message}`);
  }
  if (trainer.kind === 'tfjs') {
    const model = mod.model;
    if (typeof model !== 'function') throw new UserInputError('trainer.module', trainer.module, 'a module exporting model(seed) => LayersModel, data and optionally loss', 'no `model` function exported');
    const dataExport = mod.data;
    if (dataExport == null) throw new UserInputError('trainer.module', trainer.module, 'a module exporting model(seed), data and optionally loss', 'no `data` exported');
    const data = typeof dataExport === 'function' ? await (dataExport as () => unknown)() : dataExport;
    // Loaded on demand: only the trainers import TensorFlow.js (DESIGN.md).
    const { tfjsTrainerFactory } = await import('../trainers/tfjs.js');
    return tfjsTrainerFactory({ model: model as never, data: data as never, ...(mod.loss ? { loss: mod.loss as never } : {}) });
  }
  const factory = mod[trainer.export];
  if (typeof factory !== 'function') {
    const exported = Object.keys(mod).join(', ') || 'nothing';
    throw new UserInputError('trainer.export', trainer.export, `the name of an exported TrainerFactory function (the module exports: ${exported})`, 'not a function export');
  }
  return factory as TrainerFactory;
}

/** Config file → `tune` options (without signal, progress and tracker, which the caller adds). */
export async function tuneOptionsFromConfig(file: string, overrides: ConfigOverrides = {}): Promise<TuneOptions> {
  const loaded = await loadTuneConfig(file, overrides);
  const factory = await loadTrainerFactory(loaded);
  return { ...loaded.settings, trainer: factory, source: { file: resolve(file), config: loaded.config } };
}

/** JSON Schema of the config file, for editor completion (`schema/tune-config.schema.json`). */
export function tuneConfigJsonSchema(): unknown {
  return {
    ...(z.toJSONSchema(TuneConfigSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>),
    title: 'superconverge tune config',
    description: "Config of `superconverge tune <config.yml>`: Leslie Smith's recipe (arXiv 1803.09820) on your own model.",
  };
}
