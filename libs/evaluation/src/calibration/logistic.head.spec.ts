import { logisticHead, logit } from '@app/models';
import { fitLogistic } from './logistic.head';

describe('fitLogistic', () => {
  it('learns which label logit carries the class, as a head the label-group mapper runs', () => {
    // Feature 0 separates the classes; feature 1 is noise shared by both.
    const rows: number[][] = [];
    const labels: (0 | 1)[] = [];
    for (let i = 0; i < 200; i++) {
      const positive = i % 4 === 0;
      rows.push([
        logit(positive ? 0.6 + (i % 7) / 20 : 0.02 + (i % 5) / 50),
        logit(0.1 + (i % 9) / 20),
      ]);
      labels.push(positive ? 1 : 0);
    }
    const head = fitLogistic(rows, labels, 1);
    expect(head.weights[0]).toBeGreaterThan(0);
    expect(Math.abs(head.weights[1])).toBeLessThan(head.weights[0] / 5);
    expect(logisticHead(head, [0.8, 0.3])).toBeGreaterThan(0.5);
    expect(logisticHead(head, [0.05, 0.3])).toBeLessThan(0.5);
  });

  it('shrinks weights as C falls (stronger regularisation)', () => {
    const rows = [[-3], [-2], [2], [3], [-2.5], [2.5]];
    const labels: (0 | 1)[] = [0, 0, 1, 1, 0, 1];
    expect(fitLogistic(rows, labels, 0.01).weights[0]).toBeLessThan(
      fitLogistic(rows, labels, 1).weights[0],
    );
  });

  it('refuses data of one class only', () => {
    expect(() => fitLogistic([[1], [2]], [1, 1], 1)).toThrow('both positive and negative');
  });
});
