import { EDGE_SEQ_HEADER } from '@app/bus';

export { EDGE_SEQ_HEADER };

/**
 * Recognises a message an edge sent twice. An edge resends a batch whose acknowledgement it
 * lost (a link cut mid-request); its messages carry their place in the edge's spool, which only
 * grows, and one stream's messages arrive in order on one partition, so a copy is one whose
 * seq is not above the last one seen from that edge for that stream. Bounded like the replay
 * filter: the least recently seen pairs are forgotten.
 */
export class EdgeCopyFilter {
  private readonly reached = new Map<string, number>();

  constructor(private readonly maxEntries = 4096) {}

  /** False for a copy; true for a new message, and for one that did not come from an edge. */
  isNew(streamId: string, headers: Readonly<Record<string, string>>): boolean {
    const id = headers[EDGE_SEQ_HEADER];
    if (!id) return true;
    const at = id.lastIndexOf(':');
    const seq = Number(id.slice(at + 1));
    if (at < 0 || !Number.isSafeInteger(seq)) return true;
    const key = `${id.slice(0, at)}\u0000${streamId}`;
    const last = this.reached.get(key);
    if (last !== undefined && seq <= last) return false;
    this.reached.delete(key); // re-inserted last: least recently seen first
    this.reached.set(key, seq);
    if (this.reached.size > this.maxEntries) this.reached.delete(this.reached.keys().next().value!);
    return true;
  }
}
