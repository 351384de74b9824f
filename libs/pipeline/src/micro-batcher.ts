/**
 * Collects concurrent requests into batches without adding latency: the first request of an
 * idle batcher runs on the next tick with whatever arrived meanwhile, and requests arriving
 * while a batch runs form the next batch. Under load batches grow (up to maxBatch), at rest a
 * request waits for nothing.
 */
export class MicroBatcher<In, Out> {
  private queue: { input: In; resolve: (out: Out) => void; reject: (error: unknown) => void }[] =
    [];
  private running = false;
  private scheduled = false;

  constructor(
    private readonly runBatch: (inputs: In[]) => Promise<Out[]>,
    private readonly maxBatch: number,
  ) {}

  submit(input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      try {
        const outputs = await this.runBatch(batch.map((item) => item.input));
        batch.forEach((item, i) => item.resolve(outputs[i]));
      } catch (error) {
        batch.forEach((item) => item.reject(error));
      }
    }
    this.running = false;
  }
}
