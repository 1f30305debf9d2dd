import type { StateCounts } from '../../queue/rebuild-queue';
import { formatTime, html } from '../html';
import { page, type PageContext } from '../layout';

export interface ProgressView {
  counts: StateCounts;
  ratePerMinute: number;
  now: number;
}

export function progressPage(view: ProgressView, ctx: PageContext): string {
  const { counts, ratePerMinute } = view;
  const waiting = counts.queued + counts.prioritized;
  const minutes = ratePerMinute > 0 ? waiting / ratePerMinute : null;
  const card = (label: string, n: number) => html`<div class="card"><div class="muted">${label}</div><div class="n">${n.toLocaleString('en')}</div></div>`;
  const body = html`<h1>Rebuild progress</h1>
<div class="cards">
  ${card('prioritized', counts.prioritized)}${card('queued (backlog)', counts.queued)}${card('rebuilding', counts.rebuilding)}${card('done', counts.done)}${card('failed', counts.failed)}
</div>
<h2>Rate and estimate</h2>
<dl class="facts">
  <dt>Rebuilds per minute</dt><dd>${ratePerMinute.toFixed(1)} <span class="muted">(last 15 minutes)</span></dd>
  <dt>Waiting</dt><dd>${waiting.toLocaleString('en')}</dd>
  <dt>Backlog finished</dt><dd>${minutes === null ? (waiting === 0 ? 'nothing waiting' : 'unknown until rebuilds finish') : html`in ${duration(minutes)}, about ${formatTime(view.now + minutes * 60_000)}`}</dd>
</dl>`;
  return page('Progress', body, { ...ctx, section: 'progress' });
}

function duration(minutes: number): string {
  if (minutes < 60) return `${Math.ceil(minutes)} min`;
  const hours = minutes / 60;
  if (hours < 48) return `${Math.floor(hours)} h ${Math.ceil(minutes % 60)} min`;
  return `${(hours / 24).toFixed(1)} days`;
}
