import type { Bus } from '@app/bus';
import type { EdgeEvidence, SecurityEvent } from '@app/contracts';
import type { EvidenceRef as StoreRef, EvidenceStore } from '@app/evidence';
import type { EvidenceRef } from '@app/history';
import { strictMock } from '@app/testing/strict-mock';
import { EdgeEvidenceReceiver } from './edge-evidence.receiver';
import { ManualSleeper } from '../test/manual.sleeper';

const SHA = 'ab'.repeat(32);
const event = { id: 'ver-1', streamId: 'cam-1' } as SecurityEvent;
const evidence: EdgeEvidence = {
  eventId: 'ver-1',
  incidentId: 'inc-1',
  version: 1,
  streamId: 'cam-1',
  artifacts: [
    { name: 'audio.wav', contentType: 'audio/wav', data: Uint8Array.from([1, 2, 3]) },
    { name: 'snapshot.jpg', contentType: 'image/jpeg', data: Uint8Array.from([4]) },
  ],
};
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A store as the folder store behaves: a put is listed afterwards, under its event. */
function memoryStore() {
  const files = new Map<string, StoreRef[]>();
  const put = jest.fn(async (eventId: string, name: string, bytes: Uint8Array, type: string) => {
    const ref = { key: `${eventId}/${name}`, contentType: type, bytes: bytes.length, sha256: SHA };
    files.set(eventId, [...(files.get(eventId) ?? []).filter((r) => r.key !== ref.key), ref]);
    return ref;
  });
  const bytesOf = new Map<string, Uint8Array>();
  put.mockImplementation(async (eventId, name, bytes, type) => {
    const ref = { key: `${eventId}/${name}`, contentType: type, bytes: bytes.length, sha256: SHA };
    files.set(eventId, [...(files.get(eventId) ?? []).filter((r) => r.key !== ref.key), ref]);
    bytesOf.set(ref.key, bytes);
    return ref;
  });
  const list = jest.fn(async (eventId: string) => files.get(eventId) ?? []);
  const get = jest.fn(async (target: StoreRef | string) => ({
    bytes: bytesOf.get(typeof target === 'string' ? target : target.key)!,
    contentType: 'application/json',
  }));
  return {
    store: strictMock<Pick<EvidenceStore, 'put' | 'list' | 'get'>>('EvidenceStore', {
      put,
      list,
      get,
    }),
    put,
    list,
    files,
  };
}

describe('EdgeEvidenceReceiver', () => {
  let sleeper: ManualSleeper;
  beforeEach(() => (sleeper = new ManualSleeper()));

  let now = 1_000_000;
  const receiver = (store: Pick<EvidenceStore, 'put' | 'list' | 'get'>) =>
    new EdgeEvidenceReceiver(strictMock<Bus>('Bus', {}), store, {
      sleeper,
      pollMs: 1000,
      now: () => now,
    });

  describe('by moment (a site incident over an edge camera)', () => {
    const moment = 'moment-1';
    const withMoment = { ...evidence, momentId: moment };

    it("answers with the files of the camera's version triggered at that moment", async () => {
      const { store } = memoryStore();
      const subject = receiver(store);
      await subject.receive(withMoment);
      const refs = await subject.refsForMoment(moment, { timeoutMs: 5000 });
      expect(refs.map((r) => r.key)).toEqual(['ver-1/audio.wav', 'ver-1/snapshot.jpg']);
    });

    it('waits for the moment, woken when its evidence arrives', async () => {
      const { store } = memoryStore();
      const subject = receiver(store);
      const waiting = subject.refsForMoment(moment, { timeoutMs: 60_000 });
      await settle();
      await subject.receive(withMoment);
      expect((await waiting).map((r) => r.name)).toEqual(['audio.wav', 'snapshot.jpg']);
    });

    it("does not take another run's moment (older than momentMaxAgeMs) for this one's", async () => {
      const { store } = memoryStore();
      const subject = receiver(store);
      await subject.receive(withMoment);
      now += 11 * 60_000;
      const waiting = subject.refsForMoment(moment, { timeoutMs: 2000 });
      await settle();
      sleeper.elapse(2000);
      expect(await waiting).toEqual([]);
    });
  });

  it('stores each file under the version id; a resend writes the same keys again, one copy', async () => {
    const { store, put, files } = memoryStore();
    const subject = receiver(store);
    await subject.receive(evidence);
    await subject.receive(evidence);
    expect(put).toHaveBeenCalledWith('ver-1', 'audio.wav', evidence.artifacts[0].data, 'audio/wav');
    expect(files.get('ver-1')!.map((r) => r.key)).toEqual([
      'ver-1/audio.wav',
      'ver-1/snapshot.jpg',
    ]);
  });

  it('answers at once with named refs when the evidence came before the version was decided', async () => {
    const { store } = memoryStore();
    const subject = receiver(store);
    await subject.receive(evidence);
    expect(await subject.refsFor(event, { timeoutMs: 5000 })).toEqual([
      {
        name: 'audio.wav',
        key: 'ver-1/audio.wav',
        contentType: 'audio/wav',
        bytes: 3,
        sha256: SHA,
      },
      {
        name: 'snapshot.jpg',
        key: 'ver-1/snapshot.jpg',
        contentType: 'image/jpeg',
        bytes: 1,
        sha256: SHA,
      },
    ]);
  });

  it('wakes a waiting version as soon as its evidence is stored', async () => {
    const { store } = memoryStore();
    const subject = receiver(store);
    let refs: EvidenceRef[] | undefined;
    const waiting = subject.refsFor(event, { timeoutMs: 5000 }).then((r) => (refs = r));
    await settle();
    expect(refs).toBeUndefined();
    await subject.receive({ ...evidence, eventId: 'other' });
    await settle();
    expect(refs).toBeUndefined();
    await subject.receive(evidence);
    await waiting;
    expect(refs!.map((r) => r.name)).toEqual(['audio.wav', 'snapshot.jpg']);
  });

  it('looks in the store again every poll, for evidence another replica stored', async () => {
    const { store, files } = memoryStore();
    const subject = receiver(store);
    let refs: EvidenceRef[] | undefined;
    const waiting = subject.refsFor(event, { timeoutMs: 5000 }).then((r) => (refs = r));
    await settle();
    files.set('ver-1', [
      { key: 'ver-1/audio.wav', contentType: 'audio/wav', bytes: 3, sha256: SHA },
    ]);
    sleeper.elapse(1000);
    await waiting;
    expect(refs!.map((r) => r.name)).toEqual(['audio.wav']);
  });

  it('answers with none once the wait is over, or the receiver stops', async () => {
    const { store } = memoryStore();
    const subject = receiver(store);
    const late = subject.refsFor(event, { timeoutMs: 5000 });
    await settle();
    sleeper.elapse(5000);
    expect(await late).toEqual([]);
    const stopped = subject.refsFor(event, { timeoutMs: 5000 });
    await settle();
    await subject.stop();
    expect(await stopped).toEqual([]);
  });

  it('refuses files an edge has no business sending, storing none of the message', async () => {
    const { store, put } = memoryStore();
    const subject = receiver(store);
    const bad = (artifact: EdgeEvidence['artifacts'][number]) =>
      subject.receive({ ...evidence, artifacts: [evidence.artifacts[0], artifact] });
    await expect(
      bad({ name: '../../etc/passwd', contentType: 'text/plain', data: Uint8Array.from([1]) }),
    ).rejects.toThrow('edge evidence ver-1: unknown file "../../etc/passwd"');
    await expect(
      bad({ name: 'snapshot.jpg', contentType: 'text/html', data: Uint8Array.from([1]) }),
    ).rejects.toThrow('snapshot.jpg must be image/jpeg, not "text/html"');
    await expect(
      bad({ name: 'snapshot.jpg', contentType: 'image/jpeg', data: new Uint8Array(0) }),
    ).rejects.toThrow('snapshot.jpg of 0 bytes');
    expect(put).not.toHaveBeenCalled();
  });
});
