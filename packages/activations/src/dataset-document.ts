/**
 * One document of a dataset: raw text (tokenised with BOS prepended) or
 * token ids that are used as they are (a `tokens` or `input_ids` column).
 */
export type DatasetDocument = { readonly text: string } | { readonly tokens: readonly number[] };

/** A dataset as an ordered, restartable stream of documents. */
export interface DocumentSource {
  /** What the documents are, e.g. `parquet /data/pile/train`; stored in cache manifests and named in errors. */
  readonly description: string;
  /**
   * The documents from index `start` on (default 0), in the same order on
   * every call, so a run can resume at a recorded document index. Sources
   * skip cheaply where the format allows (Parquet skips whole row groups).
   */
  documents(start?: number): AsyncIterable<DatasetDocument>;
}
