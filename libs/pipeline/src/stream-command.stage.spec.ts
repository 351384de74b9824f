import type { Bus, BusMessage, MessageHandler, SubscribeOptions, Subscription } from '@app/bus';
import type { StreamCommand, StreamStatus } from '@app/contracts';
import { strictMock } from '@app/testing/strict-mock';
import { type StartCommand, StreamCommandStage } from './stream-command.stage';
import type { StreamOutcome, StreamRequest, StreamSupervisor } from './stream.supervisor';

interface Wired {
  handlers: Record<string, MessageHandler<unknown>>;
  options: Record<string, SubscribeOptions | undefined>;
}

function fakeBus(): { bus: Bus; wired: Wired } {
  const wired: Wired = { handlers: {}, options: {} };
  const subscription = strictMock<Subscription>('Subscription', {
    close: jest.fn(async () => undefined),
    caughtUp: jest.fn(async () => undefined),
  });
  const bus = strictMock<Bus>('Bus', {
    subscribe: jest.fn(async (topic, _group, handler, options) => {
      wired.handlers[topic.name] = handler as MessageHandler<unknown>;
      wired.options[topic.name] = options;
      return subscription;
    }) as Bus['subscribe'],
  });
  return { bus, wired };
}

function message<T>(value: T, partition: number, offset: number, headers = {}) {
  const release = jest.fn();
  const hold = jest.fn(() => release);
  const m: BusMessage<T> = { topic: 't', key: 'cam', value, headers, partition, offset, hold };
  return { m, hold, release };
}

const START: StartCommand = { streamId: 'cam', action: 'start', source: '/clips/a.mp4' };

function setup() {
  const { bus, wired } = fakeBus();
  let finish!: (outcome: StreamOutcome) => void;
  const started: StreamRequest[] = [];
  const supervisor = strictMock<StreamSupervisor>('StreamSupervisor', {
    start: jest.fn((request: StreamRequest) => (started.push(request), true)),
    whenDone: jest.fn(() => new Promise<StreamOutcome>((resolve) => (finish = resolve))),
    stop: jest.fn(async () => true),
    handOver: jest.fn(async () => true),
    handOverAll: jest.fn(async () => undefined),
  });
  const stage = new StreamCommandStage(bus, supervisor, {
    group: 'vigil-ingest',
    ledgerGroup: 'ledger-1',
    requestFor: (command) => ({
      streamId: command.streamId,
      source: command.source,
      headers: { a: '1' },
    }),
  });
  const status = (value: StreamStatus, headers: Record<string, string>) =>
    wired.handlers['vigil.streams.status'](message(value, 2, 0, headers).m);
  const command = (value: StreamCommand, offset: number) => {
    const sent = message(value, 2, offset);
    return { ...sent, done: wired.handlers['vigil.streams.commands'](sent.m) };
  };
  return {
    stage,
    supervisor,
    wired,
    started,
    status,
    command,
    finish: (o: StreamOutcome) => finish(o),
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('StreamCommandStage', () => {
  it('holds a start command until its stream is closed downstream, naming the command in its headers', async () => {
    const t = setup();
    await t.stage.start();
    expect(t.wired.options['vigil.streams.status']).toMatchObject({ commits: false });
    const sent = t.command(START, 7);
    await sent.done;
    expect(t.started).toEqual([
      {
        streamId: 'cam',
        source: '/clips/a.mp4',
        headers: { a: '1', 'x-vigil-command': '2:7' },
      },
    ]);
    expect(sent.hold).toHaveBeenCalledTimes(1);
    await settle();
    expect(sent.release).not.toHaveBeenCalled();
    t.finish('closed');
    await settle();
    expect(sent.release).toHaveBeenCalled();
  });

  it('keeps the hold when the stream is handed over, so whoever takes it over reads the command again', async () => {
    const t = setup();
    await t.stage.start();
    const sent = t.command(START, 7);
    await sent.done;
    t.wired.options['vigil.streams.commands']!.onAssigned!([0, 1]); // partition 2 moved
    expect(t.supervisor.handOver).toHaveBeenCalledWith('cam');
    t.finish('handed-over');
    await settle();
    expect(sent.release).not.toHaveBeenCalled();
  });

  it('resumes a run read again from its last checkpoint, and lets an ended run be', async () => {
    const t = setup();
    await t.stage.start();
    const run = { 'x-vigil-command': '2:7', 'x-correlation-id': 'c1' };
    await t.status({ streamId: 'cam', state: 'started', source: 'a' }, run);
    await t.status({ streamId: 'cam', state: 'started', source: 'a', decodedSec: 4.2 }, run);
    await t.status(
      { streamId: 'other', state: 'ended', source: 'b' },
      { 'x-vigil-command': '2:8' },
    );
    await t.command(START, 7).done;
    const ended = t.command({ ...START, streamId: 'other' }, 8);
    await ended.done;
    expect(t.started).toHaveLength(1);
    expect(t.started[0].resume).toEqual({ atSec: 4.2, headers: run });
    expect(t.started[0].headers).toMatchObject({ 'x-vigil-command': '2:7' });
    expect(ended.hold).not.toHaveBeenCalled();
  });

  it('passes stop commands on and ends nothing on shutdown', async () => {
    const t = setup();
    await t.stage.start();
    await t.command({ streamId: 'cam', action: 'stop' }, 9).done;
    expect(t.supervisor.stop).toHaveBeenCalledWith('cam');
    await t.stage.stop();
    expect(t.supervisor.handOverAll).toHaveBeenCalled();
  });
});
