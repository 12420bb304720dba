/**
 * `npm run bench [name...]`: runs each benchmark script in bench/ (every `bench/*.ts` but this one)
 * as its own process, one after another (this machine has 2 cores: benchmarks never overlap),
 * then collects `bench/results/<name>.json` into `bench/results/summary.md`.
 *
 * A benchmark script measures its comparisons side by side in one run and writes
 * `{ name, target, met, ... }`; a missed target is reported as missed.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const resultsDir = join(here, 'results');
mkdirSync(resultsDir, { recursive: true });

const wanted = process.argv.slice(2);
const scripts = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_'))
  .map((f) => basename(f, '.ts'))
  .filter((name) => wanted.length === 0 || wanted.includes(name))
  .sort();

if (scripts.length === 0) {
  console.error(`no benchmark matches ${wanted.join(', ')}`);
  process.exit(2);
}

const rows: string[] = ['| benchmark | target | met | seconds |', '|---|---|---|---|'];
let failures = 0;
for (const name of scripts) {
  console.log(`\n=== ${name}`);
  const started = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(here, `${name}.ts`)], { stdio: 'inherit', env: process.env });
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  const file = join(resultsDir, `${name}.json`);
  if (r.status !== 0 || !existsSync(file)) {
    failures += 1;
    rows.push(`| ${name} | — | error (exit ${r.status}) | ${seconds} |`);
    continue;
  }
  const result = JSON.parse(readFileSync(file, 'utf8')) as { target?: string; met?: boolean };
  rows.push(`| ${name} | ${result.target ?? ''} | ${result.met === true ? 'yes' : result.met === false ? '**missed**' : 'n/a'} | ${seconds} |`);
}
const table = rows.join('\n');
writeFileSync(join(resultsDir, 'summary.md'), `${table}\n`);
console.log(`\n${table}`);
process.exitCode = failures > 0 ? 1 : 0;
