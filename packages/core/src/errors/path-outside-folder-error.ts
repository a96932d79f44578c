import { NndError } from './nnd-error.js';

/**
 * Thrown when a path read from a file (a checkpoint's, a run's or a cache's
 * metadata) would lead outside the folder it belongs to: absolute, through
 * `..`, or through a symbolic link. Such files are data, never a pointer to
 * read or write elsewhere.
 */
export class PathOutsideFolderError extends NndError {
  /** What the path was, e.g. `trainer_state.json members[0].directory`. */
  readonly what: string;
  readonly path: string;
  readonly folder: string;

  constructor(message: string, options: { what: string; path: string; folder: string }) {
    super(message, { code: 'nnd.path_outside_folder' });
    this.what = options.what;
    this.path = options.path;
    this.folder = options.folder;
  }
}
