import { createHash } from 'node:crypto';
import type { OnnxRuntimeSession, SessionOptions } from './onnx-runtime.js';

export interface SessionLease {
  readonly session: OnnxRuntimeSession;
  readonly key: string;
  /** Set once the session is released; programs holding the lease must not run it. */
  released: boolean;
}

interface Entry {
  readonly lease: Promise<SessionLease>;
  users: number;
}

/**
 * Sessions keyed by a sha256 of the model bytes and the session options, so
 * compiling the same graph twice builds one session. Shared until its last
 * user releases it.
 */
export class SessionCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly create: (bytes: Uint8Array, options: SessionOptions) => Promise<OnnxRuntimeSession>) {}

  get size(): number {
    return this.entries.size;
  }

  async acquire(bytes: Uint8Array, options: SessionOptions): Promise<SessionLease> {
    const key = createHash('sha256').update(bytes).update(JSON.stringify(options)).digest('hex');
    let entry = this.entries.get(key);
    if (entry === undefined) {
      const created: Entry = {
        lease: this.create(bytes, options).then((session) => ({ session, key, released: false })),
        users: 0,
      };
      // A failed creation is not cached, so a later compile can retry.
      created.lease.catch(() => this.entries.get(key) === created && this.entries.delete(key));
      this.entries.set(key, created);
      entry = created;
    }
    entry.users++;
    return entry.lease;
  }

  async release(lease: SessionLease): Promise<void> {
    const entry = this.entries.get(lease.key);
    if (entry === undefined || lease.released || --entry.users > 0) return;
    this.entries.delete(lease.key);
    lease.released = true;
    await lease.session.release();
  }

  async clear(): Promise<void> {
    const entries = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(
      entries.map(async (entry) => {
        const lease = await entry.lease.catch(() => undefined);
        if (lease === undefined || lease.released) return;
        lease.released = true;
        await lease.session.release();
      }),
    );
  }
}
