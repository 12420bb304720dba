/** The step outputs, taken from the report's recommendations. */
import type { TuningReport } from '../report/index.js';

export type OutputName =
  | 'max-lr'
  | 'min-lr'
  | 'momentum-max'
  | 'momentum-min'
  | 'weight-decay'
  | 'batch-size'
  | 'epochs'
  | 'report-path'
  | 'mlflow-run-url'
  | 'comment-url';

const str = (x: number | string | null | undefined): string => (x == null ? '' : String(x));

/** Empty string when a value was not decided (a later step can test `!= ''`). */
export function recommendationOutputs(report: TuningReport): Partial<Record<OutputName, string>> {
  const r = report.recommendations;
  return {
    'max-lr': str(r.maxLr),
    'min-lr': str(r.minLr),
    'momentum-max': str(r.momentumMax),
    'momentum-min': str(r.momentumMin),
    'weight-decay': str(r.weightDecay),
    'batch-size': str(r.batchSize),
    epochs: str(r.epochs),
  };
}

/** MLflow run URL: the report's own link, else built from the tracking URI and ids. */
export function mlflowRunUrl(report: TuningReport): string | null {
  const m = report.links.mlflow;
  if (!m) return null;
  if (m.runUrl) return stripCredentials(m.runUrl);
  const base = stripCredentials(m.trackingUri).replace(/\/+$/, '');
  if (!/^https?:\/\//.test(base)) return null;
  return `${base}/#/experiments/${encodeURIComponent(m.experimentId)}/runs/${encodeURIComponent(m.runId)}`;
}

/** `https://user:pass@host/` -> `https://host/`: a link must never carry the credentials. */
export function stripCredentials(uri: string): string {
  try {
    const u = new URL(uri);
    if (u.username || u.password) {
      u.username = '';
      u.password = '';
      return u.toString();
    }
  } catch {
    /* not a URL: leave as is */
  }
  return uri;
}
