import { EvidenceErrorCode } from './evidence.error';
import { encodeWav, toInt16 } from './wav.encoder';

describe('encodeWav', () => {
  it('writes a canonical 44-byte RIFF/WAVE header for 16-bit mono PCM', () => {
    const wav = encodeWav(new Float32Array([0, 0.5, -0.5]), 8000);
    const header = Buffer.from(wav.subarray(0, 44));
    expect(header.toString('hex')).toBe(
      [
        '52494646', // "RIFF"
        '2a000000', // 36 + 6 data bytes
        '57415645', // "WAVE"
        '666d7420', // "fmt "
        '10000000', // fmt chunk: 16 bytes
        '0100', // PCM
        '0100', // 1 channel
        '401f0000', // 8000 Hz
        '803e0000', // 16000 bytes/s
        '0200', // block align
        '1000', // 16 bits
        '64617461', // "data"
        '06000000', // 6 bytes
      ].join(''),
    );
    expect(wav.length).toBe(50);
    const view = new DataView(wav.buffer);
    expect([view.getInt16(44, true), view.getInt16(46, true), view.getInt16(48, true)]).toEqual([
      0, 16384, -16384,
    ]);
  });

  it('clips instead of wrapping, reaches both full-scale values and silences NaN', () => {
    expect([1, -1, 1.7, -3, Infinity, -Infinity, NaN, 1e-6].map(toInt16)).toEqual([
      32767, -32768, 32767, -32768, 32767, -32768, 0, 0,
    ]);
    const wav = encodeWav(new Float32Array([2, -2]), 16000);
    const view = new DataView(wav.buffer);
    expect([view.getInt16(44, true), view.getInt16(46, true)]).toEqual([32767, -32768]);
  });

  it('encodes an empty clip as a valid, empty WAV', () => {
    const wav = encodeWav(new Float32Array(0), 32000);
    expect(wav.length).toBe(44);
    expect(new DataView(wav.buffer).getUint32(40, true)).toBe(0);
  });

  it.each([0, -1, 44100.5, NaN])('rejects sample rate %p', (rate) => {
    expect(() => encodeWav(new Float32Array(1), rate)).toThrow(
      expect.objectContaining({ code: EvidenceErrorCode.INVALID_INPUT }),
    );
  });
});
