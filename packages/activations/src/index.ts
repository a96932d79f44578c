export { DatasetError } from './dataset-error.js';
export { ActivationCacheError } from './activation-cache-error.js';

export type { DatasetDocument, DocumentSource } from './dataset-document.js';
export { DOCUMENT_COLUMNS, detectDocumentColumn, documentFromValue } from './document-column.js';
export { textFileSource } from './text-file-source.js';
export type { TextFileSourceOptions } from './text-file-source.js';
export { jsonlSource } from './jsonl-source.js';
export type { RecordSourceOptions } from './jsonl-source.js';
export { parquetDocuments, parquetSource } from './parquet-source.js';
export type { ParquetInput, ParquetSourceOptions } from './parquet-source.js';
export { CORPUS_NAMES, corpusNameOf, corpusSource } from './bundled-corpora.js';
export type { CorpusName } from './bundled-corpora.js';
export { PARQUET_CONVERSION_REVISION, hubDatasetSource } from './hub-dataset-source.js';
export type { HubDatasetOptions } from './hub-dataset-source.js';
export { openDataset } from './open-dataset.js';
export type { OpenDatasetOptions } from './open-dataset.js';

export type { TextTokenizer } from './text-tokenizer.js';
export { specialTokenIdsOf } from './text-tokenizer.js';
export { DATASET_START, TokenPacker } from './token-packer.js';
export type { DatasetPosition, PackingOptions } from './token-packer.js';

export type { ActivationModel } from './activation-model.js';
export { hookedTransformerActivations, stopAtLayerFor } from './hooked-transformer-activations.js';
export type { HookedTransformerActivationsOptions } from './hooked-transformer-activations.js';
export { ActivationHarvester } from './activation-harvester.js';
export type { ActivationHarvesterOptions, HarvestedBatch } from './activation-harvester.js';

export type { HookBatchSource } from './activation-source.js';
export { ShuffleBuffer } from './shuffle-buffer.js';
export type { BufferPosition, HookWidth, RowChunk, RowChunkProducer, ShuffleBufferOptions } from './shuffle-buffer.js';
export { ActivationsStore } from './activations-store.js';
export type { ActivationsStoreOptions } from './activations-store.js';
export { createHarvester } from './harvest-settings.js';
export type { HarvestSettings } from './harvest-settings.js';
export { MultiHookActivationsStore } from './multi-hook-activations-store.js';
export type { MultiHookActivationsStoreOptions, StorePosition, StoreSettings } from './multi-hook-activations-store.js';
export { fitStoreFootprint, storeFootprint } from './store-footprint.js';
export type { StoreFootprint } from './store-footprint.js';

export {
  CACHE_FORMAT,
  CACHE_FORMAT_VERSION,
  CACHE_MANIFEST,
  activationsTensorName,
  readCacheManifest,
  readShard,
  shardFileName,
  verifyActivationCache,
} from './activation-cache.js';
export type {
  ActivationCacheManifest,
  ActivationCacheSettings,
  CacheDType,
  CacheHook,
  CacheShard,
  CacheVerification,
  ShardContents,
} from './activation-cache.js';
export { harvestToCache } from './harvest-to-cache.js';
export type { HarvestToCacheOptions, HarvestToCacheResult } from './harvest-to-cache.js';
export { CachedActivationsStore, CachedMultiHookActivationsStore, modelBatchRows } from './cached-activations-store.js';
export type { CachePosition, CachedActivationsStoreOptions, CachedMultiHookStoreOptions, CachedStorePosition } from './cached-activations-store.js';
