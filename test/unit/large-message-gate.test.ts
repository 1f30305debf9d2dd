import { LargeMessageGate } from '../../src/intake/large-message-gate';

describe('the large-message gate', () => {
  test('lets as many large messages through as it has slots, and the next one when a slot frees', async () => {
    const gate = new LargeMessageGate(2, 1024);
    const first = await gate.acquire();
    await gate.acquire();
    let thirdIn = false;
    const third = gate.acquire().then((release) => {
      thirdIn = true;
      return release;
    });
    await new Promise((r) => setImmediate(r));
    expect(thirdIn).toBe(false);
    first!();
    await third;
    expect(thirdIn).toBe(true);
  });

  test('releasing twice frees one slot only', async () => {
    const gate = new LargeMessageGate(1, 1024);
    const release = await gate.acquire();
    release!();
    release!();
    await gate.acquire();
    let secondIn = false;
    void gate.acquire().then(() => {
      secondIn = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(secondIn).toBe(false);
  });

  test('a message that waits too long for a slot is turned away, and the slot stays with its holder', async () => {
    const gate = new LargeMessageGate(1, 1024);
    const held = await gate.acquire();
    expect(await gate.acquire(50)).toBeNull();
    held!();
    expect(await gate.acquire(50)).not.toBeNull();
  });
});
