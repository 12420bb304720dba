/**
 * One MLflow server for the whole suite (start-up costs ~10-25 s on 2 cores). Tests read its URL
 * with `inject('mlflowUrl')` and wait for it with `waitForHealth`; when there is no mlflow binary
 * they get `mlflowSkipReason` — and fail under CI.
 * `SUPERCONVERGE_MLFLOW_URL` reuses a server you already run.
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { READY_MARKER, TEMPLATE_DB, findMlflowBin, startMlflowServer, type MlflowServer } from './support/mlflow-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    mlflowUrl: string;
    mlflowDir: string;
    mlflowSkipReason: string;
  }
}

/** Test files that need the server; a run filtered to other areas does not pay for it. */
const NEEDS_SERVER = /tracking|mlflow|e2e|action|cli|sync|integration/i;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let server: MlflowServer | undefined;
  let reason = '';
  const filters = process.argv.slice(2).filter((a) => !a.startsWith('-') && a !== 'run' && !a.includes('vitest'));
  const url = process.env.SUPERCONVERGE_MLFLOW_URL;
  const bin = findMlflowBin();
  if (url) {
    project.provide('mlflowUrl', url);
    project.provide('mlflowDir', '');
  } else if (filters.length > 0 && !filters.some((f) => NEEDS_SERVER.test(f))) {
    reason = `not started: the run is filtered to ${filters.join(' ')}`;
  } else if (!bin) {
    reason = 'no mlflow binary: set SUPERCONVERGE_MLFLOW_BIN or run .ci/run to install it';
  } else {
    try {
      // Not awaited: other areas' tests run while MLflow boots (10-25 s on 2 cores); tracking
      // tests wait for /health in their beforeAll.
      const s = await startMlflowServer({ bin, wait: false });
      server = s;
      // A migrated, empty store for tests that run their own server: copied as soon as the server
      // is up, before the tests (which wait for /health first) write, it saves them schema creation.
      // Tests wait for READY_MARKER, written after the copy, so no test writes during it.
      void s.ready
        .then(() => {
          copyFileSync(join(s.dir, 'mlflow.db'), join(s.dir, TEMPLATE_DB));
          writeFileSync(join(s.dir, READY_MARKER), 'ok');
        })
        .catch(() => undefined);
      project.provide('mlflowUrl', server.url);
      project.provide('mlflowDir', server.dir);
    } catch (e) {
      reason = `mlflow server failed to start: ${(e as Error).message}`;
    }
  }
  if (!server && !url) {
    project.provide('mlflowUrl', '');
    project.provide('mlflowDir', '');
  }
  project.provide('mlflowSkipReason', reason);
  return async () => {
    await server?.stop();
  };
}
