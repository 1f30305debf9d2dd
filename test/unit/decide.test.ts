import { decide, type DecideInput, type Decision } from '../../src/intake/decide';

const request = { kind: 'request' } as const;
const one = { kind: 'one', account: 'jdoe@example.com', source: 'named' } as const;
const verified: Partial<DecideInput> = { classification: request, claim: one, rateLimit: 'within', authentic: true, entitled: true };

const cases: [string, Partial<DecideInput>, Partial<Decision>][] = [
  ['automatic mail is recorded and never answered', { classification: { kind: 'automatic', rule: 'list-header' } }, { kind: 'ignore', rule: 'list-header' }],
  ['a non-request is kept for staff when nothing forwards it', { classification: { kind: 'other' } }, { kind: 'review', reason: 'not-a-request', reply: null }],
  ['a non-request is forwarded when FORWARD_TO is set', { classification: { kind: 'other' }, forwarding: true }, { kind: 'forward' }],
  ['a request naming no account asks how to write one', { ...verified, claim: { kind: 'none' } }, { kind: 'review', reason: 'no-account', reply: 'need-account' }],
  ['a request naming an unknown account says so', { ...verified, claim: { kind: 'unknown', candidates: ['nobody@example.com'] } }, { kind: 'review', reason: 'unknown-account', account: 'nobody@example.com', reply: 'unknown-account' }],
  ['a request naming several accounts waits for staff', { ...verified, claim: { kind: 'several', accounts: ['a@example.com', 'b@example.com'] } }, { kind: 'review', reason: 'ambiguous', reply: 'pending-review' }],
  ['a sender who may not ask for the account waits for staff', { ...verified, entitled: false }, { kind: 'review', reason: 'not-entitled', reply: 'pending-review' }],
  ['a forged sender goes to staff and gets no reply', { ...verified, authentic: false }, { kind: 'review', reason: 'forged', reply: null }],
  ['a forged sender naming no account still gets no reply', { ...verified, authentic: false, claim: { kind: 'none' } }, { kind: 'review', reason: 'forged', reply: null }],
  ['a forged sender over the limit still gets no reply', { ...verified, authentic: false, rateLimit: 'first-over' }, { kind: 'review', reason: 'forged', reply: null }],
  ['the first request over the limit gets one notice', { ...verified, rateLimit: 'first-over' }, { kind: 'rate-limited', reply: 'rate-limited' }],
  ['later requests over the limit get silence', { ...verified, rateLimit: 'over' }, { kind: 'rate-limited', reply: null }],
  ['a verified request for an account not queued is prioritized', { ...verified, accountState: 'none' }, { kind: 'prioritize', account: 'jdoe@example.com', reply: 'confirmation' }],
  ['a verified request for a backlog account raises it', { ...verified, accountState: 'queued' }, { kind: 'prioritize', reply: 'confirmation' }],
  ['a verified request for a failed account tries again at the front', { ...verified, accountState: 'failed' }, { kind: 'prioritize', reply: 'confirmation' }],
  ['an account already prioritized is left as it is', { ...verified, accountState: 'prioritized' }, { kind: 'unchanged', reply: 'already-queued' }],
  ['an account being rebuilt is left as it is', { ...verified, accountState: 'rebuilding' }, { kind: 'unchanged', reply: 'in-progress' }],
  ['an account already rebuilt is left as it is', { ...verified, accountState: 'done' }, { kind: 'unchanged', reply: 'already-done' }],
];

describe('decide', () => {
  test.each(cases)('%s', (_name, input, expected) => {
    const decision = decide({ classification: request, forwarding: false, ...input } as DecideInput);
    expect(decision).toMatchObject(expected);
  });

  test('a request is never decided without the facts it needs', () => {
    expect(() => decide({ classification: request, forwarding: false })).toThrow(/claim/);
    expect(() => decide({ ...verified, forwarding: false } as DecideInput)).toThrow(/accountState/);
  });
});
