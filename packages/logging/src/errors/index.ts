export { LoggingError } from './logging-error.js';
export { RunDirectoryError } from './run-directory-error.js';
export { RunDirectoryLockedError } from './run-directory-locked-error.js';
export { WandbError } from './wandb-error.js';
