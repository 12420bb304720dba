import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseReport, type TuningReport } from '../../src/report/index.js';
import { mulberry32 as rng } from '../../src/sdk/random.js';

/** mulberry32, so a fuzz failure reproduces from its seed. */
export { rng };

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../fixtures');

export function loadFixture(name: 'full-report' | 'base-report' | 'lr-only-report'): TuningReport {
  return parseReport(JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')), name);
}

/** The ```mermaid blocks of a Markdown body. */
export function mermaidBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```mermaid\n([\s\S]*?)\n```/g)].map((m) => m[1]);
}

/** A deep copy of a fixture, to mutate in a test. */
export function clone<T>(x: T): T {
  return JSON.parse(JSON.stringify(x)) as T;
}

/** Strings that have broken Markdown/HTML renderers: fences, comments, scripts, pipes, pings, control bytes. */
export const HOSTILE = [
  '```',
  '```mermaid\nxychart-beta\n```',
  '<script>alert(1)</script>',
  '</script><script>alert(2)</script>',
  '<img src=x onerror=alert(3)>',
  '--> <!-- injected',
  '| a | b |\n|---|---|',
  '@octocat #1 [link](javascript:alert(4))',
  '*bold* _it_ ~~s~~ $x^2$ \\',
  '"quote" \'single\' `tick`',
  '\u001b[31mred\u001b[0m\u0000\u0007',
  '\r\n# heading\n> quote\n- list',
  '</details></summary><details open>',
  '😀'.repeat(50),
  'x'.repeat(70_000),
  '\u2028\u2029 line separators',
  ']]> <![CDATA[',
  '%%{init: {"theme":"dark"}}%%',
];


/** The full fixture with every text field replaced by hostile strings picked by `seed`. */
export function hostileReport(seed: number): TuningReport {
  const rand = rng(seed);
  const pick = () => {
    const n = 1 + Math.floor(rand() * 3);
    return Array.from({ length: n }, () => HOSTILE[Math.floor(rand() * HOSTILE.length)]).join(' ');
  };
  const r = clone(loadFixture('full-report'));
  r.title = pick();
  r.id = pick();
  r.tool.version = pick();
  r.environment.backend = pick();
  r.environment.device = pick();
  r.environment.git = { sha: pick(), branch: pick(), repoUrl: pick() };
  r.warnings = Array.from({ length: 3 + Math.floor(rand() * 5) }, pick);
  r.diagnosis = { verdict: 'overfitting', reason: pick(), suggestion: pick() };
  r.recommendations.optimizer = pick();
  for (const k of Object.keys(r.recommendations.why)) r.recommendations.why[k] = pick();
  r.links.artifacts = [{ name: pick(), url: pick() }, { name: pick(), url: 'https://example.com/a b)c' }];
  for (const s of r.stages) {
    s.title = pick();
    s.params = { [pick()]: pick() };
    if (rand() < 0.3) {
      s.status = 'failed';
      s.error = pick();
    }
    for (const series of s.series) {
      series.name = pick();
      series.label = pick();
    }
    if (s.decision) {
      s.decision.summary = pick();
      s.decision.rule = pick();
      s.decision.parameter = pick();
      s.decision.confidenceReason = pick();
      s.decision.candidates.forEach((c, i) => {
        if (i === 0) c.value = pick();
        c.note = pick();
        c.at = pick();
        c.metricName = pick();
      });
    }
    if (s.rangeTest) {
      s.rangeTest.outcomeReason = pick();
      s.rangeTest.suggestions.steepest!.rule = pick();
      s.rangeTest.chosen!.rule = pick();
    }
    if (s.training) s.training.name = pick();
  }
  if (r.final) {
    r.final.name = pick();
    r.final.optimizer = pick();
    r.final.schedule = pick();
  }
  return r;
}
