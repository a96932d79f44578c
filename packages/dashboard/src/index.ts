export { BoundedMinHeap } from './bounded-min-heap.js';
export { FeatureCollector } from './feature-collector.js';
export type { ActivationHistogram, FeatureCollectorOptions, FeatureExample, FeatureStatistics } from './feature-collector.js';
export { collectDashboard, dashboardGraph } from './collect-dashboard.js';
export type { CollectDashboardOptions, DashboardData, DashboardTokenBatches, FeatureRange } from './collect-dashboard.js';
export { writeDashboard } from './write-dashboard.js';
export type { WriteDashboardOptions } from './write-dashboard.js';
export { DATA_CALLBACK_NAME, DATA_FOLDER_NAME } from './data-file-names.js';
