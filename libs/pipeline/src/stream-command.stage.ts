import type { Bus, BusMessage, Subscription } from '@app/bus';
import { type StreamCommand, Topics } from '@app/contracts';
import { redactUrl } from '@app/media';
import { COMMAND_HEADER, REQUEST_HEADER } from './stream-headers';
import { StreamLedger } from './stream.ledger';
import type { StreamRequest, StreamSupervisor } from './stream.supervisor';

export type StartCommand = Extract<StreamCommand, { action: 'start' }>;

export interface StreamCommandStageOptions {
  /** Consumer group of the commands topic: ingest replicas share streams by its partitions. */
  group: string;
  /** A group of this process alone, to read the whole status topic at every start. */
  ledgerGroup: string;
  /** What a start command asks of this ingest (modalities, headers). */
  requestFor: (command: StartCommand) => StreamRequest;
  log?: (message: string) => void;
}

interface Owned {
  partition: number;
  /** The start command, as `partition:offset`. */
  command: string;
}

/**
 * Start and stop commands → streams run by this ingest. A stream outlives the process running
 * it: its start command stays uncommitted until the stream is closed downstream, and its
 * statuses (checkpoints included) are the record of how far it got. Whoever reads the command
 * again (a restarted ingest, or the one that took its partition over) asks that record, the
 * StreamLedger, and resumes the stream where it was, starts it, or lets it be.
 */
export class StreamCommandStage {
  private readonly ledger = new StreamLedger();
  private readonly owned = new Map<string, Owned>();
  private ledgerSubscription?: Subscription;
  private commandSubscription?: Subscription;

  constructor(
    private readonly bus: Bus,
    private readonly supervisor: StreamSupervisor,
    private readonly options: StreamCommandStageOptions,
  ) {}

  async start(): Promise<void> {
    this.ledgerSubscription = await this.bus.subscribe(
      Topics.streamStatus,
      this.options.ledgerGroup,
      async ({ value, headers }) => this.ledger.apply(value, headers),
      { startFrom: 'earliest', commits: false },
    );
    // Latest, not earliest, for a group without offsets: replaying retained start commands
    // after the group's offsets expired would restart streams nobody asked for.
    this.commandSubscription = await this.bus.subscribe(
      Topics.streamCommands,
      this.options.group,
      (m) => this.onCommand(m),
      { startFrom: 'latest', onAssigned: (partitions) => this.keepOnly(partitions) },
    );
  }

  /** Leaves the streams running to whoever takes them over; ends none of them. */
  async stop(): Promise<void> {
    await this.commandSubscription?.close();
    await this.supervisor.handOverAll();
    await this.ledgerSubscription?.close();
  }

  private async onCommand(message: BusMessage<StreamCommand>): Promise<void> {
    const command = message.value;
    const { streamId } = command;
    if (command.action === 'stop') {
      const stopped = await this.supervisor.stop(streamId);
      this.log(`${streamId}: ${stopped ? 'stopped' : 'stop ignored, not running here'}`);
      return;
    }
    const id = `${message.partition}:${message.offset}`;
    const owned = this.owned.get(streamId);
    if (owned) {
      // Read again after a rebalance left the partition here: the run goes on, and so does
      // the hold on its command.
      if (owned.command === id) this.holdUntilClosed(streamId, id, message);
      else this.log(`${streamId}: already running`);
      return;
    }
    // Statuses published before this command was read decide what it still asks for.
    await this.ledgerSubscription!.caughtUp();
    const decision = this.ledger.decide(streamId, id, command.requestId);
    if (decision.action === 'skip') {
      this.log(`${streamId}: command ${id} needs nothing (${decision.reason})`);
      return;
    }
    const request = this.options.requestFor(command);
    this.supervisor.start({
      ...request,
      headers: {
        ...request.headers,
        [COMMAND_HEADER]: id,
        ...(command.requestId ? { [REQUEST_HEADER]: command.requestId } : {}),
      },
      ...(decision.action === 'resume'
        ? { resume: { atSec: decision.atSec, headers: decision.headers } }
        : {}),
    });
    this.owned.set(streamId, { partition: message.partition, command: id });
    this.holdUntilClosed(streamId, id, message);
    this.log(
      `${streamId}: ${decision.action === 'resume' ? `resumed at ${decision.atSec.toFixed(1)} s` : 'started'} (${redactUrl(command.source)})`,
    );
  }

  /** The command stays uncommitted while its stream runs; a hand-over leaves it so. */
  private holdUntilClosed(streamId: string, id: string, message: BusMessage<unknown>): void {
    const release = message.hold();
    void this.supervisor.whenDone(streamId).then((outcome) => {
      if (this.owned.get(streamId)?.command === id) this.owned.delete(streamId);
      if (outcome === 'closed') release();
    });
  }

  /** Streams whose commands went to another replica are its to run now. */
  private keepOnly(partitions: readonly number[]): void {
    for (const [streamId, { partition }] of this.owned) {
      if (partitions.includes(partition)) continue;
      this.owned.delete(streamId);
      void this.supervisor.handOver(streamId);
      this.log(`${streamId}: handed over (partition ${partition} moved)`);
    }
  }

  private log(message: string): void {
    this.options.log?.(message);
  }
}
