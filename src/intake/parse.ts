/**
 * mailparser → the few fields the flow uses. The only file that knows mailparser.
 * CONTRACT (implementation pending): see ParsedMessage.
 */

export interface Mailbox {
  /** Lower-cased address, or '' when the header had no usable address. */
  address: string;
  name: string;
}

export interface ParsedMessage {
  /** Message-ID without angle brackets, or null. */
  messageId: string | null;
  /** First mailbox of From, or null when missing or unparseable. */
  from: Mailbox | null;
  /** Decoded subject (RFC 2047), '' when missing. */
  subject: string;
  /** The body's own text: the plain part, else the HTML part turned into text. Capped in length. */
  text: string;
  /** Header values by lower-cased name; a repeated header keeps every value in order. */
  headers: ReadonlyMap<string, string[]>;
  /** Raw header block as received (for staff), capped in length. */
  headerBlock: string;
  /** True when mailparser had to guess (missing boundary, broken encoding...). */
  malformed: boolean;
}

export async function parseMessage(_raw: Buffer): Promise<ParsedMessage> {
  throw new Error('not implemented');
}
