import type { AccountStatus } from '../../queue/rebuild-queue';
import { html } from '../html';
import { page, type PageContext } from '../layout';

export interface StatusView {
  input: string;
  /** Null when nothing was asked yet or the input is not an account name. */
  status: AccountStatus | null;
  known: boolean;
  requestIds: string[];
}

export function statusPage(view: StatusView, ctx: PageContext): string {
  const s = view.status;
  const body = html`<h1>Account status</h1>
<form class="filters" method="get" action="/status">
  <input type="search" name="account" value="${view.input}" placeholder="account@example.com" aria-label="Account" size="32" required>
  <button type="submit">Look up</button>
</form>
${view.input && !s ? html`<div class="flash error">That is not a valid account name.</div>` : ''}
${s
    ? html`<dl class="facts">
  <dt>Account</dt><dd>${s.account}${view.known ? '' : html` <span class="tag failed">not in the directory</span>`}</dd>
  <dt>State</dt><dd><span class="tag ${s.state}" id="account-state">${s.state}</span></dd>
  <dt>Position</dt><dd>${s.position ?? '—'}</dd>
  <dt>Requests</dt><dd>${view.requestIds.length ? view.requestIds.map((id) => html`<a class="mono" href="/review/${id}">${id}</a> `) : html`<span class="muted">none</span>`}</dd>
</dl>`
    : ''}`;
  return page('Account status', body, { ...ctx, section: 'status' });
}
