export { ResultsError } from './results-error.js';
