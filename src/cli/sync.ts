import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UserInputError } from '../errors.js';
import { syncRunDir } from '../sdk/tracking/index.js';

export async function runSyncCommand(dir: string, opts: { trackingUri?: string; experiment?: string }): Promise<void> {
  // A folder without events.jsonl has nothing to send: saying "sent 0" would hide a wrong path.
  if (!existsSync(join(dir, 'events.jsonl'))) {
    throw new UserInputError('run-dir', dir, 'a run folder written by superconverge (it holds events.jsonl)', 'not a run folder: no events.jsonl');
  }
  const summary = await syncRunDir(dir, { trackingUri: opts.trackingUri, experimentName: opts.experiment });
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
}
