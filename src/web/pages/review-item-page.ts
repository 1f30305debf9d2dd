import { reviewErrorMessage, type ReviewErrorCode } from '../../requests/review-actions';
import type { HistoryEntry, RequestRecord } from '../../requests/request-store';
import type { AccountStatus } from '../../queue/rebuild-queue';
import { formatTime, html, type SafeHtml } from '../html';
import { page, type PageContext } from '../layout';

export interface ReviewItemView {
  record: RequestRecord;
  history: HistoryEntry[];
  accountStatus: AccountStatus | null;
  done?: 'approved' | 'rejected' | 'reassigned';
  error?: ReviewErrorCode;
}

const DONE: Record<NonNullable<ReviewItemView['done']>, string> = {
  approved: 'Approved: the account is at the front of the rebuild queue.',
  rejected: 'Rejected.',
  reassigned: 'Reassigned and approved for the new account.',
};

export function reviewItemPage(view: ReviewItemView, ctx: PageContext): string {
  const { record: r } = view;
  const body = html`<p><a href="/review">← review list</a></p>
<h1>${r.id} <span class="tag ${r.reason}">${r.reason}</span> <span class="tag ${r.review ?? ''}">${r.review ?? 'not a review item'}</span></h1>
${view.done ? html`<div class="flash ok" role="status">${DONE[view.done]}</div>` : ''}
${view.error ? html`<div class="flash error" role="alert">Not done: ${reviewErrorMessage(view.error)}.</div>` : ''}
<dl class="facts">
  <dt>Received</dt><dd>${formatTime(r.received)}</dd>
  <dt>From</dt><dd>${r.from}</dd>
  <dt>Envelope sender</dt><dd>${r.envelopeFrom || html`<span class="muted">&lt;&gt; (null)</span>`}</dd>
  <dt>Subject</dt><dd>${r.subject}</dd>
  <dt>Account claimed</dt><dd>${r.account ?? html`<span class="muted">none</span>`}</dd>
  <dt>Account state</dt><dd>${view.accountStatus ? accountState(view.accountStatus) : html`<span class="muted">—</span>`}</dd>
  <dt>Authentication</dt><dd>${r.auth || html`<span class="muted">not recorded</span>`}</dd>
  <dt>Message-ID</dt><dd class="mono">${r.messageId ?? ''}</dd>
  <dt>Connection</dt><dd>${r.remoteAddress} (HELO ${r.helo})</dd>
  <dt>Raw message</dt><dd><a href="/review/${r.id}/raw">download ${r.id}.eml</a></dd>
</dl>
${r.review === 'open' ? actions(view, ctx.csrf) : ''}
<h2>Decision</h2>
<pre>${JSON.stringify(r.decision, null, 2)}</pre>
<h2>History</h2>
<table><thead><tr><th>When</th><th>Who</th><th>What</th><th>Detail</th></tr></thead><tbody>
${view.history.map((h) => html`<tr><td class="mono">${formatTime(h.at)}</td><td>${h.by}</td><td>${h.action}</td><td>${h.detail ?? ''}</td></tr>`)}
</tbody></table>
<h2>Text</h2>
<pre>${r.text || '(no text)'}</pre>
<h2>Headers</h2>
<pre>${r.headerBlock}</pre>`;
  return page(r.id, body, { ...ctx, section: 'review' });
}

function accountState(s: AccountStatus): SafeHtml {
  return html`<span class="tag ${s.state}">${s.state}</span>${s.position !== null ? html` position ${s.position}` : ''}`;
}

function actions(view: ReviewItemView, csrf: string): SafeHtml {
  const r = view.record;
  const canApprove = r.account !== null && r.reason !== 'not-a-request';
  const silent = r.reason === 'forged' || r.reason === 'not-a-request';
  return html`<h2>Decide</h2>
<div class="actions">
  <form method="post" action="/review/${r.id}/approve">
    <input type="hidden" name="_csrf" value="${csrf}">
    <strong>Approve</strong>
    <span class="muted">${canApprove ? html`Queue <b>${r.account}</b> at priority${r.reason === 'forged' ? ' (no reply: the sender failed authentication)' : ' and send a confirmation'}.` : 'No account to approve: reassign instead.'}</span>
    <button type="submit"${canApprove ? '' : html` disabled`}>Approve</button>
  </form>
  <form method="post" action="/review/${r.id}/reject">
    <input type="hidden" name="_csrf" value="${csrf}">
    <strong>Reject</strong>
    ${silent ? html`<span class="muted">No reply is sent for ${r.reason} items.</span>` : html`<textarea name="message" maxlength="2000" placeholder="Optional message to the sender"></textarea>`}
    <button type="submit" class="danger">Reject</button>
  </form>
  <form method="post" action="/review/${r.id}/reassign">
    <input type="hidden" name="_csrf" value="${csrf}">
    <strong>Reassign</strong>
    <input type="text" name="account" placeholder="account@example.com" required aria-label="Account">
    <button type="submit" class="secondary">Approve for this account</button>
  </form>
</div>`;
}
