import { isReplyableAddress } from '../../src/notify/notice';

describe('who may be sent a notice', () => {
  test.each([
    ['jdoe@example.com', true],
    ['John.Doe+rebuild@mail.example.org', true],
    ['a@x, b@y', false],
    ['a@x>\r\nRCPT TO:<b@y', false],
    ['jd\uFFFDoe@example.com', false],
    ['no-at-sign', false],
    ['two@@example.com', false],
    ['', false],
  ])('%j → %s', (address, expected) => {
    expect(isReplyableAddress(address)).toBe(expected);
  });
});
