import type { RequestRecord } from '../../requests/request-store';
import { REVIEW_REASONS } from '../../requests/review-actions';
import { formatTime, html, query } from '../html';
import { page, type PageContext } from '../layout';


export interface ReviewListView {
  items: RequestRecord[];
  total: number;
  reason: string;
  search: string;
  status: 'open' | 'all';
  page: number;
  pageSize: number;
}

export function reviewListPage(view: ReviewListView, ctx: PageContext): string {
  const pages = Math.max(1, Math.ceil(view.total / view.pageSize));
  const link = (p: number) => `/review${query({ reason: view.reason, q: view.search, status: view.status === 'all' ? 'all' : undefined, page: p > 1 ? p : undefined })}`;
  const rows = view.items.map(
    (r) => html`<tr>
  <td class="mono">${formatTime(r.received)}</td>
  <td class="mono"><a href="/review/${r.id}">${r.id}</a></td>
  <td><span class="tag ${r.reason}">${r.reason}</span></td>
  <td>${r.account ?? html`<span class="muted">none</span>`}</td>
  <td>${r.from || r.envelopeFrom}</td>
  <td>${r.subject}</td>
  ${view.status === 'all' ? html`<td><span class="tag ${r.review ?? ''}">${r.review}</span></td>` : ''}
</tr>`,
  );
  const body = html`<h1>Review <span class="muted">· ${view.total} ${view.status === 'all' ? 'items' : 'open'}</span></h1>
<form class="filters" method="get" action="/review">
  <select name="reason" aria-label="Reason">
    <option value="">every reason</option>
    ${REVIEW_REASONS.map((r) => html`<option value="${r}"${view.reason === r ? html` selected` : ''}>${r}</option>`)}
  </select>
  <input type="search" name="q" value="${view.search}" placeholder="account or sender" aria-label="Search account or sender" size="28">
  <select name="status" aria-label="Status">
    <option value="open">open</option>
    <option value="all"${view.status === 'all' ? html` selected` : ''}>open and decided</option>
  </select>
  <button type="submit">Filter</button>
  ${view.reason || view.search || view.status === 'all' ? html`<a href="/review">clear</a>` : ''}
</form>
<table>
  <thead><tr><th>Received</th><th>Request</th><th>Reason</th><th>Account claimed</th><th>Sender</th><th>Subject</th>${view.status === 'all' ? html`<th>Status</th>` : ''}</tr></thead>
  <tbody>${rows.length ? rows : html`<tr><td colspan="7" class="muted">Nothing to review.</td></tr>`}</tbody>
</table>
${pages > 1
    ? html`<div class="pager">${view.page > 1 ? html`<a href="${link(view.page - 1)}" rel="prev">← newer</a>` : ''}<span class="muted">page ${view.page} of ${pages}</span>${view.page < pages ? html`<a href="${link(view.page + 1)}" rel="next">older →</a>` : ''}</div>`
    : ''}`;
  return page('Review', body, { ...ctx, section: 'review' });
}
