import { describe, expect, it } from 'vitest';
import { TransferSlots } from '../src/apply/transfer-slots.js';

/** A promise with its resolve, to hold a piece of work open. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => undefined as void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('TransferSlots', () => {
  it('runs at most `limit` pieces of work at once and starts the waiting ones in arrival order', async () => {
    const slots = new TransferSlots(2);
    const gates = [gate(), gate(), gate(), gate()];
    const started: number[] = [];
    let peak = 0;
    const runs = gates.map((g, i) =>
      slots.run(async () => {
        started.push(i);
        peak = Math.max(peak, slots.running);
        await g.promise;
        return i;
      }),
    );
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    gates[1]?.open();
    await runs[1];
    expect(started).toEqual([0, 1, 2]);
    gates[0]?.open();
    gates[2]?.open();
    gates[3]?.open();
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3]);
    expect(started).toEqual([0, 1, 2, 3]);
    expect(peak).toBe(2);
    expect(slots.running).toBe(0);
  });

  it('a piece of work that fails frees its slot', async () => {
    const slots = new TransferSlots(1);
    await expect(slots.run(() => Promise.reject(new Error('store down')))).rejects.toThrow('store down');
    expect(slots.running).toBe(0);
    expect(await slots.run(() => Promise.resolve('next'))).toBe('next');
  });

  it('a waiter whose signal aborts (the service closing) stops waiting at once, never runs its work, and the slot goes to the next waiter', async () => {
    const slots = new TransferSlots(1);
    const held = gate();
    const holder = slots.run(() => held.promise);
    const closing = new AbortController();
    let ranAborted = false;
    const aborted = slots.run(async () => {
      ranAborted = true;
    }, closing.signal);
    const next = slots.run(() => Promise.resolve('next'));
    closing.abort(new Error('consumer closing'));
    const outcome = await Promise.race([aborted.then(() => 'ran', (err: unknown) => err), new Promise((resolve) => setTimeout(() => resolve('still waiting'), 200))]);
    expect(outcome).toMatchObject({ message: 'consumer closing' });
    held.open();
    await holder;
    expect(await next).toBe('next');
    expect(ranAborted).toBe(false);
    expect(slots.running).toBe(0);
  });

  it('work whose signal aborted before it asked for a slot is refused without taking one', async () => {
    const slots = new TransferSlots(1);
    let ran = false;
    await expect(slots.run(async () => void (ran = true), AbortSignal.abort(new Error('consumer closing')))).rejects.toThrow('consumer closing');
    expect(ran).toBe(false);
    expect(slots.running).toBe(0);
  });

  it('refuses a limit that is not a positive integer', () => {
    expect(() => new TransferSlots(0)).toThrow(/positive integer/);
  });
});
