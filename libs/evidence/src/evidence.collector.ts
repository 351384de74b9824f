import { createHash } from 'node:crypto';
import type { EvidenceRef, EvidenceStore } from './evidence.store';

/** One rendered file of an event's evidence, held in memory. */
export interface CollectedArtifact {
  name: string;
  contentType: string;
  data: Uint8Array;
}

/**
 * A store that keeps what the EvidenceWriter renders in memory until its owner takes it: where
 * the evidence is not kept but sent on (an edge node sends it upstream). Bounded by its owner,
 * who takes every event's artifacts once written.
 */
export class EvidenceCollector implements Pick<EvidenceStore, 'put'> {
  private readonly held = new Map<string, CollectedArtifact[]>();

  async put(
    eventId: string,
    name: string,
    bytes: Uint8Array,
    contentType: string,
  ): Promise<EvidenceRef> {
    const artifacts = (this.held.get(eventId) ?? []).filter((a) => a.name !== name);
    artifacts.push({ name, contentType, data: bytes });
    this.held.set(eventId, artifacts);
    return {
      key: `${eventId}/${name}`,
      contentType,
      bytes: bytes.byteLength,
      sha256: createHash('sha256').update(bytes).digest('hex'),
    };
  }

  /** The event's artifacts, by name, and forgets them. */
  take(eventId: string): CollectedArtifact[] {
    const artifacts = this.held.get(eventId) ?? [];
    this.held.delete(eventId);
    return artifacts.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Events whose artifacts are held (0 between events). */
  get size(): number {
    return this.held.size;
  }
}
