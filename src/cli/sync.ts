import { syncRunDir } from '../sdk/tracking/index.js';

export async function runSyncCommand(dir: string, opts: { trackingUri?: string; experiment?: string }): Promise<void> {
  const summary = await syncRunDir(dir, { trackingUri: opts.trackingUri, experimentName: opts.experiment });
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
}
