/**
 * Progress for the recipe: a bar on a terminal (cli-progress), plain lines otherwise (CI logs, pipes),
 * at most one line per stage event or per 10% of a stage.
 */
import cliProgress from 'cli-progress';
import type { ProgressEvent } from '../sdk/recipe/index.js';

export interface ProgressDisplay {
  onProgress(event: ProgressEvent): void;
  /** Prints a line without breaking the bar. */
  log(line: string): void;
  stop(): void;
}

export function formatSeconds(s: number | null): string {
  if (s == null || !Number.isFinite(s)) return '?';
  const t = Math.max(0, Math.round(s));
  const m = Math.floor(t / 60);
  return m > 0 ? `${m}m${String(t % 60).padStart(2, '0')}s` : `${t}s`;
}

export function createProgressDisplay(stream: NodeJS.WriteStream = process.stderr): ProgressDisplay {
  if (stream.isTTY && !process.env.CI) {
    const bar = new cliProgress.SingleBar(
      {
        format: ' {bar} {percentage}% | {stage} {stagePct}% | elapsed {elapsed} | ETA {eta_h}',
        barsize: 24,
        hideCursor: true,
        clearOnComplete: true,
        stream,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    // Clear the bar's line, print, and let the bar redraw below (SingleBar has no log()).
    const writeAbove = (line: string) => {
      stream.write(`\r\x1b[2K${line}\n`);
      bar.render();
    };
    return {
      onProgress(e) {
        const payload = {
          stage: `[${e.stageIndex}/${e.stageCount}] ${e.stage}`,
          stagePct: Math.round(e.stageFraction * 100),
          elapsed: formatSeconds(e.elapsedSeconds),
          eta_h: formatSeconds(e.etaSeconds),
        };
        if (!started) {
          bar.start(1000, 0, payload);
          started = true;
        }
        bar.update(Math.round(e.fraction * 1000), payload);
        if (e.type === 'stage-end' && e.message) writeAbove(`${e.stage}: ${e.message}`);
      },
      log(line) {
        if (started) writeAbove(line);
        else stream.write(`${line}\n`);
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  const lastDecile = new Map<string, number>();
  return {
    onProgress(e) {
      const head = `[${e.stageIndex}/${e.stageCount}] ${e.stage}`;
      const tail = `recipe ${Math.round(e.fraction * 100)}%, elapsed ${formatSeconds(e.elapsedSeconds)}, ETA ${formatSeconds(e.etaSeconds)}`;
      if (e.type === 'stage-start') stream.write(`${head}: ${e.message ?? 'started'}\n`);
      else if (e.type === 'stage-end') stream.write(`${head}: ${e.status ?? 'done'}${e.message ? ` — ${e.message}` : ''} (${tail})\n`);
      else {
        const decile = Math.floor(e.stageFraction * 10);
        if (decile > (lastDecile.get(e.stage) ?? 0)) {
          lastDecile.set(e.stage, decile);
          stream.write(`${head}: ${decile * 10}% (${tail})\n`);
        }
      }
    },
    log(line) {
      stream.write(`${line}\n`);
    },
    stop() {},
  };
}
