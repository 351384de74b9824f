/**
 * Cuts a byte stream that arrives in pieces of any size into records of exactly `size` bytes.
 * Every byte is copied once, into a fresh record the consumer then owns; nothing else is kept
 * but the one record being filled.
 */
export class ChunkAssembler {
  private current?: Uint8Array;
  private filled = 0;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError('record size must be a positive integer');
  }

  /** Bytes waiting for the rest of their record. */
  get pending(): number {
    return this.filled;
  }

  /** Returns the records this piece completed (often none, sometimes several). */
  push(data: Uint8Array): Uint8Array[] {
    const complete: Uint8Array[] = [];
    let offset = 0;
    while (offset < data.length) {
      // A fresh ArrayBuffer per record: aligned for Float32Array views and safe to hand out.
      this.current ??= new Uint8Array(this.size);
      const take = Math.min(this.size - this.filled, data.length - offset);
      this.current.set(data.subarray(offset, offset + take), this.filled);
      this.filled += take;
      offset += take;
      if (this.filled === this.size) {
        complete.push(this.current);
        this.current = undefined;
        this.filled = 0;
      }
    }
    return complete;
  }

  /** The incomplete last record, if any (a view on its start, so still aligned). */
  flush(): Uint8Array | undefined {
    const rest = this.current?.subarray(0, this.filled);
    this.current = undefined;
    this.filled = 0;
    return rest && rest.length > 0 ? rest : undefined;
  }
}
