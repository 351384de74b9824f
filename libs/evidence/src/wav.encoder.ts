import { EvidenceError, EvidenceErrorCode } from './evidence.error';

const HEADER_BYTES = 44;
/** RIFF sizes are unsigned 32-bit; past this the header would wrap and lie about the length. */
const MAX_DATA_BYTES = 0xffffffff - (HEADER_BYTES - 8);

/**
 * Mono float PCM → 16-bit PCM WAV, the one audio format every player and browser opens.
 * Samples outside [-1, 1] are clipped rather than wrapped (wrapping turns a loud bang into
 * full-scale noise of the opposite sign); NaN becomes silence.
 */
export function encodeWav(samples: Float32Array, sampleRate: number): Uint8Array {
  if (!Number.isInteger(sampleRate) || sampleRate <= 0 || sampleRate > 0x7fffffff) {
    throw new EvidenceError(
      EvidenceErrorCode.INVALID_INPUT,
      `WAV sample rate must be a positive integer (got ${sampleRate})`,
    );
  }
  const dataBytes = samples.length * 2;
  if (dataBytes > MAX_DATA_BYTES) {
    throw new EvidenceError(
      EvidenceErrorCode.INVALID_INPUT,
      `${samples.length} samples do not fit in one WAV file`,
    );
  }
  const out = new Uint8Array(HEADER_BYTES + dataBytes);
  const view = new DataView(out.buffer);
  writeAscii(out, 0, 'RIFF');
  view.setUint32(4, 36 + dataBytes, true);
  writeAscii(out, 8, 'WAVE');
  writeAscii(out, 12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * 2, true); // byte rate
  view.setUint16(32, 2, true); // block align
  view.setUint16(34, 16, true);
  writeAscii(out, 36, 'data');
  view.setUint32(40, dataBytes, true);
  for (let i = 0; i < samples.length; i++) {
    view.setInt16(HEADER_BYTES + i * 2, toInt16(samples[i]), true);
  }
  return out;
}

/** Asymmetric scale so that both -1 and +1 reach full scale (-32768 and 32767). */
export function toInt16(sample: number): number {
  if (Number.isNaN(sample)) return 0;
  if (sample >= 1) return 32767;
  if (sample <= -1) return -32768;
  return Math.round(sample < 0 ? sample * 32768 : sample * 32767);
}

function writeAscii(out: Uint8Array, at: number, text: string): void {
  for (let i = 0; i < text.length; i++) out[at + i] = text.charCodeAt(i);
}
