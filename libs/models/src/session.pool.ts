import type { Feed, ModelSession, TensorData } from './model-session';

/**
 * Several sessions of one model, each on its own worker thread, behind one ModelSession: a run
 * goes to the session with the fewest runs in flight. The detector is the stage that saturates
 * first with many cameras (one frame at a time on one worker); a second worker lets frames of
 * different streams run side by side where the cores have room.
 */
export class SessionPool implements ModelSession {
  private readonly inFlight: number[];

  constructor(private readonly sessions: readonly ModelSession[]) {
    if (sessions.length === 0) throw new Error('a session pool needs at least one session');
    this.inFlight = sessions.map(() => 0);
  }

  get inputNames(): readonly string[] {
    return this.sessions[0]!.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.sessions[0]!.outputNames;
  }

  get executionProvider(): ModelSession['executionProvider'] {
    return this.sessions[0]!.executionProvider;
  }

  async run(feeds: Record<string, Feed>): Promise<Record<string, TensorData>> {
    let chosen = 0;
    for (let i = 1; i < this.sessions.length; i++) {
      if (this.inFlight[i]! < this.inFlight[chosen]!) chosen = i;
    }
    this.inFlight[chosen]!++;
    try {
      return await this.sessions[chosen]!.run(feeds);
    } finally {
      this.inFlight[chosen]!--;
    }
  }

  async release(): Promise<void> {
    await Promise.all(this.sessions.map((session) => session.release()));
  }
}
