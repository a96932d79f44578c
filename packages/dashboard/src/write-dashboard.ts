import { ConfigError } from '@nnd/core';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { DashboardData } from './collect-dashboard.js';
import { dashboardPage } from './dashboard-page.js';
import { DATA_CALLBACK_NAME as DATA_CALLBACK, DATA_FOLDER_NAME as DATA_FOLDER } from './data-file-names.js';
import type { FeatureExample } from './feature-collector.js';

export interface WriteDashboardOptions {
  /** The text of one token id (a tokenizer's decode of [id]); default `#id`. */
  readonly tokenText?: (id: number) => string;
  /** Shown as the page's title (a run name); data, escaped. */
  readonly title?: string;
  /** What the values are called on the page (default: the data's `valueLabel`, 'causal importance' for SPD components, else 'activation'). */
  readonly valueLabel?: string;
  /** Features per data file (default 64): the page loads one file per feature it shows. */
  readonly chunkSize?: number;
}

/**
 * Writes the dashboard folder: `index.html` (its script and styles inline)
 * and `data/*.js`: `features.js` (one row per feature: index, density,
 * maximum, firings, for the list), `tokens.js` (each token's text, and for
 * each token the features whose top examples peak on it, for search by
 * token), and `chunk-N.js` (the examples and histograms of `chunkSize`
 * features each, loaded when one of them is shown). Data files are
 * `nndDashboardData(name, {...})` scripts so the page works from file://
 * with no server. Resolves to the absolute path of index.html.
 */
export async function writeDashboard(data: DashboardData, outDirectory: string, options: WriteDashboardOptions = {}): Promise<string> {
  const { tokenText = (id: number) => `#${id}`, chunkSize = 64 } = options;
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new ConfigError(`writeDashboard: chunkSize must be an integer >= 1, got ${chunkSize}.`);
  const directory = resolve(outDirectory);
  const dataDirectory = join(directory, DATA_FOLDER);
  // A previous dashboard's chunks would be stale, and could outnumber these.
  await rm(dataDirectory, { recursive: true, force: true });
  await mkdir(dataDirectory, { recursive: true });
  const write = (name: string, payload: unknown) => writeFile(join(dataDirectory, `${name}.js`), `${DATA_CALLBACK}(${JSON.stringify(name)},${JSON.stringify(payload)});\n`);

  const { features } = data;
  const round = (value: number) => Number(value.toPrecision(5));
  await write('features', {
    title: options.title ?? `${data.architecture} dashboard`,
    architecture: data.architecture,
    reads: data.reads,
    writes: data.writes,
    featureCount: data.featureCount,
    range: data.range,
    tokens: data.tokens,
    chunkSize,
    valueLabel: options.valueLabel ?? data.valueLabel ?? 'activation',
    ...(data.featureNames === undefined ? {} : { name: data.featureNames }),
    feature: features.map(({ feature }) => feature),
    density: features.map(({ density }) => round(density)),
    max: features.map(({ maxValue }) => round(maxValue)),
    firings: features.map(({ firings }) => firings),
  });

  // Token texts for every id shown, and, per token, the features whose top examples peak on it (strongest first).
  const usedTokens = new Set<number>();
  const peaks = new Map<number, Map<number, number>>();
  for (const statistics of features) {
    for (const example of [...statistics.top, ...statistics.quantiles]) for (const token of example.tokens) usedTokens.add(token);
    for (const { token } of [...(statistics.logitEffects?.raised ?? []), ...(statistics.logitEffects?.lowered ?? [])]) usedTokens.add(token);
    for (const example of statistics.top) {
      const token = example.tokens[example.maxIndex]!;
      const byFeature = peaks.get(token) ?? new Map<number, number>();
      byFeature.set(statistics.feature, (byFeature.get(statistics.feature) ?? 0) + 1);
      peaks.set(token, byFeature);
    }
  }
  const text: Record<number, string> = {};
  for (const token of [...usedTokens].sort((a, b) => a - b)) text[token] = tokenText(token);
  const peakFeatures: Record<number, number[]> = {};
  for (const [token, byFeature] of peaks) peakFeatures[token] = [...byFeature].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([feature]) => feature);
  await write('tokens', { text, peaks: peakFeatures });

  const example = (item: FeatureExample & { decile?: number }) => ({
    sequence: item.sequence,
    start: item.start,
    maxIndex: item.maxIndex,
    max: round(item.maxValue),
    tokens: Array.from(item.tokens),
    values: Array.from(item.values, round),
    ...(item.decile === undefined ? {} : { decile: item.decile }),
  });
  for (let chunk = 0; chunk * chunkSize < features.length; chunk++) {
    const members = features.slice(chunk * chunkSize, (chunk + 1) * chunkSize);
    await write(
      `chunk-${chunk}`,
      Object.fromEntries(
        members.map((statistics) => [
          statistics.feature,
          {
            firings: statistics.firings,
            density: statistics.density,
            max: statistics.maxValue,
            histogram: statistics.histogram,
            top: statistics.top.map(example),
            quantiles: statistics.quantiles.map(example),
            ...(statistics.logitEffects === undefined
              ? {}
              : {
                  logits: {
                    hook: statistics.logitEffects.hook,
                    raised: statistics.logitEffects.raised.map(({ token, value }) => [token, round(value)]),
                    lowered: statistics.logitEffects.lowered.map(({ token, value }) => [token, round(value)]),
                  },
                }),
          },
        ]),
      ),
    );
  }
  const index = join(directory, 'index.html');
  await writeFile(index, dashboardPage({ title: options.title ?? `${data.architecture} dashboard` }));
  return index;
}
