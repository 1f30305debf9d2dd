import { isValidAccount, normalizeAccount } from '../../src/accounts/account-name';

describe('an account name has a strict shape before it goes anywhere', () => {
  test.each([
    ['jdoe@example.com', 'jdoe@example.com'],
    ['JDoe@Example.COM', 'jdoe@example.com'],
    ['  alice@example.com  ', 'alice@example.com'],
    ['john.doe+imap@mail.example.co.uk', 'john.doe+imap@mail.example.co.uk'],
    ['walter_w@example.com', 'walter_w@example.com'],
    ['a-b@x-y.example', 'a-b@x-y.example'],
    ['0day@example.com', '0day@example.com'],
    ['x@localhost', 'x@localhost'],
  ])('%p is the account %p', (input, expected) => {
    expect(normalizeAccount(input)).toBe(expected);
  });

  test.each([
    ['a leading dash, which a command would read as an option', '-rf@example.com'],
    ['a leading dot', '.jdoe@example.com'],
    ['a leading plus', '+jdoe@example.com'],
    ['no @', 'jdoe'],
    ['two @', 'jdoe@example.com@evil.example'],
    ['an empty local part', '@example.com'],
    ['an empty domain', 'jdoe@'],
    ['a space inside', 'j doe@example.com'],
    ['a tab inside', 'jdoe\t@example.com'],
    ['a newline inside', 'jdoe@example.com\nreboot'],
    ['a semicolon', 'jdoe;reboot@example.com'],
    ['command substitution', '$(reboot)@example.com'],
    ['backquotes', '`id`@example.com'],
    ['a pipe', 'jdoe|cat@example.com'],
    ['an ampersand', 'jdoe&@example.com'],
    ['a redirection', 'jdoe>x@example.com'],
    ['a quote', "jdoe'@example.com"],
    ['a glob', 'j*@example.com'],
    ['a path', '../../etc/passwd@example.com'],
    ['a domain starting with a dash', 'jdoe@-example.com'],
    ['a domain ending with a dot', 'jdoe@example.com.'],
    ['an empty domain label', 'jdoe@example..com'],
    ['non-ASCII letters', 'jürgen@example.com'],
    ['a NUL byte', 'jdoe\0@example.com'],
    ['a local part over 64 characters', `${'a'.repeat(65)}@example.com`],
    ['over 254 characters in all', `a@${Array.from({ length: 5 }, () => 'b'.repeat(60)).join('.')}.com`],
    ['nothing', ''],
  ])('%s is refused (%p)', (_why, input) => {
    expect(normalizeAccount(input)).toBeNull();
  });

  test('isValidAccount accepts only the normalised form', () => {
    expect(isValidAccount('jdoe@example.com')).toBe(true);
    expect(isValidAccount('JDoe@example.com')).toBe(false);
    expect(isValidAccount(' jdoe@example.com')).toBe(false);
  });
});
