import { html } from '../html';
import { page, type PageContext } from '../layout';

/** A page that only says something: not found, refused. */
export function messagePage(title: string, text: string, ctx?: PageContext): string {
  return page(title, html`<h1>${title}</h1><p>${text}</p><p><a href="/review">Back to the review list</a></p>`, ctx);
}
