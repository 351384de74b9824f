import { createHash } from 'node:crypto';
import { EvidenceCollector } from './evidence.collector';

describe('EvidenceCollector', () => {
  it('holds what is put per event until it is taken, by name, the same name once', async () => {
    const collector = new EvidenceCollector();
    const wav = Uint8Array.from([1, 2, 3]);
    const ref = await collector.put('ev-1', 'audio.wav', wav, 'audio/wav');
    expect(ref).toEqual({
      key: 'ev-1/audio.wav',
      contentType: 'audio/wav',
      bytes: 3,
      sha256: createHash('sha256').update(wav).digest('hex'),
    });
    await collector.put('ev-1', 'snapshot.jpg', Uint8Array.from([9]), 'image/jpeg');
    await collector.put('ev-1', 'audio.wav', Uint8Array.from([4]), 'audio/wav');
    await collector.put('ev-2', 'audio.wav', Uint8Array.from([5]), 'audio/wav');
    expect(collector.take('ev-1')).toEqual([
      { name: 'audio.wav', contentType: 'audio/wav', data: Uint8Array.from([4]) },
      { name: 'snapshot.jpg', contentType: 'image/jpeg', data: Uint8Array.from([9]) },
    ]);
    expect(collector.take('ev-1')).toEqual([]);
    expect(collector.size).toBe(1);
    expect(collector.take('ev-2')).toHaveLength(1);
    expect(collector.size).toBe(0);
  });
});
