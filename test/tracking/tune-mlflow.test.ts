/**
 * A real `tune` run logged to the real MLflow server, read back through MLflow's API and compared
 * with the report.json it wrote: nesting, statuses, system tags, params, every metric point of the
 * range test and of the final training, and the artifacts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MlflowClient, createTracker, fromWireNumber, resolveMlflowConfig } from '../../src/sdk/tracking/index.js';
import { tune } from '../../src/sdk/recipe/index.js';
import { FakeClock, toyFactory } from '../recipe/toy.js';
import { mlflowUrl, serverReady, tmp } from './helpers.js';

const url = mlflowUrl();

describe.skipIf(!url)('tune → MLflow, read back through the API', () => {
  it('every stage is a child run of one parent; params, tags, metric points and artifacts match report.json', async () => {
    await serverReady(url);
    const experimentName = `tune-e2e-${Date.now()}`;
    const clock = new FakeClock();
    const { report, runDir } = await tune({
      title: 'toy tune for MLflow',
      trainer: toyFactory({ clock }),
      clock: clock.now,
      out: tmp('sc-tune-mlflow-'),
      stages: ['lr', 'momentum', 'final'],
      lr: { numIter: 40 },
      momentum: { steps: 12 },
      final: { epochs: 3 },
      reportFormats: ['md', 'svg'],
      tracker: (dir) => createTracker({ runDir: dir, tracking: url, experimentName }),
    });
    expect(report.status).toBe('complete');
    const links = report.links.mlflow!;
    expect(links.trackingUri).toBe(url);
    expect(links.runUrl).toBe(`${url}/#/experiments/${links.experimentId}/runs/${links.runId}`);

    const c = new MlflowClient(resolveMlflowConfig({ tracking: url, experimentName }));
    const parent = await c.getRun(links.runId);
    const tags = Object.fromEntries((parent.data.tags ?? []).map((t) => [t.key, t.value]));
    const params = Object.fromEntries((parent.data.params ?? []).map((p) => [p.key, p.value]));
    expect(parent.info.status).toBe('FINISHED');
    expect(tags['mlflow.runName']).toBe('toy tune for MLflow');
    expect(tags['mlflow.source.git.commit']).toBe(report.environment.git?.sha);
    expect(tags['mlflow.note.content']).toContain('toy tune for MLflow');
    expect(Number(params['recommended.maxLr'])).toBe(report.recommendations.maxLr);
    expect(Number(params['recommended.momentumMax'])).toBe(report.recommendations.momentumMax);
    // the recommendations as searchable tags too (README: tags.superconverge.recommended.batchSize)
    expect(tags['superconverge.recommended.batchSize']).toBe(String(report.recommendations.batchSize));
    expect(tags['superconverge.recommended.maxLr']).toBe(String(report.recommendations.maxLr));
    expect(tags['superconverge.why.maxLr']).toBe(report.recommendations.why.maxLr);
    expect(tags['superconverge.status']).toBe('complete');

    // one child per stage, nested under the parent, finished
    const children = await c.searchRuns([links.experimentId], `tags.mlflow.parentRunId = '${links.runId}'`);
    const byName = Object.fromEntries(children.map((r) => [Object.fromEntries((r.data.tags ?? []).map((t) => [t.key, t.value]))['mlflow.runName'], r]));
    expect(Object.keys(byName).sort()).toEqual(['final', 'lr', 'momentum']);
    for (const r of Object.values(byName)) expect(r.info.status).toBe('FINISHED');
    for (const [id, runId] of Object.entries(links.stageRuns)) expect(byName[id]?.info.run_id).toBe(runId);

    // the range test: lr logged as its own metric at the same steps as the loss
    const rt = report.stages.find((s) => s.id === 'lr')!.rangeTest!;
    const lrId = byName.lr.info.run_id;
    const lrHist = (await c.getMetricHistory(lrId, 'lr')).sort((a, b) => a.step - b.step);
    const lossHist = (await c.getMetricHistory(lrId, 'loss')).sort((a, b) => a.step - b.step);
    expect(lrHist.map((m) => fromWireNumber(m.value))).toEqual(rt.lr);
    expect(lossHist.map((m) => m.step)).toEqual(lrHist.map((m) => m.step));
    expect(lossHist.map((m) => fromWireNumber(m.value))).toEqual(rt.loss.map((v) => v ?? NaN));

    // the final training: one validation loss per epoch, the same numbers as the report
    const valHist = (await c.getMetricHistory(byName.final.info.run_id, 'valLoss')).sort((a, b) => a.step - b.step);
    expect(valHist.map((m) => fromWireNumber(m.value))).toEqual(report.final!.history.map((h) => h.valLoss));
    expect(valHist.map((m) => m.step)).toEqual(report.final!.history.map((h) => h.step));

    // the momentum decision as tags of its run
    const mtags = Object.fromEntries((byName.momentum.data.tags ?? []).map((t) => [t.key, t.value]));
    const decision = report.stages.find((s) => s.id === 'momentum')!.decision!;
    expect(mtags['superconverge.decision.winner']).toBe(String(decision.winner));
    expect(mtags['superconverge.decision.summary']).toBe(decision.summary);

    // artifacts of the parent: report.json (identical to the local one), the Markdown and the charts
    const files = (await c.listArtifacts(links.runId)).map((a) => a.path);
    expect(files).toEqual(expect.arrayContaining(['report.json', 'report.md', 'charts']));
    const charts = (await c.listArtifacts(links.runId, 'charts')).map((a) => a.path);
    expect(charts).toContain('charts/lr-range-test.svg');
    const remote = JSON.parse(await c.downloadArtifact(parent.info, 'report.json'));
    expect(remote).toEqual(JSON.parse(readFileSync(join(runDir, 'report.json'), 'utf8')));
  });
});
