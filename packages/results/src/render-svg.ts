import { View, parse } from 'vega';
import type { Loader, LoggerInterface } from 'vega';
import { compile } from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import { ResultsError } from './errors/index.js';

/** vega-util's `Error` level: the logger hears errors and nothing quieter. */
const ERROR_LOG_LEVEL = 1;

export interface RenderSvgOptions {
  /**
   * Prefixed to every `id` in the SVG (vega's clip paths and gradients) and
   * to the references to them, so that several SVGs inlined in one HTML page
   * never point at each other's definitions. Letters, digits, `-` and `_`.
   */
  idPrefix?: string;
}

/**
 * Renders a Vega-Lite spec to an SVG string in Node, without a browser:
 * vega-lite compiles it to a Vega spec, and a headless vega `View`
 * (`renderer: 'none'`) draws it with vega's SVG string renderer. No canvas
 * package is needed; without one, vega estimates text widths from the font
 * size, so specs here lift vega's label-length limits rather than trust the
 * estimate to truncate well. Data must be inline (`data.values`): the view's
 * loader refuses every URL and file, so rendering never touches the network.
 */
export async function renderSvg(spec: TopLevelSpec, options: RenderSvgOptions = {}): Promise<string> {
  const prefix = options.idPrefix ?? '';
  if (!/^[A-Za-z0-9_-]*$/.test(prefix)) throw new ResultsError(`renderSvg: idPrefix may hold only letters, digits, '-' and '_', got '${prefix}'`);
  // vega reports a failed load or a dataflow error to its logger and draws on
  // without the data; collected here, they fail the render instead of
  // leaving a silently empty plot.
  const problems: string[] = [];
  let view: View | undefined;
  let svg: string;
  try {
    const vegaSpec = compile(spec).spec;
    view = new View(parse(vegaSpec), { renderer: 'none', loader: refusingLoader(problems), logger: collectingLogger(problems), logLevel: ERROR_LOG_LEVEL });
    svg = await view.toSVG();
  } catch (error) {
    throw new ResultsError(`cannot render the plot${describeTitle(spec)}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  } finally {
    // Releases the view's dataflow and timers, so a test process exits promptly.
    view?.finalize();
  }
  if (problems.length > 0) throw new ResultsError(`cannot render the plot${describeTitle(spec)}: ${problems.join('; ')}`);
  return prefix === '' ? svg : prefixIds(svg, prefix);
}

function describeTitle(spec: TopLevelSpec): string {
  const title = (spec as { title?: unknown }).title;
  const text = typeof title === 'string' ? title : typeof title === 'object' && title !== null ? (title as { text?: unknown }).text : undefined;
  return typeof text === 'string' ? ` '${text}'` : '';
}

/** The only references vega's SVG writer makes are `url(#id)` (clip paths, gradients) and `href="#id"`. */
function prefixIds(svg: string, prefix: string): string {
  return svg
    .replace(/\bid="([^"]+)"/g, (_match, id: string) => `id="${prefix}${id}"`)
    .replace(/url\(#([^)]+)\)/g, (_match, id: string) => `url(#${prefix}${id})`)
    .replace(/href="#([^"]+)"/g, (_match, id: string) => `href="#${prefix}${id}"`);
}

function refusingLoader(problems: string[]): Loader {
  const refuse = (what: unknown) => {
    const message = `plots render from inline data only, and the spec asked to load ${String(what)}`;
    problems.push(message);
    return Promise.reject(new ResultsError(message));
  };
  return { load: refuse, sanitize: refuse, http: refuse, file: refuse } as unknown as Loader;
}

/** vega's logger interface; errors are kept, warnings and the rest are dropped (vega-lite already warned at compile time). */
function collectingLogger(problems: string[]): LoggerInterface {
  const logger: LoggerInterface = {
    level: (() => logger) as LoggerInterface['level'],
    error: (...values: readonly unknown[]) => {
      problems.push(values.map((value) => (value instanceof Error ? value.message : String(value))).join(' '));
      return logger;
    },
    warn: () => logger,
    info: () => logger,
    debug: () => logger,
  };
  return logger;
}
