import { ChunkAssembler } from './chunk.assembler';

const bytes = (...values: number[]) => Uint8Array.from(values);

describe('ChunkAssembler', () => {
  it('reassembles records of exact size from pieces of any size', () => {
    const assembler = new ChunkAssembler(4);
    expect(assembler.push(bytes(1, 2, 3))).toEqual([]);
    expect(assembler.pending).toBe(3);
    expect(assembler.push(bytes(4, 5, 6, 7, 8, 9, 10))).toEqual([
      bytes(1, 2, 3, 4),
      bytes(5, 6, 7, 8),
    ]);
    expect(assembler.flush()).toEqual(bytes(9, 10));
    expect(assembler.flush()).toBeUndefined();
  });

  it('hands out records the producer can no longer touch, aligned for Float32Array', () => {
    const assembler = new ChunkAssembler(8);
    const input = new Uint8Array(new Float32Array([1.5, -2]).buffer);
    const source = new Uint8Array(9);
    source.set(input, 1);
    const [record] = assembler.push(source.subarray(1, 9));
    source.fill(0);
    expect(record.byteOffset).toBe(0);
    expect(Array.from(new Float32Array(record.buffer, record.byteOffset, 2))).toEqual([1.5, -2]);
  });

  it('rejects a nonsensical record size', () => {
    expect(() => new ChunkAssembler(0)).toThrow(RangeError);
  });
});
