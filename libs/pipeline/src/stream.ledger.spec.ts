import type { StreamStatus } from '@app/contracts';
import { StreamLedger } from './stream.ledger';

const status = (state: StreamStatus['state'], decodedSec?: number): StreamStatus => ({
  streamId: 'cam',
  state,
  source: '/clips/a.mp4',
  ...(decodedSec === undefined ? {} : { decodedSec }),
});
const from = (command: string, extra: Record<string, string> = {}) => ({
  'x-vigil-command': command,
  ...extra,
});

describe('StreamLedger', () => {
  it('starts a stream it has no record of', () => {
    expect(new StreamLedger().decide('cam', '2:10')).toEqual({ action: 'start' });
  });

  it('resumes a run that is going from its last checkpoint, with its headers', () => {
    const ledger = new StreamLedger();
    ledger.apply(status('started'), from('2:10', { 'x-correlation-id': 'c1' }));
    expect(ledger.decide('cam', '2:10')).toMatchObject({ action: 'resume', atSec: 0 });
    ledger.apply(status('started', 3.2), from('2:10', { 'x-correlation-id': 'c1' }));
    ledger.apply(status('reconnecting'), from('2:10', { 'x-correlation-id': 'c1' }));
    // A resumed run says 'started' again without a checkpoint: the last one still holds.
    ledger.apply(status('started'), from('2:10', { 'x-correlation-id': 'c1' }));
    expect(ledger.decide('cam', '2:10')).toEqual({
      action: 'resume',
      atSec: 3.2,
      headers: { 'x-vigil-command': '2:10', 'x-correlation-id': 'c1' },
    });
  });

  it('skips a run that ended or failed, and a start that a later one superseded', () => {
    const ledger = new StreamLedger();
    ledger.apply(status('started', 4), from('2:10'));
    ledger.apply(status('ended'), from('2:10'));
    expect(ledger.decide('cam', '2:10')).toMatchObject({ action: 'skip' });
    ledger.apply(status('started'), from('2:15'));
    ledger.apply(status('failed'), from('2:15'));
    expect(ledger.decide('cam', '2:15')).toMatchObject({ action: 'skip' });
    expect(ledger.decide('cam', '2:10')).toMatchObject({ action: 'skip' });
  });

  it('starts a newer command once the earlier run ended, not while it is going', () => {
    const ledger = new StreamLedger();
    ledger.apply(status('started', 1), from('2:10'));
    expect(ledger.decide('cam', '2:12')).toMatchObject({ action: 'skip' });
    ledger.apply(status('ended'), from('2:10'));
    expect(ledger.decide('cam', '2:12')).toEqual({ action: 'start' });
    // A fresh run begins at 0, not at the checkpoint of the one before.
    ledger.apply(status('started'), from('2:12'));
    expect(ledger.decide('cam', '2:12')).toMatchObject({ action: 'resume', atSec: 0 });
  });

  it('applies a start once per idempotency key, whichever command carried it', () => {
    const ledger = new StreamLedger();
    ledger.apply(status('started', 2), from('2:10', { 'x-vigil-request': 'req-1' }));
    ledger.apply(status('ended'), from('2:10', { 'x-vigil-request': 'req-1' }));
    // The retry's command came later: without the key it would start the clip again.
    expect(ledger.decide('cam', '2:11', 'req-1')).toMatchObject({ action: 'skip' });
    expect(ledger.decide('cam', '2:11', 'req-2')).toEqual({ action: 'start' });
    expect(ledger.decide('cam', '2:11')).toEqual({ action: 'start' });
  });

  it('takes fusion’s verdicts as about the last run: stalled is resumed, ended by the idle timeout is not', () => {
    const ledger = new StreamLedger();
    ledger.apply(status('started', 4.5), from('2:10'));
    ledger.apply({ ...status('stalled'), source: '' }, {});
    expect(ledger.decide('cam', '2:10')).toEqual({
      action: 'resume',
      atSec: 4.5,
      headers: { 'x-vigil-command': '2:10' },
    });
    ledger.apply({ ...status('ended'), source: '' }, {});
    expect(ledger.decide('cam', '2:10')).toMatchObject({ action: 'skip' });
    expect(ledger.decide('cam', '2:11')).toEqual({ action: 'start' });
  });

  it('decides from the one status compaction left of a stream, a verdict naming its run', () => {
    // The status topic is compacted: a replay may find fusion's verdict and nothing before it.
    const stalled = new StreamLedger();
    stalled.apply({ ...status('stalled'), source: '' }, from('2:10', { 'x-vigil-request': 'r1' }));
    // The checkpoint went with the older statuses: the run is taken on again from its start.
    expect(stalled.decide('cam', '2:10')).toEqual({
      action: 'resume',
      atSec: 0,
      headers: { 'x-vigil-command': '2:10', 'x-vigil-request': 'r1' },
    });
    expect(stalled.decide('cam', '2:12', 'r1')).toMatchObject({ action: 'skip' });
    const ended = new StreamLedger();
    ended.apply({ ...status('ended'), source: '' }, from('2:10'));
    expect(ended.decide('cam', '2:10')).toMatchObject({ action: 'skip' });
  });
});
